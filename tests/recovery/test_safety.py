"""Each safety rule of run_actions(), each with a test that fails without the rule.

The action is an External Process running tests/support/recorder.py, so a
test sees exactly whether (and with what) something ran. Time is passed in
(`now`) instead of slept: cooldowns are minutes and hours.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from check_pop3_ipmon.recovery import Config, exit_code, run_actions
from check_pop3_ipmon.recovery.engine import FAILED, OK, REFUSED, SKIPPED
from tests.recovery.conftest import REMOTE, SERVICE, Recovery, facts

T0 = 1_700_000_000.0


def page(recovery: Recovery, *options: str, alerts: str = "1-") -> str:
    return f"""\
[service {SERVICE}]
actions = page

[action page]
type = external-process
alerts = {alerts}
command = {recovery.recorder(*options)}
"""


def setup(recovery: Recovery, *options: str, alerts: str = "1-", **settings: object) -> Config:
    return recovery.config(page(recovery, *options, alerts=alerts), **settings)


def test_external_process_gets_the_documented_environment(recovery: Recovery) -> None:
    config = setup(recovery, "--flag", "two words")
    results = run_actions(SERVICE, 1, facts(output="POP3 CRITICAL - refused\nline 2"), config)
    assert [(r.action, r.result) for r in results] == [("page", OK)]
    (call,) = recovery.calls()
    assert call["argv"][-2:] == ["--flag", "two words"]
    ipmon = {k: v for k, v in call["env"].items() if k.startswith("POP3_IPMON_")}
    assert ipmon == {
        "POP3_IPMON_SERVICE": SERVICE,
        "POP3_IPMON_MONITOR": "Mail POP3",
        "POP3_IPMON_HOST": "mail1",
        "POP3_IPMON_ADDRESS": REMOTE,
        "POP3_IPMON_TARGET": REMOTE,
        "POP3_IPMON_SERVICE_STATE": "CRITICAL",
        "POP3_IPMON_STATE": "Down",
        "POP3_IPMON_HOST_STATE": "UP",
        "POP3_IPMON_ALERT": "1",
        "POP3_IPMON_FAILURES": "3",
        "POP3_IPMON_OUTPUT": "POP3 CRITICAL - refused\nline 2",
        "POP3_IPMON_ACTION": "page",
    }
    # Nothing else leaks in from the engine's environment.
    assert set(call["env"]) - set(ipmon) <= {"PATH", "LC_ALL", "LC_CTYPE"}


def test_only_the_configured_alert_numbers_act(recovery: Recovery) -> None:
    config = setup(recovery, alerts="2", cooldown=0)
    assert run_actions(SERVICE, 0, facts(ipmon_state="Warn"), config, now=T0) == []
    assert run_actions(SERVICE, 1, facts(), config, now=T0) == []
    assert run_actions(SERVICE, 3, facts(), config, now=T0) == []
    assert [r.result for r in run_actions(SERVICE, 2, facts(), config, now=T0)] == [OK]
    assert len(recovery.calls()) == 1


def test_an_unconfigured_service_runs_nothing(recovery: Recovery) -> None:
    config = setup(recovery)
    assert run_actions("other!pop3", 1, facts(), config) == []
    assert recovery.calls() == []


def test_cooldown_and_cap_hold_across_a_flapping_service(recovery: Recovery) -> None:
    config = setup(recovery, cooldown="10m", max_actions=2, settle="15m")
    outcomes = []
    # Fails, alert 1 -> action; recovers for a minute; fails again: flapping.
    for minute in range(0, 60, 2):
        now = T0 + minute * 60
        results = run_actions(SERVICE, 1, facts(), config, now=now)
        outcomes.append((minute, results[0].result, results[0].reason.split(":")[0]))
        run_actions(SERVICE, 0, facts(state="OK", ipmon_state="Up"), config, now=now + 60)
    acted = [minute for minute, result, _ in outcomes if result == OK]
    assert acted == [0, 10]  # 10 minutes apart (cooldown), then the cap of 2
    assert {reason for _, result, reason in outcomes if result == SKIPPED} == {
        "cooldown",
        "max actions",
    }
    assert len(recovery.calls()) == 2
    # Up for longer than `settle`: that problem is over, a new one may act again.
    run_actions(SERVICE, 0, facts(state="OK", ipmon_state="Up"), config, now=T0 + 3600)
    later = run_actions(SERVICE, 1, facts(), config, now=T0 + 3600 + 16 * 60)
    assert [r.result for r in later] == [OK]


def test_cooldown_alone(recovery: Recovery) -> None:
    config = setup(recovery, cooldown="5m", max_actions=100)
    assert run_actions(SERVICE, 1, facts(), config, now=T0)[0].result == OK
    again = run_actions(SERVICE, 2, facts(), config, now=T0 + 299)[0]
    assert (again.result, again.reason) == (SKIPPED, "cooldown: last run 299s ago, cooldown 300s")
    assert run_actions(SERVICE, 3, facts(), config, now=T0 + 300)[0].result == OK
    assert len(recovery.calls()) == 2


def test_the_cap_alone(recovery: Recovery) -> None:
    config = setup(recovery, cooldown=0, max_actions=2)
    results = [run_actions(SERVICE, n, facts(), config, now=T0 + n)[0] for n in (1, 2, 3)]
    assert [r.result for r in results] == [OK, OK, SKIPPED]
    assert results[2].reason == "max actions: 2 of 2 already run in this problem"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"enabled": False}, "the service is disabled"),
        ({"in_downtime": True}, "the service is in downtime"),
        ({"acknowledged": True}, "the problem is acknowledged"),
        ({"state": "UNKNOWN"}, "the service state is UNKNOWN, not WARNING or CRITICAL"),
    ],
)
def test_no_action_when_disabled_in_downtime_acknowledged_or_unknown(
    recovery: Recovery, changes: dict[str, object], reason: str
) -> None:
    config = setup(recovery)
    results = run_actions(SERVICE, 1, facts(**changes), config)
    assert [(r.result, r.reason) for r in results] == [(SKIPPED, reason)]
    assert recovery.calls() == []
    assert recovery.audit()[0]["reason"] == reason


def test_downtime_and_acknowledgement_rules_are_configurable(recovery: Recovery) -> None:
    config = setup(recovery, cooldown=0, skip_in_downtime="no", skip_when_acknowledged="no")
    assert run_actions(SERVICE, 1, facts(in_downtime=True), config)[0].result == OK
    assert run_actions(SERVICE, 2, facts(acknowledged=True), config)[0].result == OK


def test_an_ok_result_runs_nothing(recovery: Recovery) -> None:
    config = setup(recovery)
    assert run_actions(SERVICE, 1, facts(state="OK", ipmon_state="Up"), config) == []
    assert recovery.calls() == []


def test_the_deadline_kills_the_whole_process_group(recovery: Recovery) -> None:
    pidfile = recovery.root / "grandchild.pid"
    # Long enough for the recorder to start its grandchild on a busy machine.
    config = setup(recovery, "sleep=120", f"grandchild={pidfile}", deadline=5)
    (result,) = run_actions(SERVICE, 1, facts(), config)
    assert result.result == FAILED
    assert result.reason == "run failed: killed at the deadline (5s)"
    assert exit_code([result]) == 1
    grandchild = int(pidfile.read_text())
    assert dies(grandchild)


def dies(pid: int, within: float = 10.0) -> bool:
    """Whether `pid` is gone or a zombie (SIGKILL is delivered asynchronously)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return True
        if fields[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_failing_action_is_a_failure(recovery: Recovery) -> None:
    config = setup(recovery, "exit=4")
    (result,) = run_actions(SERVICE, 1, facts(), config)
    assert (result.result, result.reason) == (FAILED, "run failed (exit 4)")
    assert exit_code([result]) == 1


def test_the_audit_log_records_every_decision(recovery: Recovery) -> None:
    config = setup(recovery, cooldown="10m")
    run_actions(SERVICE, 1, facts(), config, now=T0)
    run_actions(SERVICE, 2, facts(), config, now=T0 + 1)
    assert len(recovery.audit()) == 2
    starting, first, second = recovery.audit(starting=True)
    # Before the action ran: what it is about to run.
    assert (starting["action"], starting["result"], starting["reason"]) == (
        "page",
        "starting",
        "run",
    )
    assert starting["steps"][0]["argv"][1].endswith("action_recorder.py")
    assert set(first) == {
        "when",
        "service",
        "action",
        "kind",
        "target",
        "alert",
        "result",
        "reason",
        "duration",
        "steps",
    }
    assert first["when"].endswith("Z")
    assert (first["service"], first["action"], first["target"], first["result"]) == (
        SERVICE,
        "page",
        REMOTE,
        OK,
    )
    (step,) = first["steps"]
    assert step["argv"][1].endswith("action_recorder.py") and step["rc"] == 0
    assert first["duration"] >= 0
    assert (second["alert"], second["result"]) == (2, SKIPPED)
    assert os.stat(recovery.audit_log).st_mode & 0o077 == 0o040


def test_an_unwritable_audit_log_means_no_action(recovery: Recovery) -> None:
    (recovery.root / "audit-dir").write_text("a file where a directory should be")
    config = setup(recovery, audit_log=recovery.root / "audit-dir" / "audit.jsonl")
    (result,) = run_actions(SERVICE, 1, facts(), config)
    assert result.result == REFUSED
    assert result.reason.startswith(f"cannot open audit log {recovery.root}/audit-dir/audit.jsonl")
    assert recovery.calls() == []


def test_syslog_gets_one_line_per_decision(recovery: Recovery, tmp_path: Path) -> None:
    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(5)
        config = setup(recovery, syslog=address)
        run_actions(SERVICE, 1, facts(), config)
        starting, message = (server.recv(4096).decode() for _ in range(2))
    # <30> = facility daemon (3) * 8 + info (6)
    assert message.startswith("<30>pop3_ipmon_recovery[")
    assert f'service="{SERVICE}" action="page" target="{REMOTE}" result="starting"' in starting
    assert f'service="{SERVICE}" action="page" target="{REMOTE}" result="ok"' in message


@pytest.mark.parametrize(
    "changes",
    [
        {"address": "x;touch /tmp/pwned"},
        {"address": "$(reboot)"},
        {"target": "`reboot`"},
        {"host": "x;touch /tmp/pwned"},
        {"host": "$(reboot)"},
        {"state": "CRITICAL;reboot"},
        {"monitor": "m" * 65},
    ],
)
def test_hostile_macro_values_run_nothing(recovery: Recovery, changes: dict[str, str]) -> None:
    config = setup(recovery)
    (result,) = run_actions(SERVICE, 1, facts(**changes), config)
    assert result.result == REFUSED
    assert repr(next(iter(changes.values())))[1:-1][:20] in result.reason
    assert recovery.calls() == []
    assert json.loads(recovery.audit_log.read_text())["result"] == REFUSED
    assert exit_code([result]) == 2


def test_dry_run_shows_the_argv_and_changes_nothing(recovery: Recovery) -> None:
    config = setup(recovery, "sleep=0")
    (result,) = run_actions(SERVICE, 1, facts(), config, dry_run=True)
    assert result.result == "dry-run"
    (step,) = result.planned
    assert step.invocation.argv == (sys.executable, *recovery.recorder("sleep=0").split()[1:])
    assert recovery.calls() == []
    assert not recovery.state_dir.exists() and not recovery.audit_log.exists()


def test_a_state_directory_others_may_write_is_refused(recovery: Recovery) -> None:
    recovery.state_dir.mkdir()
    recovery.state_dir.chmod(0o777)
    config = setup(recovery)
    (result,) = run_actions(SERVICE, 1, facts(), config)
    assert result.result == REFUSED
    assert result.reason == (
        f"state directory {recovery.state_dir} has mode 0777: group/other may write it; "
        "run chmod 700 on it; not run"
    )
    assert recovery.calls() == []
