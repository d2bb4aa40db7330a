"""ipMonitor's notification control as a pure function of (policy, memory, result).

Counting: each failed test outside downtime adds one; a passing test resets.
Alert k goes out once the count reaches k*F, for k up to M. The state of a
failure n is Warn below F, Down up to M*F, Lost beyond. The first passing
test sends one recovery if, and only if, an alert went out.

Intervals: both engines schedule the next check while processing a result,
before our handler runs, so an interval the handler sets applies from the
check after next. The handler therefore sets, at failure n, the interval
that must follow failure n+1: the Lost interval from n = M*F on. Failure
M*F+1 (the first Lost one) then comes at the Down interval and every test
after it at the Lost interval, as in ipMonitor's table (failure 9 is Down,
10 and later Lost).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Union


class Phase(str, enum.Enum):
    """ipMonitor's monitor states, as shown to notification commands."""

    UP = "Up"
    WARN = "Warn"
    DOWN = "Down"
    LOST = "Lost"
    MAINTENANCE = "Maintenance"
    DISABLED = "Disabled"


class Interval(str, enum.Enum):
    """Which of the service's retry intervals the engine should use."""

    DOWN = "down"
    LOST = "lost"


@dataclass(frozen=True)
class Policy:
    """Notification Control: failures per alert (F) and maximum alerts (M)."""

    failures_per_alert: int = 3
    max_alerts: int = 3

    def __post_init__(self) -> None:
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

    def interval_after_next(self, failures: int) -> Interval:
        """The interval to set at `failures` (it applies after the next failure)."""
        return Interval.LOST if failures >= self.last_alert_at else Interval.DOWN


@dataclass(frozen=True)
class Result:
    """One check result as the engine passed it to the event handler."""

    ok: bool
    state: str  # OK, WARNING, CRITICAL, UNKNOWN
    hard: bool
    attempt: int
    check_time: str  # the engine's own text: identity, never arithmetic
    in_downtime: bool = False
    enabled: bool = True

    @property
    def identity(self) -> str:
        return f"{self.check_time}/{self.attempt}/{self.state}"


@dataclass(frozen=True)
class Memory:
    """What the handler keeps between results (the state file's content)."""

    failures: int = 0
    alerts: int = 0
    phase: Phase = Phase.UP  # as last published to the engine
    interval: Interval = Interval.DOWN  # as last set in the engine
    last_result: str = ""


@dataclass(frozen=True)
class Publish:
    """Set the service's ipMonitor variables (state, alert number, failures)."""

    phase: Phase
    alert: int
    failures: int


@dataclass(frozen=True)
class Alert:
    number: int
    of: int
    phase: Phase
    failures: int


@dataclass(frozen=True)
class Recovery:
    alerts: int
    failures: int


@dataclass(frozen=True)
class SetInterval:
    interval: Interval


Action = Union[Publish, Alert, Recovery, SetInterval]


@dataclass(frozen=True)
class Decision:
    """The memory if no action succeeds (`base`), and the actions in order.

    Each action, once performed, moves its part of the memory forward; an
    action that fails leaves it, so the next result tries again (an unsent
    alert is still due, an unset interval still differs).
    """

    base: Memory
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()

    def after(self, done: int) -> Memory:
        """The memory once the first `done` actions have taken effect."""
        memory = self.base
        for action in self.actions[:done]:
            if isinstance(action, Publish):
                memory = replace(memory, phase=action.phase)
            elif isinstance(action, Alert):
                memory = replace(memory, alerts=action.number)
            elif isinstance(action, Recovery):
                memory = replace(memory, alerts=0)
            else:
                memory = replace(memory, interval=action.interval)
        return memory

    @property
    def memory(self) -> Memory:
        return self.after(len(self.actions))


@dataclass
class _Step:
    """decide()'s working values for one result."""

    phase: Phase
    failures: int
    alerts: int  # what holds if no notification goes out
    shown_alert: int  # the alert number to publish
    notify: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _on_pass(memory: Memory, result: Result) -> _Step:
    step = _Step(Phase.UP, 0, memory.alerts, memory.alerts)
    if memory.alerts and result.in_downtime:
        step.notes.append(f"recovery after {memory.alerts} alert(s) not sent: in downtime")
        step.alerts = 0
    elif memory.alerts:
        step.notify.append(Recovery(memory.alerts, memory.failures))
    return step


def _on_failure(policy: Policy, memory: Memory, result: Result) -> _Step:
    failures, alerts, notes = memory.failures, memory.alerts, []
    if failures and result.attempt == 1:
        # The engine starts a new problem: we missed the passing test.
        notes.append(f"engine restarted its count; dropping {failures} failure(s)")
        failures = 0
    if failures == 0:
        if alerts:
            notes.append(f"recovery after {alerts} alert(s) was never sent")
        alerts = 0
    failures += 1
    step = _Step(policy.phase(failures), failures, alerts, alerts, notes=notes)
    due = policy.due_alert(failures)
    if due > alerts:
        if due > alerts + 1:
            notes.append(f"alert(s) {alerts + 1}..{due - 1} were missed")
        step.notify.append(Alert(due, policy.max_alerts, step.phase, failures))
        step.shown_alert = due
    if result.hard:
        notes.append(
            "the service is HARD: the engine stops calling the handler in a "
            "steady HARD state (max_check_attempts too low, or its host is down)"
        )
    return step


def decide(policy: Policy, memory: Memory, result: Result) -> Decision:
    """What to do about `result`; the caller performs the actions in order."""
    if result.identity == memory.last_result:
        return Decision(memory, notes=("result already handled",))
    if result.ok:
        step = _on_pass(memory, result)
    elif result.in_downtime or not result.enabled:
        # ipMonitor does not test a monitor in maintenance or disabled: what
        # the engine still runs here neither counts nor alerts, and counting
        # starts afresh when the downtime ends.
        step = _Step(Phase.MAINTENANCE if result.in_downtime else Phase.DISABLED, 0, 0, 0)
    else:
        step = _on_failure(policy, memory, result)
    actions: list[Action] = []
    if step.notify or step.phase != memory.phase:
        actions.append(Publish(step.phase, step.shown_alert, step.failures))
    actions.extend(step.notify)
    interval = policy.interval_after_next(step.failures)
    if interval != memory.interval:
        actions.append(SetInterval(interval))
    base = replace(memory, failures=step.failures, alerts=step.alerts, last_result=result.identity)
    return Decision(base, tuple(actions), tuple(step.notes))


def alert_text(alert: Alert, name: str = "") -> str:
    prefix = f"{name}: " if name else ""
    return (
        f"{prefix}ipMonitor {alert.phase.value}: alert {alert.number} of {alert.of} "
        f"after {alert.failures} consecutive failed test(s)"
    )


def recovery_text(recovery: Recovery, name: str = "") -> str:
    prefix = f"{name}: " if name else ""
    return (
        f"{prefix}ipMonitor Up: recovered after {recovery.failures} failed test(s); "
        f"{recovery.alerts} alert(s) had been sent"
    )
