"""The lock waits, a busy lock's alert is remembered, an alert acts once (issue 10, items 12, 13).

Item 12: before, a run finding the service's lock held gave up at once, and
the action due at its alert was dropped for good. Now it waits within its
deadline; past that it remembers the alert, and the next run (the next
result) considers that alert's actions.

Item 13: the same alert decided again (before issue 9's engine-numbered
alerts, an alert Nagios did not take was decided again at every failure; a
second handler for one result) ran its action again whenever the cooldown
allowed. Now the state remembers which alert numbers each action ran for in
this outage. The faults are real: a lock held by another process, two
handler processes at once.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from check_pop3_ipmon.recovery import run_actions
from check_pop3_ipmon.recovery.engine import DEFERRED, OK, SKIPPED
from check_pop3_ipmon.recovery.state import Store, locked
from tests.alerting.test_handler_as_engines_run_it import CommandFifo, fifo
from tests.recovery.conftest import REMOTE, SERVICE, Recovery, facts
from tests.recovery.test_alert_runs_actions import configure, handler
from tests.recovery.test_command_line import SCRIPT, alert
from tests.recovery.test_safety import page
from tests.support.integration import wait_until

__all__ = ["fifo"]  # the alerting tests' FIFO fixture, used here too
T0 = 1_700_000_000.0
AGAIN = (
    "already run for alert 1 in this outage (the same alert decided again: "
    "not delivered, or a second handler)"
)
REMEMBERED = "alert {n} remembered: its actions are considered at the next result"


def two_actions(recovery: Recovery, release: Path, **settings: object) -> None:
    """`first` at alert 1 waits for `release`; `second` acts at alert 2."""
    recovery.write(
        f"""\
[service {SERVICE}]
actions = first second

[action first]
type = external-process
alerts = 1
command = {recovery.recorder(f"wait={release}")}

[action second]
type = external-process
alerts = 2
command = {recovery.recorder()}
""",
        cooldown=0,
        max_actions=100,
        **settings,
    )


def start(recovery: Recovery, n: int) -> subprocess.Popen[str]:
    argv = [str(SCRIPT), "--config", str(recovery.path), *alert(n)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- item 12 -----------------------------------------------------------------------------------


def test_the_lock_is_waited_for_within_the_deadline(recovery: Recovery) -> None:
    """Alert 2 arrives while alert 1's action still runs: it waits, then acts."""
    release = recovery.root / "release"
    two_actions(recovery, release)
    first = start(recovery, 1)
    wait_until(lambda: bool(recovery.calls()), 30, "alert 1's action to start")
    second = start(recovery, 2)
    time.sleep(2)  # alert 2's run is at the lock by now (before: it had given up)
    release.touch()
    out, _ = first.communicate(timeout=60)
    assert out.startswith(f"first (external-process) on {REMOTE}: ok - run ["), out
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert out.startswith(f"second (external-process) on {REMOTE}: ok - run ["), out
    assert [call["env"]["POP3_IPMON_ALERT"] for call in recovery.calls()] == ["1", "2"]


def test_an_alert_the_lock_kept_out_is_remembered_for_the_next_run(recovery: Recovery) -> None:
    config = recovery.config(page(recovery), cooldown=0, deadline=2)
    store = Store(recovery.state_dir)
    recovery.state_dir.mkdir(mode=0o700)
    with locked(store.service_lock(SERVICE)) as got:
        assert got
        (result,) = run_actions(SERVICE, 1, facts(), config)
    # Waited half the deadline (1 s), then remembered it.
    assert (result.result, result.reason) == (
        DEFERRED,
        f"another run held the lock for 1s; {REMEMBERED.format(n=1)}",
    )
    assert recovery.calls() == []
    assert recovery.audit()[-1]["result"] == DEFERRED
    # The next result (a failure sending no alert) acts for alert 1.
    (later,) = run_actions(SERVICE, 0, facts(), config)
    assert (later.result, later.alert) == (OK, 1)
    (call,) = recovery.calls()
    assert call["env"]["POP3_IPMON_ALERT"] == "1"
    assert recovery.audit()[-1]["alert"] == 1
    # Taken: not again.
    assert run_actions(SERVICE, 0, facts(), config) == []
    assert len(recovery.calls()) == 1


def test_a_remembered_alert_ends_with_its_outage(recovery: Recovery) -> None:
    config = recovery.config(page(recovery), cooldown=0, deadline=2)
    recovery.state_dir.mkdir(mode=0o700)
    with locked(Store(recovery.state_dir).service_lock(SERVICE)):
        assert run_actions(SERVICE, 1, facts(), config)[0].result == DEFERRED
    assert run_actions(SERVICE, 0, facts(state="OK", ipmon_state="Up"), config) == []
    assert run_actions(SERVICE, 0, facts(), config) == []
    assert recovery.calls() == []


def test_a_deferred_alert_is_a_warning_in_the_handler_log(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    """Before, a held lock was an INFO line: an attacker holding it went unnoticed."""
    beside = configure(recovery)
    text = recovery.path.read_text().replace("cooldown = 0\n", "cooldown = 0\ndeadline = 2\n")
    (recovery.root / "pop3_ipmon-recovery.ini").write_text(text)
    assert handler(tmp_path, beside, "CRITICAL", 1).returncode == 0
    with locked(Store(recovery.state_dir).service_lock("mail1!POP3")):
        run = handler(tmp_path, beside, "CRITICAL", 2)
    assert run.returncode == 0, run.stderr
    last = (tmp_path / "handler.log").read_text().splitlines()[-1]
    assert last.endswith(
        f"WARNING mail1!POP3: recovery page (external-process) on {REMOTE} at alert 1: "
        f"deferred - another run held the lock for 1s; {REMEMBERED.format(n=1)}"
    ), last
    assert recovery.calls() == []


# -- item 13 -----------------------------------------------------------------------------------


def test_an_alert_decided_again_does_not_act_again(recovery: Recovery) -> None:
    config = recovery.config(page(recovery), cooldown=0, max_actions=100)
    runs = [run_actions(SERVICE, 1, facts(), config, now=T0 + s)[0] for s in (0, 40, 80)]
    assert [(r.result, r.reason) for r in runs[1:]] == [(SKIPPED, AGAIN)] * 2
    assert runs[0].result == OK
    # Another alert of the same outage acts.
    assert run_actions(SERVICE, 2, facts(), config, now=T0 + 120)[0].result == OK
    # A passing result ends the outage: the next outage's alert 1 acts again.
    run_actions(SERVICE, 0, facts(state="OK", ipmon_state="Up"), config, now=T0 + 160)
    assert run_actions(SERVICE, 1, facts(), config, now=T0 + 200)[0].result == OK
    assert [c["env"]["POP3_IPMON_ALERT"] for c in recovery.calls()] == ["1", "2", "1"]


def test_a_second_handler_for_the_same_alert_waits_then_does_not_act(
    recovery: Recovery,
) -> None:
    """No cooldown and no cap: the lock, then the alert memory, stand between the two."""
    release = recovery.root / "release"
    recovery.write(page(recovery, f"wait={release}"), cooldown=0, max_actions=100)
    first = start(recovery, 1)
    wait_until(lambda: bool(recovery.calls()), 30, "the first run's action to start")
    second = start(recovery, 1)
    time.sleep(2)  # the second run waits at the lock
    release.touch()
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0 and ": ok - run" in out
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert out == f"page (external-process) on {REMOTE}: skipped - {AGAIN}\n"
    assert len(recovery.calls()) == 1
    state = json.loads(Store(recovery.state_dir).service_file(SERVICE).read_text())
    assert state["acted_at"] == {"page": [1]}
