"""pop3_ipmon_recovery as an engine (or an administrator) runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.recovery.conftest import REMOTE, SERVICE, Recovery

SCRIPT = Path(sys.executable).parent / "pop3_ipmon_recovery"


def run(recovery: Recovery, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(SCRIPT), "--config", str(recovery.path), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def alert(n: int, address: str = REMOTE, *extra: str) -> list[str]:
    return [
        "--service",
        SERVICE,
        "--alert",
        str(n),
        "--state",
        "CRITICAL",
        "--ipmon-state",
        "Down",
        "--failures",
        str(3 * n),
        "--host",
        "mail1",
        "--address",
        address,
        *extra,
    ]


def external(recovery: Recovery, *options: str, **settings: object) -> None:
    recovery.write(
        f"""\
[service {SERVICE}]
actions = page

[action page]
type = external-process
alerts = 1-
command = {recovery.recorder(*options)}
""",
        **settings,
    )


def test_dry_run_prints_the_exact_argv_and_runs_nothing(recovery: Recovery) -> None:
    external(recovery, "--label", "two words")
    result = run(recovery, *alert(1), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"page (external-process) on {REMOTE}: dry-run",
        f"  would run (run): {recovery.recorder('--label', 'two words')}",
    ]
    assert recovery.calls() == [] and not recovery.audit_log.exists()


def test_a_real_run_acts_and_says_so(recovery: Recovery) -> None:
    external(recovery)
    result = run(recovery, *alert(1))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"page (external-process) on {REMOTE}: ok - run [")
    assert len(recovery.calls()) == 1


def test_a_failed_action_exits_1(recovery: Recovery) -> None:
    external(recovery, "exit=7")
    result = run(recovery, *alert(1))
    assert result.returncode == 1
    assert f"page (external-process) on {REMOTE}: failed - run failed (exit 7) [" in result.stdout


@pytest.mark.parametrize(
    "address", ["x;touch {tmp}/pwned", "$(touch {tmp}/pwned)", "`touch {tmp}/pwned`"]
)
def test_hostile_addresses_run_nothing_and_say_why(recovery: Recovery, address: str) -> None:
    external(recovery)
    value = address.format(tmp=recovery.root)
    result = run(recovery, *alert(1, value))
    assert result.returncode == 2
    assert result.stdout == (
        f"REFUSED: host address {value!r} is not a host name, NetBIOS name or IP address; "
        "nothing run\n"
    )
    assert not (recovery.root / "pwned").exists()
    assert recovery.calls() == []


def test_hostile_host_name_is_refused(recovery: Recovery) -> None:
    external(recovery)
    result = run(recovery, *alert(1), "--host", "$(reboot)")
    assert result.returncode == 2
    assert result.stdout.startswith("REFUSED: host name '$(reboot)' has characters")


def test_a_world_readable_credentials_file_is_refused(recovery: Recovery) -> None:
    path = recovery.credentials(
        "[admin]\nmethod = ssh\nuser = r\nidentity_file = /k\nknown_hosts = /kh\n", 0o644
    )
    recovery.write(
        f"""\
[service {SERVICE}]
actions = restart
credentials = admin

[action restart]
type = restart-service
alerts = 1
services = dovecot
"""
    )
    result = run(recovery, *alert(1))
    assert result.returncode == 2
    assert result.stdout == (
        f"restart (restart-service) on {REMOTE}: refused - credentials file {path} "
        "is readable by group or others (mode 0644): refused; chmod 600 it\n"
    )
    assert recovery.audit()[0]["result"] == "refused"


def test_config_errors_exit_2_with_one_line(recovery: Recovery) -> None:
    recovery.write("[action x]\ntype = nope\n")
    result = run(recovery, *alert(1))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"REFUSED: {recovery.path} [action x]: type must be one of external-process, "
        "restart-service, reboot-server\n"
    )


def test_unconfigured_services_and_alerts_without_actions(recovery: Recovery) -> None:
    external(recovery)
    other = run(recovery, *alert(1)[2:], "--service", "other!pop3")
    assert (other.returncode, other.stdout) == (
        0,
        f"no recovery configured for other!pop3 in {recovery.path}\n",
    )
    warn = run(recovery, *alert(0), "--ipmon-state", "Warn")
    assert (warn.returncode, warn.stdout) == (0, f"nothing due for {SERVICE} at alert 0 (Warn)\n")
    assert recovery.calls() == []


def test_host_downtime_counts_as_downtime(recovery: Recovery) -> None:
    external(recovery)
    result = run(recovery, *alert(1), "--downtime", "0", "--host-downtime", "1")
    assert (result.returncode, result.stdout) == (
        0,
        f"page (external-process) on {REMOTE}: skipped - the service is in downtime\n",
    )
    assert recovery.calls() == []


# -- Icinga 2's recovery Notification: the notification's type decides --------------------------


def test_a_problem_notification_runs_its_alerts_actions(recovery: Recovery) -> None:
    external(recovery)
    result = run(recovery, "--type", "PROBLEM", *alert(2))
    assert result.returncode == 0, result.stderr
    (call,) = recovery.calls()
    assert call["env"]["POP3_IPMON_ALERT"] == "2"


def test_a_recovery_notification_ends_the_problem_and_runs_nothing(recovery: Recovery) -> None:
    """At a RECOVERY the template's alert number counts the alerts sent (3):
    it is no alert of its own, so no action of range 1- runs for it."""
    external(recovery)
    args = alert(3)
    args[args.index("CRITICAL")] = "OK"
    args[args.index("Down")] = "Up"
    result = run(recovery, "--type", "recovery", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"nothing due for {SERVICE} at alert 0 (Up)"]
    assert recovery.calls() == []


@pytest.mark.parametrize("kind", ["ACKNOWLEDGEMENT", "CUSTOM", "DOWNTIMESTART"])
def test_other_notification_types_call_for_no_action(recovery: Recovery, kind: str) -> None:
    external(recovery)
    result = run(recovery, "--type", kind, *alert(1))
    assert (result.returncode, result.stdout) == (
        0,
        f"{kind}: no recovery action (only PROBLEM and RECOVERY call for one)\n",
    )
    assert recovery.calls() == [] and not recovery.audit_log.exists()


def test_a_type_that_is_not_a_word_is_a_usage_error(recovery: Recovery) -> None:
    external(recovery)
    result = run(recovery, "--type", "PROBLEM;rm -rf /", *alert(1))
    assert result.returncode == 2
    assert "expected a notification type such as PROBLEM" in result.stderr
    assert "rm -rf" not in result.stderr
    assert recovery.calls() == []
