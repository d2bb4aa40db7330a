"""The alerting model without engines: ipMonitor's table, edges, and properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check_pop3_ipmon.alerting.model import (
    Alert,
    Decision,
    Interval,
    Memory,
    Phase,
    Policy,
    Publish,
    Recovery,
    Result,
    SetInterval,
    alert_text,
    decide,
    recovery_text,
)

_clock = itertools.count(1000)


def fail(attempt: int = 2, in_downtime: bool = False, enabled: bool = True) -> Result:
    return Result(False, "CRITICAL", False, attempt, str(next(_clock)), in_downtime, enabled)


def ok(in_downtime: bool = False) -> Result:
    return Result(True, "OK", True, 1, str(next(_clock)), in_downtime)


def run(policy: Policy, results: list[Result]) -> list[Decision]:
    memory, decisions = Memory(), []
    for result in results:
        decision = decide(policy, memory, result)
        memory = decision.memory
        decisions.append(decision)
    return decisions


def notifications(decisions: list[Decision]) -> list[tuple[int, object]]:
    """(result index 1-based, Alert/Recovery) for every notification."""
    return [
        (index, action)
        for index, decision in enumerate(decisions, 1)
        for action in decision.actions
        if isinstance(action, (Alert, Recovery))
    ]


def test_ipmonitors_worked_example() -> None:
    """F=3, M=3: Warn, Warn, alert 1 at 3, 2 at 6, 3 at 9, Lost from 10, one recovery."""
    policy = Policy(3, 3)
    decisions = run(policy, [fail(attempt=n) for n in range(1, 13)] + [ok(), ok()])
    phases = [d.memory.phase for d in decisions]
    assert phases[:12] == [Phase.WARN] * 2 + [Phase.DOWN] * 7 + [Phase.LOST] * 3
    assert phases[12:] == [Phase.UP, Phase.UP]
    assert notifications(decisions) == [
        (3, Alert(1, 3, Phase.DOWN, 3)),
        (6, Alert(2, 3, Phase.DOWN, 6)),
        (9, Alert(3, 3, Phase.DOWN, 9)),
        (13, Recovery(3, 12)),
    ]
    intervals = [
        (index, action.interval)
        for index, d in enumerate(decisions, 1)
        for action in d.actions
        if isinstance(action, SetInterval)
    ]
    # Set at failure 9 (it applies after failure 10), back to Down on recovery.
    assert intervals == [(9, Interval.LOST), (13, Interval.DOWN)]
    assert decisions[-1].memory == Memory(last_result=decisions[-1].memory.last_result)


def test_variables_are_published_before_the_notification_reads_them() -> None:
    decisions = run(Policy(3, 3), [fail(attempt=n) for n in range(1, 4)])
    assert decisions[0].actions == (Publish(Phase.WARN, 0, 1),)
    assert decisions[1].actions == ()
    assert decisions[2].actions == (Publish(Phase.DOWN, 1, 3), Alert(1, 3, Phase.DOWN, 3))


def test_one_failure_per_alert_one_alert() -> None:
    decisions = run(Policy(1, 1), [fail(attempt=n) for n in range(1, 5)] + [ok()])
    assert [d.memory.phase for d in decisions] == [Phase.DOWN] + [Phase.LOST] * 3 + [Phase.UP]
    assert notifications(decisions) == [(1, Alert(1, 1, Phase.DOWN, 1)), (5, Recovery(1, 4))]
    assert SetInterval(Interval.LOST) in decisions[0].actions


def test_no_alert_no_recovery() -> None:
    decisions = run(Policy(3, 3), [fail(attempt=1), fail(attempt=2), ok()])
    assert notifications(decisions) == []
    assert decisions[-1].actions == (Publish(Phase.UP, 0, 0),)


def test_a_result_handled_twice_counts_once() -> None:
    policy = Policy(3, 3)
    first = fail(attempt=1)
    decision = decide(policy, Memory(), first)
    again = decide(policy, decision.memory, first)
    assert again.actions == () and again.memory == decision.memory
    assert again.notes == ("result already handled",)


def test_downtime_suspends_counting_and_alerts() -> None:
    policy = Policy(3, 3)
    results = [fail(attempt=n, in_downtime=True) for n in range(1, 7)]
    results += [fail(attempt=n) for n in range(7, 10)]  # downtime over, still failing
    decisions = run(policy, results)
    assert [d.memory.phase for d in decisions[:6]] == [Phase.MAINTENANCE] * 6
    assert all(d.memory.failures == 0 for d in decisions[:6])
    # Counting starts afresh: the 3rd failure after the downtime is alert 1.
    assert notifications(decisions) == [(9, Alert(1, 3, Phase.DOWN, 3))]


def test_recovery_in_downtime_is_not_sent_and_the_episode_ends() -> None:
    policy = Policy(1, 3)
    decisions = run(policy, [fail(attempt=1), ok(in_downtime=True), fail(attempt=1), ok()])
    assert notifications(decisions) == [
        (1, Alert(1, 3, Phase.DOWN, 1)),
        (3, Alert(1, 3, Phase.DOWN, 1)),
        (4, Recovery(1, 1)),
    ]
    assert "not sent: in downtime" in decisions[1].notes[0]


def test_disabled_service_never_alerts() -> None:
    decisions = run(Policy(1, 1), [fail(attempt=n, enabled=False) for n in range(1, 5)])
    assert notifications(decisions) == []
    assert {d.memory.phase for d in decisions} == {Phase.DISABLED}


def test_engine_starting_a_new_problem_drops_a_stale_count() -> None:
    """We missed the passing test (handler disabled for a while): attempt 1 says so."""
    policy = Policy(3, 3)
    stale = Memory(failures=5, alerts=1, phase=Phase.DOWN)
    decision = decide(policy, stale, fail(attempt=1))
    assert decision.memory.failures == 1 and decision.memory.alerts == 0
    assert decision.memory.phase == Phase.WARN
    assert any("dropping 5 failure(s)" in note for note in decision.notes)


def test_undelivered_alert_is_sent_with_the_next_failure() -> None:
    policy = Policy(3, 3)
    memory = Memory()
    for attempt in (1, 2):
        memory = decide(policy, memory, fail(attempt=attempt)).memory
    third = decide(policy, memory, fail(attempt=3))
    assert Alert(1, 3, Phase.DOWN, 3) in third.actions
    # The engine did not take it: only the count moves on.
    memory = third.after(0)
    assert (memory.failures, memory.alerts, memory.phase) == (3, 0, Phase.WARN)
    fourth = decide(policy, memory, fail(attempt=4))
    assert fourth.actions == (Publish(Phase.DOWN, 1, 4), Alert(1, 3, Phase.DOWN, 4))


def test_undelivered_recovery_is_retried_by_the_next_pass() -> None:
    policy = Policy(1, 1)
    memory = decide(policy, Memory(), fail(attempt=1)).memory
    recovery = decide(policy, memory, ok())
    assert Recovery(1, 1) in recovery.actions
    memory = recovery.after(0)
    again = decide(policy, memory, ok())
    assert Recovery(1, 0) in again.actions
    assert again.memory.alerts == 0


def test_partial_commit_keeps_what_took_effect() -> None:
    policy = Policy(1, 1)
    decision = decide(policy, Memory(), fail(attempt=1))
    assert decision.actions == (
        Publish(Phase.DOWN, 1, 1),
        Alert(1, 1, Phase.DOWN, 1),
        SetInterval(Interval.LOST),
    )
    assert decision.after(1).phase == Phase.DOWN and decision.after(1).alerts == 0
    assert decision.after(2).alerts == 1 and decision.after(2).interval == Interval.DOWN
    assert decision.after(3).interval == Interval.LOST


def test_hard_state_is_noted() -> None:
    result = Result(False, "CRITICAL", True, 1, "1")
    decision = decide(Policy(3, 3), Memory(), result)
    assert any("HARD" in note for note in decision.notes)


@pytest.mark.parametrize(("f", "m"), [(0, 1), (1, 0), (-1, 3)])
def test_policy_needs_positive_numbers(f: int, m: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Policy(f, m)


def test_texts_name_the_alert_and_the_monitor() -> None:
    assert (
        alert_text(Alert(2, 3, Phase.DOWN, 6), "Mail")
        == "Mail: ipMonitor Down: alert 2 of 3 after 6 consecutive failed test(s)"
    )
    assert recovery_text(Recovery(3, 12)) == (
        "ipMonitor Up: recovered after 12 failed test(s); 3 alert(s) had been sent"
    )


# Per step: (passing?, in downtime?)
steps = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    f=st.integers(1, 5),
    m=st.integers(1, 4),
    pattern=steps,
    fail_run=st.integers(0, 30),
)
def test_properties_of_any_result_sequence(
    f: int, m: int, pattern: list[tuple[bool, bool]], fail_run: int
) -> None:
    """Alerts 1..k numbered in order, each at failure k*F, k <= M; a recovery iff k > 0."""
    policy = Policy(f, m)
    results = [fail(attempt=n + 1) for n in range(fail_run)]
    attempt = fail_run
    for passing, downtime in pattern:
        if passing:
            attempt = 0
            results.append(ok(in_downtime=downtime))
        else:
            attempt += 1
            results.append(fail(attempt=attempt, in_downtime=downtime))
    memory = Memory()
    sent = 0  # alerts in the current episode
    for result in results:
        decision = decide(policy, memory, result)
        before, memory = memory, decision.memory
        alerts = [a for a in decision.actions if isinstance(a, Alert)]
        recoveries = [a for a in decision.actions if isinstance(a, Recovery)]
        if result.ok:
            assert not alerts
            assert len(recoveries) == (1 if sent and not result.in_downtime else 0)
            sent = 0
            assert memory.phase == Phase.UP and memory.failures == 0
        elif result.in_downtime:
            assert not alerts and not recoveries
            sent = 0
            assert memory.phase == Phase.MAINTENANCE
        else:
            assert not recoveries
            assert memory.failures == before.failures + 1
            for alert in alerts:
                sent += 1
                assert alert.number == sent <= m
                assert alert.failures == sent * f
            assert memory.phase == policy.phase(memory.failures)
        expected = Interval.LOST if memory.failures >= f * m else Interval.DOWN
        assert memory.interval == expected
