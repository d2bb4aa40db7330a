"""The alerting model without engines: ipMonitor's table, edges, and properties.

The results come from a small stand-in for the engine's own state machine
(max_check_attempts = F: SOFT below F failures, HARD from F), so each test
sees what the handler sees in Nagios or Icinga 2.
"""

from __future__ import annotations

import itertools
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check_pop3_ipmon.alerting.model import (
    Decision,
    Hold,
    Interval,
    Memory,
    NextAlert,
    Phase,
    Policy,
    Publish,
    Result,
    Schedule,
    decide,
)

_clock = itertools.count(1000)


def fail(
    attempt: int = 2,
    hard: bool = False,
    in_downtime: bool = False,
    enabled: bool = True,
    notified: Optional[int] = None,
) -> Result:
    return Result(
        False, "CRITICAL", hard, attempt, str(next(_clock)), in_downtime, enabled, notified
    )


def ok(in_downtime: bool = False, hard: bool = True) -> Result:
    return Result(True, "OK", hard, 1, str(next(_clock)), in_downtime)


def outage(f: int, count: int) -> list[Result]:
    """`count` failures as the engine reports them with max_check_attempts = F."""
    return [fail(attempt=min(n, f), hard=n >= f) for n in range(1, count + 1)]


def run(policy: Policy, results: list[Result]) -> list[Decision]:
    memory, decisions = Memory(), []
    for result in results:
        decision = decide(policy, memory, result)
        memory = decision.memory
        decisions.append(decision)
    return decisions


def alerts(decisions: list[Decision]) -> list[tuple[int, str, int]]:
    """(result index 1-based, 'alert'/'recovery', number) as the engine sent them."""
    out = []
    for index, decision in enumerate(decisions, 1):
        if decision.alert:
            out.append((index, "alert", decision.alert))
        if decision.recovery:
            out.append((index, "recovery", decision.recovery))
    return out


def of_type(decisions: list[Decision], kind: type) -> list[tuple[int, object]]:
    return [
        (index, action)
        for index, decision in enumerate(decisions, 1)
        for action in decision.actions
        if isinstance(action, kind)
    ]


def test_ipmonitors_worked_example() -> None:
    """F=3, M=3: Warn, Warn, alert 1 at 3, 2 at 6, 3 at 9, Lost from 10, one recovery."""
    policy = Policy(3, 3)
    decisions = run(policy, [*outage(3, 12), ok(), ok()])
    phases = [d.memory.phase for d in decisions]
    assert phases[:12] == [Phase.WARN] * 2 + [Phase.DOWN] * 7 + [Phase.LOST] * 3
    assert phases[12:] == [Phase.UP, Phase.UP]
    assert alerts(decisions) == [
        (3, "alert", 1),
        (6, "alert", 2),
        (9, "alert", 3),
        (13, "recovery", 3),
    ]
    # check_interval: Down from failure 1 (retry_interval serves the SOFT
    # ones, check_interval the HARD ones from F); Lost from failure 10, whose
    # next test the engine had put at Down: moved; Up at the recovery, whose
    # next test the engine had put at Lost: moved.
    assert of_type(decisions, Schedule) == [
        (1, Schedule(Interval.DOWN, False)),
        (10, Schedule(Interval.LOST, True)),
        (13, Schedule(Interval.UP, True)),
    ]
    last = decisions[-1].memory
    assert last == Memory(gate=False, last_result=last.last_result)  # F > 1: closed while Up


def test_the_next_alert_is_allowed_for_exactly_the_failure_that_sends_it() -> None:
    decisions = run(Policy(3, 3), outage(3, 10))
    nexts = [d.actions for d in decisions]
    after = [next(a for a in actions if isinstance(a, NextAlert)) for actions in nexts]
    assert [(a.after, a.number) for a in after] == [
        (2, 1),
        (1, 1),
        (3, 2),
        (2, 2),
        (1, 2),
        (3, 3),
        (2, 3),
        (1, 3),
        (None, 0),  # failure 9: alert 3 of 3 sent, no more
        (None, 0),
    ]
    assert [a.gate for a in after] == [False, True, False, False, True, False, False, True] + [
        False
    ] * 2
    # The recovery starts afresh: the next alert is F failures away. Passing
    # tests after it tell the engine nothing; with F = 1 a pass opens the gate.
    passing = decide(Policy(3, 3), decisions[-1].memory, ok())
    assert NextAlert(3, 1) in passing.actions
    again = decide(Policy(3, 3), passing.memory, ok())
    assert again.actions == ()
    lost = run(Policy(1, 1), outage(1, 3))[-1].memory
    assert NextAlert(1, 1) in decide(Policy(1, 1), lost, ok()).actions


def test_variables_are_published_when_the_state_changes() -> None:
    decisions = run(Policy(3, 3), outage(3, 4))
    assert of_type(decisions, Publish) == [
        (1, Publish(Phase.WARN, 0, 1)),
        (3, Publish(Phase.DOWN, 1, 3)),
    ]


def test_one_failure_per_alert_one_alert() -> None:
    decisions = run(Policy(1, 1), [*outage(1, 4), ok()])
    assert [d.memory.phase for d in decisions] == [Phase.DOWN] + [Phase.LOST] * 3 + [Phase.UP]
    assert alerts(decisions) == [(1, "alert", 1), (5, "recovery", 1)]
    # Failure 1 is HARD at once: the engine put the next test at check_interval (Up).
    assert of_type(decisions, Schedule) == [
        (1, Schedule(Interval.DOWN, True)),
        (2, Schedule(Interval.LOST, True)),
        (5, Schedule(Interval.UP, True)),
    ]


def test_soft_recovery_moves_the_next_test_to_up() -> None:
    """Nagios schedules after a SOFT recovery at retry_interval: the Down interval."""
    decisions = run(Policy(3, 3), [*outage(3, 2), ok(hard=False)])
    assert alerts(decisions) == []
    assert decisions[-1].actions[-1] == Schedule(Interval.UP, True)
    assert Publish(Phase.UP, 0, 0) in decisions[-1].actions


def test_a_result_handled_twice_counts_once() -> None:
    policy = Policy(3, 3)
    first = fail(attempt=1)
    decision = decide(policy, Memory(), first)
    again = decide(policy, decision.memory, first)
    assert again.actions == () and again.memory == decision.memory
    assert again.notes == ("result already handled",)


def test_downtime_suspends_counting_and_alerts() -> None:
    policy = Policy(3, 3)
    results = outage(3, 6)
    results = [fail(r.attempt, r.hard, in_downtime=True) for r in results]
    results += [fail(attempt=3, hard=True) for _ in range(3)]  # over, still failing
    decisions = run(policy, results)
    assert [d.memory.phase for d in decisions[:6]] == [Phase.MAINTENANCE] * 6
    assert all(d.memory.failures == 0 for d in decisions[:6])
    # In downtime the next alert is F failures away; afresh after it: alert 1 at the third.
    assert NextAlert(3, 1) in decisions[0].actions  # closed once, for the whole downtime
    assert alerts(decisions) == [(9, "alert", 1)]


def test_recovery_in_downtime_is_left_to_the_engine() -> None:
    decisions = run(Policy(1, 3), [*outage(1, 1), ok(in_downtime=True), *outage(1, 1), ok()])
    assert alerts(decisions) == [(1, "alert", 1), (3, "alert", 1), (4, "recovery", 1)]
    assert "falls in a downtime" in decisions[1].notes[0]


def test_disabled_service_never_alerts_nor_moves_checks() -> None:
    decisions = run(Policy(1, 1), [fail(attempt=1, hard=True, enabled=False) for _ in range(4)])
    assert alerts(decisions) == []
    assert {d.memory.phase for d in decisions} == {Phase.DISABLED}
    assert all(not a.move for _, a in of_type(decisions, Schedule))


def test_engine_starting_a_new_problem_drops_a_stale_count() -> None:
    """We missed the passing test (handler not run for a while): SOFT attempt 1 says so."""
    stale = Memory(failures=5, alerts=1, phase=Phase.DOWN, interval=Interval.DOWN)
    decision = decide(Policy(3, 3), stale, fail(attempt=1))
    assert decision.memory.failures == 1 and decision.memory.alerts == 0
    assert decision.memory.phase == Phase.WARN
    assert any("dropping 5 failure(s)" in note for note in decision.notes)


def test_the_engines_own_count_wins() -> None:
    """Nagios says how many PROBLEMs it sent: none while the host is DOWN."""
    policy = Policy(1, 3)
    decision = decide(policy, Memory(), fail(attempt=1, hard=True, notified=0))
    # Alert 1 is due (recovery actions run for it), but the engine held it.
    assert decision.alert == 1 and decision.memory.alerts == 0
    assert any("sent 0 alert(s), not 1" in note for note in decision.notes)
    agreed = decide(policy, Memory(), fail(attempt=1, hard=True, notified=1))
    assert agreed.alert == 1 and agreed.notes == ()


def test_partial_commit_keeps_what_took_effect() -> None:
    decision = decide(Policy(1, 1), Memory(), fail(attempt=1, hard=True))
    assert decision.actions == (
        Publish(Phase.DOWN, 1, 1),
        NextAlert(None, 0),
        Schedule(Interval.DOWN, True),
    )
    assert decision.after(1).phase == Phase.DOWN and decision.after(1).gate
    assert not decision.after(2).gate and decision.after(2).interval == Interval.UP
    assert decision.after(3).interval == Interval.DOWN
    assert decision.after(0).failures == 1  # the count holds whatever the engine took


@pytest.mark.parametrize(("f", "m"), [(0, 1), (1, 0), (-1, 3)])
def test_policy_needs_positive_numbers(f: int, m: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Policy(f, m)


# Per step: (passing?, in downtime?)
steps = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=80)


@settings(max_examples=300, deadline=None)
@given(f=st.integers(1, 5), m=st.integers(1, 4), pattern=steps, fail_run=st.integers(0, 30))
def test_properties_of_any_result_sequence(
    f: int, m: int, pattern: list[tuple[bool, bool]], fail_run: int
) -> None:
    """Alerts 1..k numbered in order, each at failure k*F, k <= M; a recovery iff k > 0;
    the engine's check_interval always the interval of the state."""
    policy = Policy(f, m)
    results = outage(f, fail_run)
    engine_count = fail_run
    for passing, downtime in pattern:
        if passing:
            engine_count = 0
            results.append(ok(in_downtime=downtime))
        else:
            engine_count += 1
            hard = engine_count >= f
            results.append(fail(min(engine_count, f), hard, in_downtime=downtime))
    memory = Memory()
    sent = 0  # alerts in the current episode
    for result in results:
        decision = decide(policy, memory, result)
        before, memory = memory, decision.memory
        if result.ok:
            assert not decision.alert
            assert decision.recovery == (sent if not result.in_downtime else 0)
            sent = 0
            assert memory.phase == Phase.UP and memory.failures == 0
        elif result.in_downtime:
            assert not decision.alert and not decision.recovery
            sent = 0
            assert memory.phase == Phase.MAINTENANCE
        else:
            assert not decision.recovery
            assert memory.failures == before.failures + 1
            if decision.alert:
                sent += 1
                assert decision.alert == sent <= m
                assert memory.failures == sent * f
            assert memory.phase == policy.phase(memory.failures)
        assert memory.interval == policy.interval(memory.failures)
        assert memory.gate == (policy.failures_to_next_alert(memory.failures) == 1) or (
            result.ok or result.in_downtime
        )


def test_an_alert_the_engine_owes_goes_with_the_very_next_failure() -> None:
    """Nagios did not get our word before failure 2F (its number stays 1): the
    next failure may notify, with number 2, whatever the count says."""
    policy = Policy(2, 3)
    memory = Memory()
    for attempt, notified in ((1, 0), (2, 1), (3, 1)):
        memory = decide(
            policy, memory, fail(min(attempt, 2), attempt >= 2, notified=notified)
        ).memory
    late = decide(policy, memory, fail(2, True, notified=1))  # failure 4: alert 2 was due
    assert late.alert == 2 and late.memory.alerts == 1
    assert NextAlert(1, 2) in late.actions
    caught_up = decide(policy, late.memory, fail(2, True, notified=2))  # failure 5
    assert caught_up.memory.alerts == 2 and NextAlert(1, 3) in caught_up.actions


def test_a_delayed_run_does_not_bring_back_an_old_engine_count() -> None:
    """Under load the run for failure 3 may come after the one for failure 4:
    its notification number is history, and must not make the engine send
    an alert beyond M."""
    policy = Policy(1, 2)
    memory = decide(policy, Memory(), Result(False, "CRITICAL", True, 1, "100", notified=1)).memory
    memory = decide(policy, memory, Result(False, "CRITICAL", True, 1, "160", notified=2)).memory
    memory = decide(policy, memory, Result(False, "CRITICAL", True, 1, "280", notified=2)).memory
    stale = decide(policy, memory, Result(False, "CRITICAL", True, 1, "220", notified=1))
    assert stale.memory.alerts == 2
    assert NextAlert(None, 0) in stale.actions


def test_nagios_numbers_an_outage_on_across_a_downtime() -> None:
    """Alert 1, then a downtime: counting starts at 1 after it, and the alerts
    left are Nagios' 2 and 3 (it resets its number only at a recovery and
    stops at M on its own), at failures 3 and 6 after it; then Lost."""
    policy = Policy(3, 3)
    results = [
        fail(1, notified=0),
        fail(2, notified=0),
        fail(3, True, notified=1),
        fail(3, True, in_downtime=True, notified=1),
        fail(3, True, in_downtime=True, notified=1),
    ]
    results += [fail(3, True, notified=n) for n in (1, 1, 2, 2, 2, 3, 3)]
    decisions = run(policy, results)
    assert alerts(decisions) == [(3, "alert", 1), (8, "alert", 2), (11, "alert", 3)]
    assert [d.memory.phase for d in decisions[5:]] == [Phase.WARN] * 2 + [Phase.DOWN] * 4 + [
        Phase.LOST
    ]
    # In the downtime: the next alert F failures after it, past the next test.
    assert NextAlert(3, 2) in decisions[4].actions
    assert NextAlert(None) in decisions[-1].actions


def test_a_downtime_in_lost_leaves_no_alert() -> None:
    policy = Policy(1, 2)
    results = [fail(1, True, notified=1), fail(1, True, notified=2)]
    results += [fail(1, True, in_downtime=True, notified=2)]
    results += [fail(1, True, notified=2) for _ in range(3)]
    decisions = run(policy, results)
    assert alerts(decisions) == [(1, "alert", 1), (2, "alert", 2)]
    assert NextAlert(None) in decisions[2].actions
    assert {d.memory.phase for d in decisions[3:]} == {Phase.LOST}


def holds(decisions: list[Decision]) -> list[tuple[int, object]]:
    return of_type(decisions, Hold)


def test_alert_m_out_holds_the_rest_of_the_outage_once() -> None:
    """Once Nagios says it sent alert M, the rest of the outage is held (its
    state may still change, CRITICAL to UNKNOWN, which would notify): once,
    at that very result; and again in the next outage."""
    policy = Policy(3, 3)
    first = [fail(min(n, 3), n >= 3, notified=min(n // 3, 3)) for n in range(1, 13)]
    second = [fail(min(n, 3), n >= 3, notified=min(n // 3, 3)) for n in range(1, 10)]
    decisions = run(policy, [*first, ok(), *second])
    assert holds(decisions) == [(9, Hold(3)), (22, Hold(3))]
    assert alerts(decisions)[:4] == [
        (3, "alert", 1),
        (6, "alert", 2),
        (9, "alert", 3),
        (13, "recovery", 3),
    ]


def test_no_hold_while_nagios_has_not_sent_alert_m() -> None:
    """Our count says M, Nagios' number does not (a host DOWN, the
    administrator's acknowledgement, a run of ours it did not take): nothing
    is held, so whatever Nagios still owes goes out."""
    policy = Policy(1, 2)
    held_back = run(policy, [fail(1, True, notified=0) for _ in range(4)])
    assert holds(held_back) == []
    counted_alone = run(policy, [fail(1, True) for _ in range(4)])
    assert holds(counted_alone) == []


def test_no_hold_in_a_downtime_but_after_it_at_nagios_number_m() -> None:
    """A downtime after alert 1: Nagios' 2 and 3 after it; held at its 3."""
    policy = Policy(3, 3)
    results = [fail(1, notified=0), fail(2, notified=0), fail(3, True, notified=1)]
    results += [fail(3, True, in_downtime=True, notified=1)]
    results += [fail(3, True, notified=n) for n in (1, 1, 2, 2, 2, 3, 3)]
    decisions = run(policy, results)
    assert holds(decisions) == [(10, Hold(3))]


def test_an_undelivered_hold_goes_again_with_the_next_result() -> None:
    """The command file refused the run that held (done = 0): the next result
    holds again; once Nagios took it, no more holds in this outage."""
    policy = Policy(1, 2)
    memory = decide(policy, Memory(), fail(1, True, notified=1)).memory
    failed = decide(policy, memory, fail(1, True, notified=2))
    assert Hold(2) in failed.actions
    again = decide(policy, failed.after(0), fail(1, True, notified=2))
    assert Hold(2) in again.actions and again.memory.held
    after = decide(policy, again.memory, fail(1, True, notified=2))
    assert not [a for a in after.actions if isinstance(a, Hold)] and after.memory.held
    # The recovery ends the hold (Nagios removes it): the next outage holds anew.
    recovered = decide(policy, after.memory, ok())
    assert not recovered.memory.held


def test_a_late_run_from_an_earlier_outage_holds_nothing() -> None:
    """A run for alert M handled after the recovery and the next failure: its
    number is the old outage's; a hold now would silence the new one."""
    policy = Policy(1, 1)
    memory = decide(policy, Memory(), Result(True, "OK", True, 1, "100")).memory
    memory = decide(policy, memory, Result(True, "OK", True, 1, "160")).memory
    late = decide(policy, memory, Result(False, "CRITICAL", True, 1, "130", notified=1))
    assert not [a for a in late.actions if isinstance(a, Hold)]


def test_a_hold_follows_nagios_number_even_when_our_count_got_there_first() -> None:
    """Our count reached M on its own (a run with no number); Nagios' number
    then says M: held then."""
    policy = Policy(1, 1)
    memory = decide(policy, Memory(), fail(1, True)).memory
    assert memory.alerts == 1 and not memory.held
    decision = decide(policy, memory, fail(1, True, notified=1))
    assert Hold(1) in decision.actions
