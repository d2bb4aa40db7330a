"""ipMonitor's notification control, through the engine's own model.

Counting: each failed test outside downtime adds one; a passing test resets.
The engine's service has max_check_attempts = F, so failures 1..F-1 are SOFT
(ipMonitor's Warn) and failure F turns it HARD CRITICAL (Down): the engine
itself sends PROBLEM notification 1 there. Alert k is the engine's PROBLEM
notification number k, at failure k*F, for k up to M; after M*F the monitor
is Lost. The first passing test makes the engine send its RECOVERY, which it
does only when a PROBLEM went out. This module decides, for one result, what
the engine must be told so that its next results follow that timeline:

- when the next PROBLEM may go (NextAlert): the engine re-notifies by time,
  we want it by failure count;
- which check interval to use (Schedule): Up while OK, Down while Warn or
  Down, Lost once Lost, and whether the check the engine already scheduled
  must be moved (it computed that time before we ran);
- ipMonitor's state for notification commands (Publish);
- once the engine has sent alert M, that it sends no more in this outage
  whatever its state does (Hold).
"""

from __future__ import annotations

import enum

from check_pop3_ipmon.core.record import Record, replace

# The handler runs after every result: dataclasses and typing cost it
# milliseconds each time (bench/alerting_scale.py), so neither is imported.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union


class Phase(str, enum.Enum):
    """ipMonitor's monitor states, as shown to notification commands."""

    UP = "Up"
    WARN = "Warn"
    DOWN = "Down"
    LOST = "Lost"
    MAINTENANCE = "Maintenance"
    DISABLED = "Disabled"


class Interval(str, enum.Enum):
    """Which of ipMonitor's intervals the engine's check_interval holds."""

    UP = "up"
    DOWN = "down"
    LOST = "lost"


class Policy(Record):
    """Notification Control: failures per alert (F) and maximum alerts (M)."""

    __slots__ = ("failures_per_alert", "max_alerts")

    def __init__(self, failures_per_alert: int = 3, max_alerts: int = 3) -> None:
        self.failures_per_alert = failures_per_alert
        self.max_alerts = max_alerts
        if self.failures_per_alert < 1:
            raise ValueError("failures per alert must be at least 1")
        if self.max_alerts < 1:
            raise ValueError("maximum alerts must be at least 1")

    @property
    def last_alert_at(self) -> int:
        return self.failures_per_alert * self.max_alerts

    def phase(self, failures: int) -> Phase:
        if failures <= 0:
            return Phase.UP
        if failures < self.failures_per_alert:
            return Phase.WARN
        if failures <= self.last_alert_at:
            return Phase.DOWN
        return Phase.LOST

    def due_alert(self, failures: int) -> int:
        """The highest alert number the count has reached (0: none yet)."""
        return min(max(failures, 0) // self.failures_per_alert, self.max_alerts)

    def alert_at(self, failures: int) -> int:
        """The alert this very failure sends (0: none)."""
        f = self.failures_per_alert
        if failures <= 0 or failures % f or failures > self.last_alert_at:
            return 0
        return failures // f

    def failures_to_next_alert(self, failures: int) -> Optional[int]:
        """How many more failures until the next alert (None: no more in this outage)."""
        if failures >= self.last_alert_at:
            return None
        f = self.failures_per_alert
        return (failures // f + 1) * f - failures

    def interval(self, failures: int) -> Interval:
        phase = self.phase(failures)
        if phase in (Phase.WARN, Phase.DOWN):
            return Interval.DOWN
        return Interval.LOST if phase == Phase.LOST else Interval.UP


class Result(Record):
    """One check result as the engine passed it to the handler."""

    __slots__ = (
        "attempt",
        "check_time",
        "enabled",
        "hard",
        "in_downtime",
        "notified",
        "ok",
        "state",
    )

    def __init__(  # noqa: PLR0917 - positional, as the dataclass it was
        self,
        ok: bool,
        state: str,  # OK, WARNING, CRITICAL, UNKNOWN
        hard: bool,
        attempt: int,
        check_time: str,  # the engine's own text: identity, never arithmetic
        in_downtime: bool = False,
        enabled: bool = True,
        notified: Optional[int] = None,  # the engine's notification number, if it tells
    ) -> None:
        self.ok, self.state, self.hard, self.attempt = ok, state, hard, attempt
        self.check_time, self.in_downtime, self.enabled = check_time, in_downtime, enabled
        self.notified = notified

    @property
    def identity(self) -> str:
        return f"{self.check_time}/{self.attempt}/{self.state}"


class Memory(Record):
    """What the handler keeps between results (the state file's content)."""

    __slots__ = (
        "alerts",
        "failures",
        "gate",
        "held",
        "interval",
        "last_result",
        "offset",
        "phase",
    )

    def __init__(  # noqa: PLR0917 - positional, as the dataclass it was
        self,
        failures: int = 0,
        alerts: int = 0,  # PROBLEM notifications the engine sent in this outage
        phase: Phase = Phase.UP,  # as last published to the engine
        interval: Interval = Interval.UP,  # the engine's check_interval, as last set
        gate: bool = True,  # Icinga 2: the service's notifications may send a PROBLEM
        last_result: str = "",
        # Nagios: PROBLEMs its count held when ours started afresh (a downtime
        # in the outage). Nagios numbers an outage's PROBLEMs on and stops at
        # M on its own (pop3_ipmon_config's escalation): those alerts are spent.
        offset: int = 0,
        held: bool = False,  # Nagios took our Hold for this outage
    ) -> None:
        self.failures, self.alerts, self.phase, self.interval = failures, alerts, phase, interval
        self.gate, self.last_result, self.offset = gate, last_result, offset
        self.held = held


class Publish(Record):
    """Set the service's ipMonitor variables (state, alert number, failures)."""

    __slots__ = ("alert", "failures", "phase")

    def __init__(self, phase: Phase, alert: int, failures: int) -> None:
        self.phase, self.alert, self.failures = phase, alert, failures


class NextAlert(Record):
    """The engine's next PROBLEM may go with the `after`-th next failed test.

    None: not in this outage any more (Lost). Nagios takes it as the time of
    its next re-notification; Icinga 2 as a gate on its notifications (open
    only when the very next failure alerts, see `gate`).
    """

    __slots__ = ("after", "interval", "number")

    def __init__(
        self, after: Optional[int], number: int = 0, interval: Interval = Interval.DOWN
    ) -> None:
        self.after = after
        self.number = number  # the number that alert has (0: none)
        # The interval at which the next test comes (then Down ones): Nagios
        # bounds its delay by the time of the `after`-th next test. Not
        # compared: two NextAlerts are the same word to the engine.
        self.interval = interval

    def _values(self) -> tuple[object, ...]:
        return (self.after, self.number)

    @property
    def gate(self) -> bool:
        return self.after == 1


class Schedule(Record):
    """Set check_interval to `interval`; with `move`, also move the next check to
    the result's check time plus that interval (the engine chose another)."""

    __slots__ = ("interval", "move")

    def __init__(self, interval: Interval, move: bool) -> None:
        self.interval, self.move = interval, move


class Hold(Record):
    """Alert M went out: no further PROBLEM in this outage, whatever the state does.

    Nagios notifies at once on a HARD change from one problem state to another
    (CRITICAL to UNKNOWN when a starved plugin hits its backstop timeout,
    CRITICAL to WARNING when a server comes back slow), and such a change
    clears its "no more notifications" (base/checks.c): after alert M that is
    alert M + 1. Nagios takes it as a sticky acknowledgement without a
    notification, which it removes itself at the recovery.
    """

    __slots__ = ("alerts",)

    def __init__(self, alerts: int) -> None:
        self.alerts = alerts


if TYPE_CHECKING:
    Action = Union[Publish, NextAlert, Schedule, Hold]


class Decision(Record):
    """The memory if no action succeeds (`base`), and the actions in order.

    Each action, once performed, moves its part of the memory forward; an
    action that fails leaves it, so the next result tries again.
    `alert` is ipMonitor's alert this result is (0: none): the engine sent it
    as its PROBLEM unless something held it (memory.alerts says what went
    out); `recovery` the alerts a RECOVERY it sent closes (0: none).
    """

    __slots__ = ("actions", "alert", "base", "notes", "recovery")

    def __init__(
        self,
        base: Memory,
        actions: tuple[Action, ...] = (),
        notes: tuple[str, ...] = (),
        alert: int = 0,
        recovery: int = 0,
    ) -> None:
        self.base, self.actions, self.notes = base, actions, notes
        self.alert, self.recovery = alert, recovery

    def after(self, done: int) -> Memory:
        """The memory once the first `done` actions have taken effect."""
        memory = self.base
        for action in self.actions[:done]:
            if isinstance(action, Publish):
                memory = replace(memory, phase=action.phase)
            elif isinstance(action, NextAlert):
                memory = replace(memory, gate=action.gate)
            elif isinstance(action, Hold):
                memory = replace(memory, held=True)  # until the outage ends
            else:
                memory = replace(memory, interval=action.interval)
        return memory

    @property
    def memory(self) -> Memory:
        return self.after(len(self.actions))


class _Count(Record):
    __slots__ = ("alert", "alerts", "failures", "notes", "offset", "phase", "recovery")

    def __init__(  # noqa: PLR0917 - positional, as the dataclass it was
        self,
        phase: Phase,
        failures: int,
        alerts: int,  # PROBLEMs the engine has sent in this outage, this result included
        alert: int = 0,  # the PROBLEM this result sent
        recovery: int = 0,
        notes: tuple[str, ...] = (),
        offset: int = 0,
    ) -> None:
        self.phase, self.failures, self.alerts, self.alert = phase, failures, alerts, alert
        self.recovery, self.notes, self.offset = recovery, notes, offset


def view(policy: Policy, offset: int, failures: int) -> tuple[Policy, int]:
    """The policy and failure count that decide once `offset` alerts are spent:
    the M - offset alerts left, or, none left, a count already past the last."""
    if offset < policy.max_alerts:
        return Policy(policy.failures_per_alert, policy.max_alerts - offset), failures
    return policy, failures + policy.last_alert_at if failures > 0 else 0


def _on_pass(memory: Memory, result: Result) -> _Count:
    if memory.alerts and result.in_downtime:
        note = f"recovery after {memory.alerts} alert(s) falls in a downtime: the engine holds it"
        return _Count(Phase.UP, 0, 0, notes=(note,))
    return _Count(Phase.UP, 0, 0, recovery=memory.alerts)


def _time(text: str) -> Optional[float]:
    try:
        return float(text.split("/", 1)[0])
    except ValueError:
        return None


def engine_count(memory: Memory, result: Result) -> Optional[int]:
    """The engine's notification number, if it is news: a result older than the
    last one handled (its run was delayed behind a later one) may carry a
    number the engine has since moved past. Check times only order here:
    after a clock jump back the handler counts on its own until they rise."""
    last = _time(memory.last_result)
    now = _time(result.check_time)
    if result.notified is None or (last is not None and (now is None or now < last)):
        return None
    return result.notified


def _on_failure(policy: Policy, memory: Memory, result: Result) -> _Count:
    failures, alerts, offset, notes = memory.failures, memory.alerts, memory.offset, []
    notified = engine_count(memory, result)
    if failures and result.attempt == 1 and not result.hard:
        # The engine starts a new problem: we missed the passing test.
        notes.append(f"engine restarted its count; dropping {failures} failure(s)")
        failures, alerts, offset = 0, 0, 0
    failures += 1
    left, counted = view(policy, offset, failures)
    alert = offset + left.alert_at(counted) if left.alert_at(counted) else 0
    if alert:
        alerts = alert
    if notified is not None and notified != alerts:
        # The engine says what it sent (Nagios): a host DOWN, an
        # acknowledgement or a missed run of ours holds PROBLEMs back. The
        # alert stays due for recovery actions, which are alerts of their own.
        notes.append(f"the engine sent {notified} alert(s), not {alerts}")
        if notified > alerts and not alert and memory.last_result:
            # It alerted on its own since our last run (a HARD state change
            # right after a downtime that held the SOFT ones; its own
            # re-notification while we could not act): that alert starts
            # the next F failures. Not with a state started afresh: the
            # number may be from long ago.
            failures = max(
                failures, (min(notified, policy.max_alerts) - offset) * left.failures_per_alert
            )
            left, counted = view(policy, offset, failures)
        alerts = min(notified, policy.max_alerts)
    phase = left.phase(counted)
    return _Count(phase, failures, alerts, alert, notes=tuple(notes), offset=offset)


def _count(policy: Policy, memory: Memory, result: Result) -> _Count:
    if result.ok:
        return _on_pass(memory, result)
    if result.in_downtime or not result.enabled:
        # ipMonitor does not test a monitor in maintenance or disabled: what
        # the engine still runs here neither counts nor alerts, and counting
        # starts afresh when the downtime ends. Nagios' number goes on
        # (only a recovery resets it): what it sent is spent (Memory.offset).
        spent = min(result.notified or 0, policy.max_alerts)
        phase = Phase.MAINTENANCE if result.in_downtime else Phase.DISABLED
        return _Count(phase, 0, spent, offset=spent)
    return _on_failure(policy, memory, result)


def _engine_interval(memory: Memory, result: Result) -> Interval:
    """The interval the engine used to schedule the check after this result:
    retry_interval (always the Down interval) in a SOFT state, else its
    check_interval."""
    return Interval.DOWN if not result.hard else memory.interval


def decide(policy: Policy, memory: Memory, result: Result) -> Decision:
    """What to do about `result`; the caller performs the actions in order."""
    if result.identity == memory.last_result:
        return Decision(memory, notes=("result already handled",))
    count = _count(policy, memory, result)
    actions: list[Action] = []
    if count.alert or count.recovery or count.phase != memory.phase:
        shown = count.recovery or count.alerts
        actions.append(Publish(count.phase, shown, count.failures))
    counting = not result.ok and not (result.in_downtime or not result.enabled)
    # Nagios' own number says what it did send: never a late run's (its
    # number may be an earlier outage's, and the hold would silence this one).
    sent = engine_count(memory, result) or 0
    held = memory.held and not result.ok and count.alerts > 0
    if counting and result.hard and sent >= policy.max_alerts and not held:
        # Until Nagios takes it: an undelivered hold goes again with the next result.
        actions.append(Hold(policy.max_alerts))
    left, counted = view(policy, count.offset, count.failures)
    after = left.failures_to_next_alert(counted) if counting else left.failures_per_alert
    if not counting and not result.ok and count.offset >= policy.max_alerts:
        after = None  # in downtime after alert M: Nagios sends no more in this outage
    number = count.offset + left.alert_at(counted + after) if after else 0
    behind = count.alerts < count.offset + left.due_alert(counted)
    if counting and engine_count(memory, result) is not None and behind:
        # The engine is behind (it did not take our last word in time):
        # the alert it owes goes out with the very next failure.
        after, number = 1, count.alerts + 1
    settled = memory.last_result and memory.phase == count.phase and not memory.failures
    interval = left.interval(counted)
    nagios = result.notified is not None  # only Nagios passes its number
    if counting or (nagios and not result.ok) or not settled or (after == 1) != memory.gate:
        # Each failure moves the next alert on, and so does the end of an
        # outage or downtime (Icinga 2 needs its number reset for alert 1);
        # each failed result in downtime too on Nagios (its delay must reach
        # past the next test, or the first failure after it would alert;
        # Icinga 2's gate stays closed by itself); passing
        # tests in a row tell the engine nothing.
        actions.append(NextAlert(after, number, interval))
    move = result.enabled and _engine_interval(memory, result) != interval
    if move or interval != memory.interval:
        actions.append(Schedule(interval, move))
    base = replace(
        memory,
        failures=count.failures,
        alerts=count.alerts,
        offset=count.offset,
        last_result=result.identity,
        held=held,
    )
    return Decision(base, tuple(actions), count.notes, count.alert, count.recovery)
