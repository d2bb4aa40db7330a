"""pop3_ipmon_alert runs the recovery actions due at the alert it sends.

The installed handler, a real command FIFO (as in the alerting tests), and a
recovery config beside the (pretend) nagios.cfg, as the shipped Nagios
command finds it. The action is the recorder, so the test sees what the
handler passed on.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.alerting.test_handler_as_engines_run_it import SCRIPT, CommandFifo, fifo, nagios_args
from tests.recovery.conftest import REMOTE, Recovery

__all__ = ["fifo"]  # the alerting tests' FIFO fixture, used here too

NAGIOS_ENV = {
    "NAGIOS_SERVICEOUTPUT": "POP3 CRITICAL - connection refused",
    "NAGIOS_SERVICEDISPLAYNAME": "Mail POP3 (head office)",
}


def configure(recovery: Recovery, *options: str) -> Path:
    """A recovery config where the shipped Nagios command looks for it."""
    recovery.write(
        f"""\
[service mail1!POP3]
actions = page

[action page]
type = external-process
alerts = 1
command = {recovery.recorder(*options)}
""",
        cooldown=0,
    )
    beside = recovery.root / "nagios.cfg"
    (recovery.root / "pop3_ipmon-recovery.ini").write_text(recovery.path.read_text())
    return beside


def handler(
    tmp_path: Path,
    beside: Path,
    state: str,
    attempt: int,
    address: str = REMOTE,
) -> subprocess.CompletedProcess[str]:
    args = nagios_args(
        tmp_path,
        state,
        attempt,
        **{
            "--recovery-beside": str(beside),
            "--status-file": str(tmp_path / "status.dat"),
            "--host-state": "UP",
        },
    )
    env = {**os.environ, **NAGIOS_ENV, "NAGIOS_HOSTADDRESS": address}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def test_the_alert_runs_its_action_with_the_alerts_facts(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    beside = configure(recovery)
    # F=2 (nagios_args): failure 1 is Warn, failure 2 sends alert 1.
    assert handler(tmp_path, beside, "CRITICAL", 1).returncode == 0
    assert recovery.calls() == []
    run = handler(tmp_path, beside, "CRITICAL", 2)
    assert run.returncode == 0, run.stderr
    # Alerting went first: alert 1 (Nagios' PROBLEM 1) published for the notification.
    assert "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1" in fifo.lines()
    (call,) = recovery.calls()
    env = call["env"]
    assert (env["POP3_IPMON_SERVICE"], env["POP3_IPMON_ALERT"]) == ("mail1!POP3", "1")
    assert (env["POP3_IPMON_STATE"], env["POP3_IPMON_FAILURES"]) == ("Down", "2")
    assert env["POP3_IPMON_ADDRESS"] == REMOTE == env["POP3_IPMON_TARGET"]
    assert env["POP3_IPMON_OUTPUT"] == "POP3 CRITICAL - connection refused"
    assert env["POP3_IPMON_MONITOR"] == "Mail POP3 (head office)"
    log = (tmp_path / "handler.log").read_text().splitlines()
    assert log[-1].endswith(
        f"INFO mail1!POP3: recovery page (external-process) on {REMOTE} at alert 1: ok - run"
    )
    # Failure 3 sends no alert, the recovery none either.
    assert handler(tmp_path, beside, "CRITICAL", 3).returncode == 0
    assert handler(tmp_path, beside, "OK", 4).returncode == 0
    assert len(recovery.calls()) == 1


def test_a_failed_action_exits_4_after_the_alert_went_out(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    beside = configure(recovery, "exit=3")
    handler(tmp_path, beside, "CRITICAL", 1)
    run = handler(tmp_path, beside, "CRITICAL", 2)
    assert run.returncode == 4
    assert "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1" in fifo.lines()
    log = (tmp_path / "handler.log").read_text()
    assert "ERROR mail1!POP3: recovery page (external-process)" in log
    assert "failed - run failed (exit 3)" in log


def test_without_a_recovery_config_alerting_is_unchanged(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    beside = recovery.root / "elsewhere" / "nagios.cfg"
    handler(tmp_path, beside, "CRITICAL", 1)
    assert handler(tmp_path, beside, "CRITICAL", 2).returncode == 0
    assert "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1" in fifo.lines()
    assert "recovery" not in (tmp_path / "handler.log").read_text()


def test_an_acknowledged_problem_runs_nothing(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    beside = configure(recovery)
    (tmp_path / "status.dat").write_text(
        "servicestatus {\n\thost_name=mail1\n\tservice_description=POP3\n"
        "\tproblem_has_been_acknowledged=1\n\t}\n"
    )
    handler(tmp_path, beside, "CRITICAL", 1)
    assert handler(tmp_path, beside, "CRITICAL", 2).returncode == 0
    assert recovery.calls() == []
    assert recovery.audit()[0]["reason"] == "the problem is acknowledged"


def test_a_hostile_address_from_the_environment_runs_nothing(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    beside = configure(recovery)
    handler(tmp_path, beside, "CRITICAL", 1)
    run = handler(tmp_path, beside, "CRITICAL", 2, address=f"x';touch {tmp_path}/pwned;'")
    assert run.returncode == 4
    assert recovery.calls() == [] and not (tmp_path / "pwned").exists()
    assert (
        "is not a host name, NetBIOS name or IP address; nothing run"
        in (tmp_path / "handler.log").read_text()
    )
