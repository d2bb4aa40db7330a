"""ipMonitor's alerting, end to end, through a real Nagios 4's own model.

Icinga 2 needs no handler and has a timeline of its own (checks at Up in
HARD, reminders on its notification timer): tests/alerting/test_icinga2_native.py.

Nagios runs the shipped contrib configuration (plus the
nagios.cfg settings of contrib/nagios-main/pop3_ipmon_main.cfg on top of Debian's
stock values) and the services pop3_ipmon_config generates from one monitor
definition, the installed plugin against a real Dovecot, and the installed
handler. The notification command behaves like PagerDuty's pd-nagios: it
accepts only PROBLEM, ACKNOWLEDGEMENT and RECOVERY (anything else exits 2)
and records the type and the engine's notification number.

One outage (Dovecot killed, later restarted), then a second one:

  f3m3      F=3, M=3: HARD at failure 3; PROBLEM 1, 2, 3 at failures 3, 6, 9,
            then Lost (no more); one RECOVERY; the first test after it at Up
  f1m1      F=1, M=1: HARD and PROBLEM 1 at failure 1, then Lost; RECOVERY
  ack       F=1, M=3: PROBLEM 1, then acknowledged: ACKNOWLEDGEMENT, no
            further PROBLEM, RECOVERY
  dtrecover F=1, M=2: PROBLEM 1, 2; recovers inside a downtime: RECOVERY when
            the downtime ends (Icinga 2; Nagios 4.4.6 drops it: measured)
  downtime  in scheduled downtime throughout: nothing
  hostdown  F=1 on a host that is DOWN: the engine holds its notifications
  disabled  Enabled = no: never tested, never alerts
  f5m1      F=5, M=1: PROBLEM 1 and RECOVERY; in the short second outage
            (fewer than 5 failures) nothing at all: no alert, no recovery
  second outage: f3m3 and f1m1 count from 1 again (PROBLEM number 1)

Intervals are seconds: Up 7, Down 2, Lost 5. Nothing asserts that anything
happened fast: gaps are asserted from below (a slow machine only widens
them) and distinguish the three intervals.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import pytest

from tests.support import pd_recorder
from tests.support.dovecot import Dovecot
from tests.support.integration import wait_until
from tests.support.nagios import Nagios, main_settings, object_block

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
BIN = Path(sys.executable).parent
HOST, DOWN_HOST = "pop3-test", "dead-host"
DUMMY = "/usr/lib/nagios/plugins/check_dummy"  # monitoring-plugins-basic
UP, DOWN, LOST = 7, 2, 5
DOWNTIME = 12  # seconds of dtrecover's downtime, around Dovecot's restart
WATCHED = ("f3m3", "f1m1", "f5m1", "ack", "dtrecover", "downtime", "hostdown")

DEFINITION = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 0.8
up_interval = {up}
down_interval = {down}
lost_interval = {lost}
contacts = recorder

[f3m3]
name = POP3 with F=3; M=3 (ipMonitor's example)
failures_per_alert = 3
max_alerts = 3

[f1m1]
name = POP3 with F=1, M=1
failures_per_alert = 1
max_alerts = 1

[ack]
name = POP3 acknowledged after alert 1
failures_per_alert = 1
max_alerts = 3

[f5m1]
name = POP3 with F=5, M=1
failures_per_alert = 5
max_alerts = 1

[dtrecover]
name = POP3 recovering inside a downtime
failures_per_alert = 1
max_alerts = 2

[downtime]
name = POP3 in scheduled downtime
failures_per_alert = 3
max_alerts = 3

[hostdown]
name = POP3 on a host that is down
host = {down_host}
address =
failures_per_alert = 1
max_alerts = 3

[disabled]
name = POP3 not enabled
enabled = no
"""


@dataclass
class Check:
    time: float
    ok: bool


@dataclass
class Note:
    """One notification as the pd-nagios-like command accepted it."""

    service: str
    type: str
    number: int
    ipmon_state: str
    time: float


class Engine(Protocol):
    name: str
    notes_file: Path

    def checks(self, service: str) -> list[Check]: ...
    def schedule_downtime(self, service: str, seconds: int) -> None: ...
    def in_downtime(self, service: str) -> bool: ...
    def acknowledge(self, service: str) -> None: ...
    def ipmon_state(self, service: str) -> str: ...
    def never_checked(self, service: str) -> bool: ...
    def hard_changes(self, service: str) -> list[tuple[float, str]]: ...
    def notes(self) -> list[Note]: ...


def host_of(service: str) -> str:
    return DOWN_HOST if service == "hostdown" else HOST


def generate(engine: str, definition: Path, out: Path, *extra: str) -> Path:
    run = subprocess.run(
        [str(BIN / "pop3_ipmon_config"), engine, str(definition), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return out


def write_definition(directory: Path, port: int) -> Path:
    path = directory / "monitors.ini"
    text = DEFINITION.format(host=HOST, down_host=DOWN_HOST, port=port, up=UP, down=DOWN, lost=LOST)
    path.write_text(text)
    return path


def refused(notes_file: Path) -> list[dict[str, Any]]:
    return pd_recorder.read(pd_recorder.refused_file(notes_file))


# --------------------------------------------------------------------- Nagios

PERFDATA_TEMPLATE = (
    "$LASTSERVICECHECK$\\t$HOSTNAME$\\t$SERVICEDESC$\\t$SERVICESTATE$\\t$SERVICESTATETYPE$"
)


class NagiosEngine:
    name = "nagios"

    def __init__(self, nagios: Nagios, notes_file: Path, perfdata: Path) -> None:
        self.nagios = nagios
        self.notes_file = notes_file
        self.perfdata = perfdata

    def checks(self, service: str) -> list[Check]:
        """Every check, from Nagios' own performance data file (one line per check)."""
        if not self.perfdata.exists():
            return []
        out = []
        for line in self.perfdata.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 5 and fields[1] == host_of(service) and fields[2] == service:
                out.append(Check(float(fields[0]), fields[3] == "OK"))
        return out

    def schedule_downtime(self, service: str, seconds: int) -> None:
        now = int(time.time())
        self.nagios.command(
            f"SCHEDULE_SVC_DOWNTIME;{HOST};{service};{now};{now + seconds};1;0;{seconds};"
            "test;maintenance"
        )

    def in_downtime(self, service: str) -> bool:
        status = self.nagios.service_status(HOST, service)
        return status.get("scheduled_downtime_depth", "0") != "0"

    def acknowledge(self, service: str) -> None:
        self.nagios.command(f"ACKNOWLEDGE_SVC_PROBLEM;{HOST};{service};1;1;0;test;seen")

    def ipmon_state(self, service: str) -> str:
        status = self.nagios.service_status(HOST, service)
        return status.get("_POP3_IPMON_STATE", ";").split(";", 1)[1]

    def never_checked(self, service: str) -> bool:
        return self.nagios.service_status(HOST, service).get("has_been_checked") == "0"

    def hard_changes(self, service: str) -> list[tuple[float, str]]:
        """(time, 'STATE;HARD;attempt') of each HARD state change Nagios logged."""
        return [
            (float(alert.time), f"{alert.state};HARD;{alert.attempt}")
            for alert in self.nagios.service_alerts(host_of(service), service)
            if alert.state_type == "HARD"
        ]

    def notes(self) -> list[Note]:
        return [
            Note(
                r["service"].split("!", 1)[1],
                r["type"],
                r["number"],
                r["env"].get("NAGIOS__SERVICEPOP3_IPMON_STATE", ""),
                r["time"],
            )
            for r in pd_recorder.read(self.notes_file)
        ]

    def notification_lines(self, service: str) -> list[str]:
        prefix = f"SERVICE NOTIFICATION: recorder;{HOST};{service};"
        return [line[len(prefix) :] for line in self.nagios.log_lines() if line.startswith(prefix)]


def nagios_objects(tmp_path: Path, notes_file: Path) -> Path:
    """The test's own objects: a 24x7 period, the recording contact, a dead host."""
    days = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    record = [
        *pd_recorder.command(notes_file),
        "-t",
        "$NOTIFICATIONTYPE$",
        "-n",
        "$SERVICENOTIFICATIONNUMBER$",
        "-s",
        "$HOSTNAME$!$SERVICEDESC$",
    ]
    path = tmp_path / "test-base.cfg"
    path.write_text(
        object_block(
            "timeperiod",
            [("timeperiod_name", "24x7"), ("alias", "always")]
            + [(day, "00:00-24:00") for day in days],
        )
        + object_block(
            "command", [("command_name", "pd-record"), ("command_line", " ".join(record))]
        )
        + object_block(
            "command",
            [("command_name", "host-dead"), ("command_line", f"{DUMMY} 2 'down for the test'")],
        )
        + object_block(
            "contact",
            [
                ("use", "pop3-ipmon-contact"),
                ("contact_name", "recorder"),
                ("alias", "pd-nagios stand-in"),
                ("service_notification_commands", "pd-record"),
                ("host_notification_commands", "pd-record"),
                ("host_notification_options", "n"),
            ],
        )
        + object_block(
            "host",
            [
                ("use", "pop3-ipmon-host"),
                ("host_name", DOWN_HOST),
                ("alias", "a host whose check fails"),
                ("address", "127.0.0.1"),
                ("check_command", "host-dead"),
                ("check_interval", "1"),
                ("contacts", "recorder"),
            ],
        )
    )
    return path


@pytest.fixture
def nagios_engine(tmp_path: Path, dovecot: Dovecot) -> Any:
    notes_file = tmp_path / "notifications.jsonl"
    perfdata = tmp_path / "service-perfdata"
    services = generate(
        "nagios",
        write_definition(tmp_path, dovecot.port),
        tmp_path / "services.cfg",
        "--interval-length",
        "1",
    )
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        nagios_objects(tmp_path, notes_file),
        services,
    ]
    settings = {
        "process_performance_data": "1",
        "service_perfdata_file": str(perfdata),
        "service_perfdata_file_template": PERFDATA_TEMPLATE,
        "service_perfdata_file_mode": "a",
        "service_perfdata_file_processing_interval": "0",
        **main_settings(CONTRIB / "nagios-main" / "pop3_ipmon_main.cfg"),
    }
    nagios = Nagios(tmp_path / "nagios", files, resource={"USER1": str(BIN)}, settings=settings)
    verify = nagios.verify()
    assert "Total Errors:   0" in verify.stdout, verify.stdout
    assert "Total Warnings: 0" in verify.stdout, verify.stdout
    nagios.start()
    yield NagiosEngine(nagios, notes_file, perfdata)
    nagios.stop()


# -------------------------------------------------------------------- scenario


def failures_since(checks: list[Check], since: float) -> list[Check]:
    """The failed checks after `since`, up to the first pass."""
    run: list[Check] = []
    for check in checks:
        if check.time < since:
            continue
        if check.ok:
            if run:
                break
            continue
        run.append(check)
    return run


def passes_since(checks: list[Check], since: float) -> list[Check]:
    return [check for check in checks if check.ok and check.time >= since]


def of(engine: Engine, service: str, since: float = 0.0) -> list[tuple[str, int]]:
    return [(n.type, n.number) for n in engine.notes() if n.service == service and n.time >= since]


def has(
    engine: Engine, service: str, note: tuple[str, int], since: float = 0.0
) -> Callable[[], bool]:
    return lambda: note in of(engine, service, since)


def outage(engine: Engine, dovecot: Dovecot) -> dict[str, Any]:
    """The first outage: kill Dovecot until f3m3 has been Lost a while, restart it."""
    for service in WATCHED:
        wait_until(lambda s=service: bool(passes_since(engine.checks(s), 0)), 40, f"{service} OK")
    engine.schedule_downtime("downtime", 3600)
    wait_until(lambda: engine.in_downtime("downtime"), 20, "the downtime to start")
    # Nagios logs whole seconds: a failure right after the kill may carry the
    # second before it. Passing tests before that are skipped anyway.
    stopped = time.time() - 1
    dovecot.stop()
    wait_until(has(engine, "ack", ("PROBLEM", 1)), 60, "ack's alert 1")
    engine.acknowledge("ack")
    wait_until(
        lambda: "ACKNOWLEDGEMENT" in [t for t, _ in of(engine, "ack")], 30, "the acknowledgement"
    )
    wait_until(has(engine, "dtrecover", ("PROBLEM", 2)), 60, "dtrecover's alert 2")
    # Failure 13 is the third Lost test after failure 10.
    wait_until(
        lambda: len(failures_since(engine.checks("f3m3"), stopped)) >= 13, 120, "13 failures"
    )
    seen = {"stopped": stopped, "f3m3_state": engine.ipmon_state("f3m3")}
    seen["f1m1_state"] = engine.ipmon_state("f1m1")
    seen["downtime_state"] = engine.ipmon_state("downtime")
    engine.schedule_downtime("dtrecover", DOWNTIME)
    wait_until(lambda: engine.in_downtime("dtrecover"), 20, "dtrecover's downtime")
    seen["dt_start"] = time.time()
    dovecot.start()
    restarted = seen["restarted"] = time.time()
    for service in ("f3m3", "f1m1", "f5m1", "ack"):
        wait_until(_recovered(engine, service), 60, f"{service}'s recovery")
    wait_until(
        lambda: len(passes_since(engine.checks("f3m3"), restarted - 1)) >= 3,
        60,
        "three passing tests of f3m3",
    )
    wait_until(
        lambda: bool(passes_since(engine.checks("dtrecover"), restarted - 1)),
        30,
        "dtrecover's passing test in its downtime",
    )
    seen["dt_passed"] = passes_since(engine.checks("dtrecover"), restarted - 1)[0].time
    wait_until(lambda: not engine.in_downtime("dtrecover"), 60, "dtrecover's downtime to end")
    seen["dt_end"] = time.time()
    return seen


def _recovered(engine: Engine, service: str) -> Callable[[], bool]:
    return lambda: any(t == "RECOVERY" for t, _ in of(engine, service))


def second_outage(engine: Engine, dovecot: Dovecot) -> float:
    """Kill Dovecot again until f3m3 has sent alert 1 of its new outage."""
    start = time.time()
    dovecot.stop()
    wait_until(has(engine, "f3m3", ("PROBLEM", 1), start), 60, "f3m3's first alert, again")
    wait_until(has(engine, "f1m1", ("PROBLEM", 1), start), 60, "f1m1's first alert, again")
    dovecot.start()
    wait_until(lambda: _recovered_since(engine, "f3m3", start), 60, "f3m3's second recovery")
    wait_until(lambda: _recovered_since(engine, "f1m1", start), 60, "f1m1's second recovery")
    return start


def _recovered_since(engine: Engine, service: str, since: float) -> bool:
    return any(t == "RECOVERY" for t, _ in of(engine, service, since))


def gaps(checks: list[Check]) -> list[float]:
    return [round(b.time - a.time, 2) for a, b in zip(checks, checks[1:])]


def assert_first_outage(engine: Engine, seen: dict[str, Any]) -> None:
    restarted = seen["restarted"]
    # Items 2 and 3: the types and the engine's numbers, in order.
    assert of(engine, "f3m3", 0)[:4] == [
        ("PROBLEM", 1),
        ("PROBLEM", 2),
        ("PROBLEM", 3),
        ("RECOVERY", of(engine, "f3m3")[3][1]),
    ], engine.notes()
    assert [n for n in engine.notes() if n.service == "f3m3"][2].ipmon_state == "Down"
    assert of(engine, "f1m1")[:2] == [("PROBLEM", 1), ("RECOVERY", of(engine, "f1m1")[1][1])]
    assert [t for t, _ in of(engine, "f5m1")] == ["PROBLEM", "RECOVERY"]
    ack = of(engine, "ack")
    assert [t for t, _ in ack] == ["PROBLEM", "ACKNOWLEDGEMENT", "RECOVERY"], ack
    assert ack[0] == ("PROBLEM", 1)
    for service in ("downtime", "hostdown"):
        assert of(engine, service) == [], (service, engine.notes())
    assert seen["downtime_state"] == "Maintenance"
    assert of(engine, "disabled") == []
    assert engine.never_checked("disabled")

    # Alerts at failures 3, 6, 9: each PROBLEM came after the failure that
    # sent it and before the next one.
    failures = failures_since(engine.checks("f3m3"), seen["stopped"])
    problems = [n.time for n in engine.notes() if n.service == "f3m3" and n.type == "PROBLEM"]
    for number, sent in enumerate(problems[:3], 1):
        index = 3 * number - 1
        assert failures[index].time <= sent, (number, failures[index], sent)
        assert sent < failures[index + 1].time + 1, (number, sent, failures[index + 1])

    # Item 1: HARD CRITICAL from failure 3 (the engine's own record).
    hard = [change for change in engine.hard_changes("f3m3") if change[0] >= seen["stopped"]]
    assert hard[0][1].startswith("CRITICAL;HARD;"), hard
    assert failures[2].time - 1 <= hard[0][0] < failures[3].time, (hard, failures[:4])

    # Intervals: Down through failure 10, Lost after it, Up after recovery.
    down_gaps, lost_gaps = gaps(failures[:10]), gaps(failures[9:])
    print(f"{engine.name}: Warn/Down gaps {down_gaps}; Lost gaps {lost_gaps}")
    assert all(gap >= DOWN - 1 for gap in down_gaps), down_gaps
    assert all(gap < LOST - 1 for gap in down_gaps), down_gaps
    assert len(lost_gaps) >= 3 and all(gap >= LOST - 1 for gap in lost_gaps), lost_gaps
    up_checks = passes_since(engine.checks("f3m3"), restarted - 1)
    up_gaps = gaps(up_checks)
    print(f"{engine.name}: Up gaps after the recovery {up_gaps}")
    assert all(gap >= UP - 1 for gap in up_gaps), up_gaps
    assert seen["f3m3_state"] == "Lost" and seen["f1m1_state"] == "Lost"
    assert engine.ipmon_state("f3m3") == "Up"

    # Nothing refused by the pd-nagios stand-in.
    assert refused(engine.notes_file) == []


def assert_second_outage(engine: Engine, start: float) -> None:
    for service in ("f3m3", "f1m1"):
        notes = of(engine, service, start)
        assert notes[0] == ("PROBLEM", 1), notes
        assert [t for t, _ in notes] == ["PROBLEM", "RECOVERY"], notes
    # Fewer than F failures: SOFT only, no alert and so no recovery.
    short = failures_since(engine.checks("f5m1"), start - 1)
    print(f"{engine.name}: f5m1 failed {len(short)} time(s) in the second outage")
    if len(short) < 5:
        assert of(engine, "f5m1", start) == []


def test_nagios_alerts_through_its_own_model(nagios_engine: NagiosEngine, dovecot: Dovecot) -> None:
    started = time.monotonic()
    engine = nagios_engine
    seen = outage(engine, dovecot)
    assert_first_outage(engine, seen)
    # Nagios' own log: SOFT 1, 2, then HARD at attempt 3; three PROBLEMs and a recovery.
    soft = [
        a.attempt
        for a in engine.nagios.service_alerts(HOST, "f3m3")
        if a.state_type == "SOFT" and a.state != "OK"
    ]
    assert soft[:2] == [1, 2], soft
    assert "CRITICAL;HARD;3" in [change for _, change in engine.hard_changes("f3m3")]
    lines = engine.notification_lines("f3m3")
    assert [line.split(";")[0] for line in lines][:4] == ["CRITICAL"] * 3 + ["OK"], lines
    # Item 4, measured: Nagios 4.4.6 drops a recovery inside a downtime (it
    # resets the notified state with it), and sends none when it ends.
    assert of(engine, "dtrecover") == [("PROBLEM", 1), ("PROBLEM", 2)], engine.notes()
    # Item 5: the host's DOWN state made the service HARD at once, no notification.
    hard = engine.hard_changes("hostdown")
    assert any(change.startswith("CRITICAL;HARD") for _, change in hard), hard
    # The handler logged beside Nagios' log (its command has --log-beside).
    handler_log = engine.nagios.log.parent / "pop3_ipmon.log"
    assert "f3m3: CRITICAL HARD" in handler_log.read_text()
    start = second_outage(engine, dovecot)
    assert_second_outage(engine, start)
    print(f"nagios: scenario took {time.monotonic() - started:.1f}s")
