"""pop3_ipmon_alert: gives a Nagios service ipMonitor's alerting through Nagios' own model.

The service turns HARD at failure F (max_check_attempts) and Nagios sends
its own PROBLEM and RECOVERY notifications. Nagios runs this handler after
every result (as its ocsp_command); it counts failures in a state file and
tells Nagios when the next PROBLEM may go, which check interval to use and
ipMonitor's state for the notification commands. Every run logs one line
(syslog, or --log-file): the engine discards a handler's output.

Icinga 2 needs no handler: its Notification objects send ipMonitor's alerts
(contrib/icinga2/pop3_ipmon_templates.conf). An old event command line
(`pop3_ipmon_alert icinga2 ...`) exits 3 with one line saying so.

With a recovery configuration (contrib/RECOVERY.md) it then runs the
recovery actions due at the alert the engine just sent, outside the lock.

Exit status: 0 done; 1 the engine did not take an action (retried with the
next result); 2 the state cannot be kept; 3 bad arguments; 4 a recovery
action failed or was refused.
"""

from __future__ import annotations

import sys

from check_pop3_ipmon.alerting import statefile
from check_pop3_ipmon.alerting.actors import build_actor
from check_pop3_ipmon.alerting.arguments import (
    EXIT_RECOVERY,
    EXIT_STATE,
    EXIT_UNDELIVERED,
    EXIT_USAGE,
    PROG,
    Invocation,
    UsageError,
    build_parser,
    log_path_in,
    parse,
)
from check_pop3_ipmon.alerting.errors import EngineError
from check_pop3_ipmon.alerting.logsetup import log, setup_logging
from check_pop3_ipmon.alerting.model import (
    Decision,
    Hold,
    NextAlert,
    Policy,
    Publish,
    Result,
    decide,
)

# Nagios runs this after every result of every ipMonitor service: typing,
# dataclasses, logging, pathlib's extras, hashlib and tempfile each cost a
# failure's run milliseconds of CPU (bench/alerting_scale.py), so none of
# them is imported on its path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Sequence
    from typing import Optional

    from check_pop3_ipmon.alerting.model import Action

__all__ = ["PROG", "build_parser", "main", "run"]


def describe(action: Action) -> str:
    if isinstance(action, Publish):
        return f"published {action.phase.value}"
    if isinstance(action, NextAlert):
        if action.after is None:
            return "no further alert"
        return f"next alert after {action.after} failure(s)"
    if isinstance(action, Hold):
        return f"held further alerts after alert {action.alerts} (sticky acknowledgement)"
    moved = " and moved the next check" if action.move else ""
    return f"set the {action.interval.value} interval{moved}"


def summary(inv: Invocation, decision: Decision, done: int) -> str:
    memory = decision.after(done)
    head = (
        f"{inv.host}!{inv.service}: {inv.state} {inv.state_type} attempt {inv.attempt}"
        f" -> {memory.phase.value}, failures {memory.failures}, alerts {memory.alerts}"
    )
    events = []
    if decision.alert:
        sent = "the engine sent" if decision.base.alerts >= decision.alert else "held:"
        events.append(f"{sent} alert {decision.alert} of {inv.max_alerts} (PROBLEM)")
    if decision.recovery:
        events.append(f"the engine sent the recovery after {decision.recovery} alert(s)")
    parts = [describe(action) for action in decision.actions[:done]]
    parts += [f"NOT DONE: {describe(action)}" for action in decision.actions[done:]]
    return "; ".join([head, *events, *parts, *decision.notes])


def result_of(inv: Invocation) -> Result:
    return Result(
        ok=inv.state == "OK",
        state=inv.state,
        hard=inv.state_type == "HARD",
        attempt=inv.attempt,
        check_time=inv.check_time,
        in_downtime=inv.in_downtime,
        enabled=inv.enabled,
        notified=inv.notification_number,
    )


def _unsaved(inv: Invocation, exc: OSError, decision: Optional[Decision], done: int) -> int:
    reason = f"cannot write the state in {inv.state_directory}: {exc.strerror or exc}"
    if decision is not None:
        log.error("%s; NOT RECORDED, may repeat: %s", summary(inv, decision, done), reason)
    else:
        log.error("%s!%s: %s; nothing done", inv.host, inv.service, reason)
    return EXIT_STATE


class _Progress:
    """How far a run got: kept outside the lock so a failed save can say it."""

    __slots__ = ("decision", "done", "error")

    def __init__(self) -> None:
        self.decision: Optional[Decision] = None
        self.done = 0
        self.error: Optional[str] = None


def _decide_and_act(inv: Invocation, slot: statefile.Slot, progress: _Progress) -> None:
    """Under the lock: count the result, record it, then have the engine act."""
    memory = slot.load()
    if slot.problem:
        log.warning("%s!%s: %s", inv.host, inv.service, slot.problem)
    actor = build_actor(inv)
    decision = decide(Policy(inv.failures_per_alert, inv.max_alerts), memory, result_of(inv))
    # Record the counted result before acting: if the state cannot be
    # written (disk full), the engine is told nothing, and the count
    # survives should the engine kill a handler that hangs.
    if decision.after(0) != memory:
        slot.save(decision.after(0))
    progress.decision = decision
    if decision.actions:
        progress.done, progress.error = actor.run(decision.actions)
        if progress.done:
            slot.save(decision.after(progress.done))


def _locked_run(inv: Invocation, progress: _Progress) -> Optional[int]:
    """Decide and act under the service's lock: an exit status if that failed."""
    try:
        with statefile.locked(inv.state_directory, inv.host, inv.service) as slot:
            _decide_and_act(inv, slot, progress)
    except EngineError as exc:
        log.error("%s!%s: %s", inv.host, inv.service, exc)
        return EXIT_USAGE
    except statefile.StateError as exc:
        log.error("%s!%s: state: %s; nothing done", inv.host, inv.service, exc)
        return EXIT_STATE
    except OSError as exc:
        acted = progress.decision if progress.done else None
        return _unsaved(inv, exc, acted, progress.done)
    return None


def run(inv: Invocation) -> int:
    try:
        statefile.prepare_directory(inv.state_directory)
    except statefile.StateError as exc:
        log.error("%s!%s: %s", inv.host, inv.service, exc)
        return EXIT_STATE
    progress = _Progress()
    failed = _locked_run(inv, progress)
    decision = progress.decision
    if failed is not None or decision is None:
        return EXIT_STATE if failed is None else failed
    line = summary(inv, decision, progress.done)
    if progress.error:
        log.error("%s; %s", line, progress.error)
    else:
        log.info("%s", line)
    recovered = recover(inv, decision)
    if progress.error:
        return EXIT_UNDELIVERED
    return EXIT_RECOVERY if recovered else 0


def recover(inv: Invocation, decision: Decision) -> int:
    """Run the recovery actions due at the alert this result sent (0 if none).

    ipMonitor's actions are alerts of their own. A failure the engine
    retries decides the same alert again; recovery's cooldown keeps that
    from acting twice.
    """
    path = inv.recovery_file
    if path is None:
        return 0
    from check_pop3_ipmon.recovery import hook  # only where recovery is configured

    phase = next((a.phase for a in decision.actions if isinstance(a, Publish)), None)
    alerting = hook.Alerting(
        engine=inv.engine,
        service=inv.service,
        alert=decision.alert,
        facts=hook.Facts(
            monitor=inv.monitor_name,
            host=inv.host,
            address=inv.address,
            state=inv.state,
            ipmon_state=(phase or decision.base.phase).value,
            failures=decision.base.failures,
            output=inv.output,
            host_state=inv.host_state,
            target=inv.recovery_target,
            in_downtime=inv.in_downtime,
            acknowledged=bool(inv.acknowledged),
            enabled=inv.enabled,
        ),
        acknowledged_known=inv.acknowledged is not None,
    )
    return hook.run(path, alerting, _bridge(), status_file=inv.status_file)


def _bridge() -> logging.Logger:
    """A logging.Logger (what recovery logs to) that writes to the handler's log."""
    import logging

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log.log(record.levelno, "%s", record.getMessage())

    bridge = logging.getLogger(f"{PROG}.recovery")
    bridge.setLevel(logging.INFO)
    bridge.propagate = False
    bridge.handlers = [Forward()]
    return bridge


RETIRED = (
    f"{PROG} icinga2 is no longer needed: Icinga 2 now sends ipMonitor's alerts on its own; "
    'remove the event command (event_command = "pop3_ipmon_alert" and its EventCommand '
    "object) and the handler's API user; nothing done (see contrib/README.md, Icinga 2)"
)


def _retired(argv: Optional[Sequence[str]]) -> int:
    """An Icinga 2 event command still configured from an older release."""
    if setup_logging(log_path_in(argv)) != "stderr":
        print(RETIRED)  # Icinga 2 logs a failed event command's output as a warning
    log.error("%s", RETIRED)
    return EXIT_USAGE


def main(argv: Optional[Sequence[str]] = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["icinga2"]:
        return _retired(words)
    try:
        inv = parse(argv)
    except UsageError as exc:
        if setup_logging(log_path_in(argv)) != "stderr":
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        log.error("bad arguments: %s; nothing done (the engine notifies on its own)", exc)
        return EXIT_USAGE
    setup_logging(inv.log_path)
    for warning in inv.warnings:
        log.warning("%s!%s: %s", inv.host, inv.service, warning)
    return run(inv)


def entry() -> None:
    sys.exit(main())
