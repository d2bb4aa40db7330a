"""Nagios 4: never silent, never a storm, exact across downtimes (issue 18, items 1, 2, 4).

A real Nagios 4 runs the shipped contrib configuration and the services
pop3_ipmon_config generates (F=3, M=3; Up 9 s, Down 3 s, Lost 7 s), against
a real Dovecot that is killed for one outage. The recording notification
command (pd-nagios-like, tests/support/pd_recorder.py) gives the exact
PROBLEM timeline, Nagios' performance data file every test (with its
downtime depth), pop3_ipmon.log the handler's reasons.

  normal    the control: PROBLEM 1, 2, 3 at failures 3, 6, 9, nothing after
  noobsess  after PROBLEM 1 Nagios stops running the handler for it
            (STOP_OBSESSING_OVER_SVC: an ocsp_command removed, or a site's
            own in its place): PROBLEM 2 and 3 still go, by Nagios alone, no
            later than one test after failures 6 and 9, none after
  badvar    after PROBLEM 1 a custom variable becomes a non-number at run
            time: the handler refuses every run, says why in pop3_ipmon.log,
            and Nagios goes on at its own pace (no storm), stopping at 3
  dthard    a downtime over failures 1 to 4 (the SOFT-to-HARD change): no
            PROBLEM in it; after it PROBLEM 1, 2, 3 at its failures 3, 6, 9
  dtmid     a downtime starting after PROBLEM 1 (in the middle of Down):
            after it the count starts at 1 again: PROBLEM 2 and 3 (Nagios
            numbers an outage's PROBLEMs on) at its failures 3 and 6
  dtlost    a downtime starting after PROBLEM 3 (Lost) and ending in Lost:
            nothing after it, M was sent

The second test breaks the handler for every service at once, after
PROBLEM 1: its state directory made unusable, or the command file gone.

The third changes the kind of failure once PROBLEM 3 (M) is out, as a
starved machine or a server coming back slowly does: Nagios notifies on a
HARD change from one problem state to another at once, past its escalation's
"no more" (base/checks.c clears it), unless the problem is acknowledged.
  unknown   CRITICAL, then one UNKNOWN (a plugin on a starved machine that
            its backstop timeout ends), then CRITICAL again
  warning   CRITICAL, then one WARNING (answering, too slowly), then CRITICAL
Both: PROBLEM 1, 2, 3 and nothing more; one RECOVERY; the next outage
counts from 1 (the hold went with the recovery).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from check_pop3_ipmon.recovery import nagios as recovery_nagios
from tests.alerting.test_engines import BIN, CONTRIB, HOST, generate, nagios_objects
from tests.support import pd_recorder
from tests.support.dovecot import Dovecot
from tests.support.integration import wait_until
from tests.support.nagios import Nagios, main_settings

pytestmark = pytest.mark.engines

UP, DOWN, LOST, F, M = 9, 3, 7, 3, 3

DEFINITION = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 1
up_interval = {up}
down_interval = {down}
lost_interval = {lost}
failures_per_alert = {f}
max_alerts = {m}
contacts = recorder
"""

TEMPLATE = "$LASTSERVICECHECK$\\t$HOSTNAME$\\t$SERVICEDESC$\\t$SERVICESTATE$\\t$SERVICEDOWNTIME$"


@dataclass
class Sample:
    time: float
    ok: bool
    downtime: bool


class Run:
    def __init__(self, nagios: Nagios, notes: Path, perfdata: Path) -> None:
        self.nagios, self.notes_file, self.perfdata = nagios, notes, perfdata

    def tests(self, service: str) -> list[Sample]:
        if not self.perfdata.exists():
            return []
        out = []
        for line in self.perfdata.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 5 and fields[2] == service:
                out.append(Sample(float(fields[0]), fields[3] == "OK", fields[4] != "0"))
        return out

    def states(self, service: str) -> list[str]:
        """The state of each test, in order (Nagios' own word)."""
        if not self.perfdata.exists():
            return []
        fields = [line.split("\t") for line in self.perfdata.read_text().splitlines()]
        return [f[3] for f in fields if len(f) == 5 and f[2] == service]

    def failures(self, service: str, since: float) -> list[Sample]:
        return [t for t in self.tests(service) if not t.ok and t.time >= since]

    def problems(self, service: str) -> list[tuple[int, float]]:
        return [
            (r["number"], r["time"])
            for r in pd_recorder.read(self.notes_file)
            if r["service"] == f"{HOST}!{service}" and r["type"] == "PROBLEM"
        ]

    def command(self, line: str) -> None:
        self.nagios.command(line)

    def downtime(self, service: str, seconds: int) -> float:
        now = int(time.time())
        self.command(
            f"SCHEDULE_SVC_DOWNTIME;{HOST};{service};{now};{now + seconds};1;0;{seconds};t;dt"
        )
        return now + seconds

    def after_downtime(self, service: str) -> float:
        """Just after the last test Nagios ran in the service's downtime."""
        return max(t.time for t in self.tests(service) if t.downtime) + 0.5

    def handler_log(self) -> str:
        path = self.nagios.log.parent / "pop3_ipmon.log"
        return path.read_text() if path.exists() else ""


def start_nagios(tmp_path: Path, dovecot: Dovecot, services: list[str]) -> Run:
    definition = tmp_path / "monitors.ini"
    text = DEFINITION.format(host=HOST, port=dovecot.port, up=UP, down=DOWN, lost=LOST, f=F, m=M)
    definition.write_text(text + "".join(f"\n[{name}]\n" for name in services))
    notes, perfdata = tmp_path / "notifications.jsonl", tmp_path / "perfdata"
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        nagios_objects(tmp_path, notes),
        generate("nagios", definition, tmp_path / "services.cfg", "--interval-length", "1"),
    ]
    settings = {
        "process_performance_data": "1",
        "service_perfdata_file": str(perfdata),
        "service_perfdata_file_template": TEMPLATE,
        "service_perfdata_file_mode": "a",
        "service_perfdata_file_processing_interval": "0",
        **main_settings(CONTRIB / "nagios-main" / "pop3_ipmon_main.cfg"),
    }
    nagios = Nagios(tmp_path / "nagios", files, resource={"USER1": str(BIN)}, settings=settings)
    verify = nagios.verify()
    assert "Total Errors:   0" in verify.stdout, verify.stdout
    assert "Total Warnings: 0" in verify.stdout, verify.stdout
    nagios.start()
    run = Run(nagios, notes, perfdata)
    for name in services:
        wait_until(lambda s=name: any(t.ok for t in run.tests(s)), 40, f"{name} OK")
    return run


@pytest.fixture
def stop_nagios() -> Iterator[list[Nagios]]:
    started: list[Nagios] = []
    yield started
    for nagios in started:
        nagios.stop()


def has_problem(run: Run, service: str, number: int) -> bool:
    return number in [n for n, _ in run.problems(service)]


def handled(run: Run, service: str, number: int) -> bool:
    """The handler has acted on the failure that sent PROBLEM `number`."""
    return any(
        f" INFO {HOST}!{service}: " in line and f"the engine sent alert {number} of" in line
        for line in run.handler_log().splitlines()
    )


def assert_timeline(run: Run, service: str, since: float, expected: list[tuple[int, int]]) -> None:
    """Each PROBLEM (number, failure k after `since`) went with failure k or,
    at most one test later (Nagios alone), with failure k + 1: and no other."""
    failures = [t for t in run.failures(service, since) if not t.downtime]
    problems = [(n, at) for n, at in run.problems(service) if at >= since]
    assert [n for n, _ in problems] == [n for n, _ in expected], (service, problems)
    for (number, sent), (_, k) in zip(problems, expected):
        # The PROBLEM left while Nagios handled failure k or k + 1.
        assert failures[k - 1].time <= sent, (service, number, k, failures[k - 1], sent)
        assert sent < failures[k + 1].time + 1, (service, number, k, sent, failures[k + 1])


def assert_no_storm(run: Run, service: str) -> None:
    """No PROBLEM before F more failures than the last one (ipMonitor's pace):
    between two, F tests started after the first went out, the second's own
    included."""
    times = [at for _, at in run.problems(service)]
    starts = [t.time for t in run.tests(service) if not t.ok]
    between = [len([s for s in starts if a < s <= b]) for a, b in zip(times, times[1:])]
    assert all(count >= F for count in between), (service, between, times)


def test_nagios_alone_goes_on_and_downtimes_count_afresh(
    tmp_path: Path, dovecot: Dovecot, stop_nagios: list[Nagios]
) -> None:
    started = time.monotonic()
    services = ["normal", "noobsess", "badvar", "dthard", "dtmid", "dtlost"]
    run = start_nagios(tmp_path, dovecot, services)
    stop_nagios.append(run.nagios)
    killed = time.time() - 1
    # Failures 1 to 3 at least (in downtime the handler tests at Up): HARD in it.
    dthard_end = run.downtime("dthard", 34)
    dovecot.stop()

    # Each break comes once the handler has acted on PROBLEM 1's failure.
    wait_until(lambda: handled(run, "noobsess", 1), 60, "noobsess's PROBLEM 1")
    run.command(f"STOP_OBSESSING_OVER_SVC;{HOST};noobsess")
    wait_until(lambda: handled(run, "badvar", 1), 30, "badvar's PROBLEM 1")
    run.command(f"CHANGE_CUSTOM_SVC_VAR;{HOST};badvar;POP3_IPMON_FAILURES_PER_ALERT;three")
    wait_until(lambda: has_problem(run, "dtmid", 1), 30, "dtmid's PROBLEM 1")
    dtmid_end = run.downtime("dtmid", 10)
    wait_until(lambda: has_problem(run, "dtlost", 3), 60, "dtlost's PROBLEM 3")
    dtlost_end = run.downtime("dtlost", 10)

    def enough() -> bool:
        return all(
            len(run.failures(s, since)) >= n
            for s, since, n in (
                ("normal", killed, 13),
                ("noobsess", killed, 13),
                ("badvar", killed, 13),
                ("dthard", dthard_end, 12),
                ("dtmid", dtmid_end, 10),
                ("dtlost", dtlost_end, 5),
            )
        )

    wait_until(enough, 240, "enough failures for every timeline")
    dovecot.start()
    dthard_end = run.after_downtime("dthard")
    dtmid_end = run.after_downtime("dtmid")
    dtlost_end = run.after_downtime("dtlost")
    print({s: run.problems(s) for s in services})

    normal = [(1, 3), (2, 6), (3, 9)]
    assert_timeline(run, "normal", killed, normal)
    assert_timeline(run, "noobsess", killed, normal)
    assert_timeline(run, "badvar", killed, normal)
    for service in services:
        assert_no_storm(run, service)
    # The reason, where the administrator looks: the handler's own log.
    assert "NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT" in run.handler_log()

    # dthard: HARD inside the downtime, nothing in it, then 1, 2, 3 afresh.
    in_dt = [t for t in run.failures("dthard", killed) if t.downtime]
    assert len(in_dt) >= F, in_dt
    assert all(at >= dthard_end for _, at in run.problems("dthard"))
    assert_timeline(run, "dthard", dthard_end, normal)
    # dtmid: alert 1 before; after it, counting from 1 again: Nagios'
    # numbers 2 and 3 at its failures 3 and 6, and no more (M in this outage).
    assert_timeline(run, "dtmid", dtmid_end, [(2, 3), (3, 6)])
    # dtlost: M sent before the downtime, nothing after.
    assert [n for n, at in run.problems("dtlost") if at >= dtlost_end] == []
    # The handler never claimed an alert Nagios did not send.
    for line in run.handler_log().splitlines():
        assert "held:" not in line or "dtlost" not in line, line
    print(f"nagios never-silent scenario took {time.monotonic() - started:.1f}s")


@pytest.mark.parametrize("breakage", ["state directory", "command file"])
def test_nagios_alone_goes_on_when_the_handler_cannot_act(
    tmp_path: Path, dovecot: Dovecot, stop_nagios: list[Nagios], breakage: str
) -> None:
    run = start_nagios(tmp_path, dovecot, ["broken"])
    stop_nagios.append(run.nagios)
    killed = time.time() - 1
    dovecot.stop()
    wait_until(lambda: handled(run, "broken", 1), 60, "the handler's run for PROBLEM 1")
    if breakage == "state directory":
        # Others may write it: the handler refuses it (exit 2), every run.
        (run.nagios.retention_file.parent / "pop3_ipmon").chmod(0o777)
        reason = "state directory"
    else:
        # Nagios reads its FIFO on; the handler finds nothing at the path.
        run.nagios.command_file.rename(run.nagios.command_file.with_name("moved.cmd"))
        reason = "command file"
    wait_until(lambda: len(run.failures("broken", killed)) >= 13, 150, "13 failures")
    dovecot.start()
    assert_timeline(run, "broken", killed, [(1, 3), (2, 6), (3, 9)])
    assert_no_storm(run, "broken")
    errors = [line for line in run.handler_log().splitlines() if " ERROR " in line]
    assert errors and all(reason in line for line in errors), errors


def recovered_once(run: Run, service: str) -> bool:
    notes = pd_recorder.read(run.notes_file)
    return any(r["service"] == f"{HOST}!{service}" and r["type"] == "RECOVERY" for r in notes)


def test_nagios_sends_nothing_past_m_when_the_failure_changes_kind(
    tmp_path: Path, dovecot: Dovecot, stop_nagios: list[Nagios]
) -> None:
    started = time.monotonic()
    # The other result comes as Nagios takes any (a passive one: Nagios 4
    # refuses CHANGE_SVC_CHECK_COMMAND since a security fix); the next
    # active test is CRITICAL again, a second change.
    kinds = {
        "unknown": ("UNKNOWN", 3, "POP3 UNKNOWN - Timeout: check execution aborted after 11s"),
        "warning": ("WARNING", 1, "POP3 WARNING - greeting after 4.203 s"),
    }
    run = start_nagios(tmp_path, dovecot, list(kinds))
    stop_nagios.append(run.nagios)
    killed = time.time() - 1
    dovecot.stop()
    injected = {}
    for name, (state, code, output) in kinds.items():
        wait_until(lambda s=name: handled(run, s, M), 90, f"{name}'s PROBLEM {M} handled")
        # Held: acknowledged in Nagios' status.dat, yet not an administrator's
        # acknowledgement for the recovery actions due at alert M.
        wait_until(
            lambda s=name: (
                run.nagios.service_status(HOST, s).get("problem_has_been_acknowledged") == "1"
            ),
            30,
            f"{name}'s hold in status.dat",
        )
        assert not recovery_nagios.acknowledged(run.nagios.status_file, HOST, name)
        run.command(f"PROCESS_SERVICE_CHECK_RESULT;{HOST};{name};{code};{output}")
        wait_until(lambda s=name, st=state: st in run.states(s), 30, f"{name}'s {state}")
        injected[name] = run.states(name).index(state)
    for name, (state, _, _) in kinds.items():
        wait_until(
            lambda s=name: "CRITICAL" in run.states(s)[injected[s] + 1 :],
            30,
            f"{name} CRITICAL after {state}",
        )
    dovecot.start()
    recovered = time.time()
    for name in kinds:
        wait_until(lambda s=name: recovered_once(run, s), 60, f"{name}'s RECOVERY")
    for name, (state, _, _) in kinds.items():
        # Nagios' own record: the HARD changes to the other problem state and back.
        changes = [a.state for a in run.nagios.service_alerts(HOST, name) if a.state_type == "HARD"]
        assert changes[:4] == ["CRITICAL", state, "CRITICAL", "OK"], (name, changes)
        assert [n for n, _ in run.problems(name)] == [1, 2, 3], (name, run.problems(name))
        assert_timeline(run, name, killed, [(1, 3), (2, 6), (3, 9)])
    notes = pd_recorder.read(run.notes_file)
    for name in kinds:
        types = [r["type"] for r in notes if r["service"] == f"{HOST}!{name}"]
        assert types == ["PROBLEM"] * 3 + ["RECOVERY"], (name, types)
    # The next outage counts from 1: the hold went with the recovery.
    dovecot.stop()
    for name in kinds:
        wait_until(
            lambda s=name: any(at >= recovered for _, at in run.problems(s)), 60, f"{name} again"
        )
        assert [n for n, at in run.problems(name) if at >= recovered] == [1], run.problems(name)
    dovecot.start()
    print(f"nagios failure-kind scenario took {time.monotonic() - started:.1f}s")
