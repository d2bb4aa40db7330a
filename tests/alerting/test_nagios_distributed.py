"""Distributed Nagios: a remote Nagios 4 tests, a central one alerts (issue 18, item 5).

Two real Nagios 4 and Debian's real NSCA daemon, all from temporary
directories on loopback:

  remote   runs the POP3 test (active checks, pop3_ipmon_config's objects)
           against a real Dovecot; its ocsp_command is the shipped
           pop3-ipmon-forward (contrib/nagios/pop3_ipmon_forward): every
           result goes to the central node through send_nsca, and the
           handler runs there too (it sets Up, Down and Lost as intervals).
           Notifications off (enable_notifications=0).
  nsca     the daemon: the results into the central node's command file
           (encrypted, a shared password, both configurations 0600).
  central  `pop3_ipmon_config nagios --passive`'s objects: the same services,
           active checks off, fed by the passive results; the handler as its
           ocsp_command (pop3-ipmon-alert, --check-type PASSIVE): the
           notification delays and variables. The recording notification
           command (pd-nagios-like) gives the timeline there.

  normal    PROBLEM 1, 2, 3 at failures 3, 6, 9, each before the next test;
            Lost; one RECOVERY.
  noobsess  after PROBLEM 1 the central node stops running the handler for
            it (STOP_OBSESSING_OVER_SVC): Nagios' own PROBLEM 2 and 3 still go,
            no later than one test after failures 6 and 9, none after.

On both nodes no handler runs for an OK after an OK (the shell fronts), and
the central node's passive results force no check (it has no business
testing the service, and Nagios runs a forced check with active checks off).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting.test_engines import BIN, CONTRIB, HOST, generate, nagios_objects
from tests.alerting.test_nagios_never_silent import (
    DEFINITION,
    DOWN,
    LOST,
    TEMPLATE,
    UP,
    F,
    M,
    Run,
    assert_no_storm,
    assert_timeline,
    handled,
)
from tests.support import pd_recorder
from tests.support.dovecot import Dovecot
from tests.support.integration import wait_until
from tests.support.nagios import Nagios, main_settings
from tests.support.nsca import Nsca

pytestmark = pytest.mark.engines

SERVICES = ["normal", "noobsess"]


def plugins(tmp_path: Path) -> Path:
    """$USER1$ as the README has it: the console scripts and the shipped forwarder."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    for name in ("check_pop3_ipmon", "pop3_ipmon_alert"):
        (directory / name).symlink_to(BIN / name)
    (directory / "pop3_ipmon_forward").symlink_to(CONTRIB / "nagios" / "pop3_ipmon_forward")
    return directory


def node(
    tmp_path: Path, name: str, objects: Path, settings: dict[str, str], user1: Path
) -> tuple[Nagios, Path, Path]:
    work = tmp_path / name
    work.mkdir()
    notes, perfdata = work / "notifications.jsonl", work / "perfdata"
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        nagios_objects(work, notes),
        objects,
    ]
    nagios = Nagios(
        work / "nagios",
        files,
        resource={"USER1": str(user1)},
        settings={
            "process_performance_data": "1",
            "service_perfdata_file": str(perfdata),
            "service_perfdata_file_template": TEMPLATE,
            "service_perfdata_file_mode": "a",
            "service_perfdata_file_processing_interval": "0",
            **main_settings(CONTRIB / "nagios-main" / "pop3_ipmon_main.cfg"),
            **settings,
        },
    )
    verify = nagios.verify()
    assert "Total Errors:   0" in verify.stdout, verify.stdout
    assert "Total Warnings: 0" in verify.stdout, verify.stdout
    return nagios, notes, perfdata


class Setup:
    def __init__(self, central: Run, remote: Run, daemon: Nsca) -> None:
        self.central, self.remote, self.daemon = central, remote, daemon


@pytest.fixture
def distributed(tmp_path: Path, dovecot: Dovecot) -> Iterator[Setup]:
    definition = tmp_path / "monitors.ini"
    text = DEFINITION.format(host=HOST, port=dovecot.port, up=UP, down=DOWN, lost=LOST, f=F, m=M)
    definition.write_text(text + "".join(f"\n[{name}]\n" for name in SERVICES))
    user1 = plugins(tmp_path)
    length = ("--interval-length", "1")
    passive = generate("nagios", definition, tmp_path / "central.cfg", "--passive", *length)
    active = generate("nagios", definition, tmp_path / "remote.cfg", *length)
    started: list[Nagios] = []
    daemon: Nsca | None = None
    try:
        central, c_notes, c_perf = node(tmp_path, "central", passive, {}, user1)
        central.start()
        started.append(central)
        daemon = Nsca(tmp_path / "nsca", central.command_file)
        daemon.start()
        forward = f"pop3-ipmon-forward!127.0.0.1!{daemon.port}!{daemon.client_config}"
        remote, r_notes, r_perf = node(
            tmp_path,
            "remote",
            active,
            {"ocsp_command": forward, "enable_notifications": "0"},
            user1,
        )
        remote.start()
        started.append(remote)
        yield Setup(Run(central, c_notes, c_perf), Run(remote, r_notes, r_perf), daemon)
    finally:
        for nagios in reversed(started):
            nagios.stop()
        if daemon is not None:
            daemon.stop()


def ok_runs(run: Run, service: str) -> int:
    """Handler runs logged for a passing result of the service."""
    return sum(f" {HOST}!{service}: OK " in line for line in run.handler_log().splitlines())


def test_the_central_node_alerts_as_ipmonitor_would(distributed: Setup, dovecot: Dovecot) -> None:
    began = time.monotonic()
    central, remote = distributed.central, distributed.remote
    # Two passing tests of each service on the central node, through NSCA.
    for name in SERVICES:
        wait_until(lambda s=name: sum(t.ok for t in central.tests(s)) >= 2, 60, f"{name} OK")
    # The steady state: an OK after an OK starts no handler, on either node.
    assert [ok_runs(run, s) for run in (central, remote) for s in SERVICES] == [0, 0, 0, 0]

    killed = time.time() - 1
    dovecot.stop()
    wait_until(lambda: handled(central, "noobsess", 1), 60, "noobsess's PROBLEM 1 (central)")
    central.command(f"STOP_OBSESSING_OVER_SVC;{HOST};noobsess")
    wait_until(
        lambda: all(len(central.failures(s, killed)) >= 13 for s in SERVICES),
        150,
        "13 failures of each service on the central node",
    )
    lost = {
        s: central.nagios.service_status(HOST, s).get("_POP3_IPMON_STATE", "") for s in SERVICES
    }
    dovecot.start()
    recovered = time.time()
    wait_until(
        lambda: any(r["type"] == "RECOVERY" for r in pd_recorder.read(central.notes_file)),
        60,
        "the RECOVERY (central)",
    )
    # A few passing tests more: nothing owed, no handler.
    wait_until(
        lambda: sum(t.ok and t.time > recovered for t in central.tests("normal")) >= 3,
        60,
        "three passing tests after the outage",
    )
    print({s: central.problems(s) for s in SERVICES})

    # The timeline on the central node: PROBLEM k with failure kF, before the next test.
    normal = [(1, 3), (2, 6), (3, 9)]
    assert_timeline(central, "normal", killed, normal)
    failures = central.failures("normal", killed)
    for number, sent in central.problems("normal"):
        assert sent < failures[number * F].time, (number, sent, failures[number * F])
    notes = [r for r in pd_recorder.read(central.notes_file) if r["service"] == f"{HOST}!normal"]
    assert [(r["type"], r["number"]) for r in notes][:3] == [("PROBLEM", k) for k in (1, 2, 3)]
    assert [r["type"] for r in notes] == ["PROBLEM"] * 3 + ["RECOVERY"], notes
    # (The shipped notification commands derive ipMonitor's state and alert
    # from these: contrib/notify, tests/alerting/test_notify_pipelines.py.)
    assert notes[3]["number"] == M + 1, notes[3]
    assert lost["normal"].endswith("Lost"), lost
    # Lost on the remote node: tests at the Lost interval after failure 9.
    remote_failures = remote.failures("normal", killed)
    gaps = [b.time - a.time for a, b in zip(remote_failures[9:], remote_failures[10:])]
    assert gaps and all(gap >= LOST - 1 for gap in gaps), gaps

    # Never silent on the central node: the handler stopped, Nagios goes on alone.
    assert_timeline(central, "noobsess", killed, normal)
    for name in SERVICES:
        assert_no_storm(central, name)

    # The remote node sends nothing; the central one never tests.
    assert pd_recorder.read(remote.notes_file) == []
    forced = [line for line in central.nagios.log_lines() if "SCHEDULE_FORCED_SVC_CHECK" in line]
    assert forced == [], forced[:3]
    assert "SCHEDULE_FORCED_SVC_CHECK" in "\n".join(remote.nagios.log_lines())
    # After the outage: the recovery's run on each node, then none for OK after OK.
    assert [ok_runs(run, s) for run in (central, remote) for s in ("normal",)] == [1, 1]
    errors = [line for line in central.handler_log().splitlines() if " ERROR " in line]
    assert errors == [], errors
    print(f"distributed Nagios scenario took {time.monotonic() - began:.1f}s")
