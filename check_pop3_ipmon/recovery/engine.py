"""run_actions(): decide which recovery actions an alert calls for, and run them safely.

Every rule can only stop an action, never start one. In order: inputs are
validated (a hostile value refuses the whole run); the service's actions for
this alert number; the service enabled, not in downtime, not acknowledged,
in a failed state; the per-service lock (waited for within half the
deadline; past that the alert is remembered for the next run); not already
run for this alert number in this outage; the cooldown and the per-problem
cap. Reboot Server also needs: enabled for the service, the host UP, the
service CRITICAL, a target that is not this machine, and no reboot of that
host within the reboot cooldown.

Failing closed: a state file, lock or audit log that cannot be read or
written stops the actions it would have guarded ("refused"), and any other
failure ends the run as "failed" with its reason, in the audit log and
syslog as far as they work and in the results the caller logs. Never an
exception out of run_actions().
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional

from check_pop3_ipmon.core.deadline import Deadline
from check_pop3_ipmon.recovery import credentials as creds
from check_pop3_ipmon.recovery import plan, runner, selfcheck, state, validate
from check_pop3_ipmon.recovery.audit import Audit, AuditError
from check_pop3_ipmon.recovery.config import (
    Action,
    Config,
    ExternalProcess,
    RebootServer,
    ServiceRecovery,
)
from check_pop3_ipmon.recovery.transport import CredentialSet, transport

OK, FAILED, SKIPPED, REFUSED, DRY_RUN = "ok", "failed", "skipped", "refused", "dry-run"
# STARTING is only ever an audit record (before an action runs); WARNING a
# result that does not change the exit status (a future time clamped);
# DEFERRED an action another run's lock kept from being considered, whose
# alert is remembered for the next run.
STARTING, WARNING, DEFERRED = "starting", "warning", "deferred"
# The part of the deadline a run may spend waiting for the service's lock
# (held by a run whose actions take up to its own deadline); the rest is for
# its actions. Past it, the alert is remembered for the next run instead.
LOCK_SHARE = 0.5
PENDING_WAIT = 1.0  # the pending file's own lock is held for one write
PROBLEM_STATES = ("WARNING", "CRITICAL")
ENGINE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
IPMON_STATES = ("Up", "Warn", "Down", "Lost", "Maintenance", "Disabled")
HOST_STATES = ("UP", "DOWN", "UNREACHABLE")
RESOLVE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Facts:
    """What the engine knows about the alert: macros, hence data, hence checked.

    `state` is the engine's (OK, WARNING, CRITICAL, UNKNOWN); `ipmon_state`
    ipMonitor's (Up, Warn, Down, Lost). `target` is the service's Recovery
    Parameters from the engine (a custom variable), used when the recovery
    config does not name one; the host's address is the last resort.
    """

    monitor: str
    host: str
    address: str
    state: str
    ipmon_state: str
    failures: int
    output: str = ""
    host_state: str = "UP"
    target: str = ""
    in_downtime: bool = False
    acknowledged: bool = False
    enabled: bool = True


FACT_NAMES = tuple(f.name for f in fields(Facts))


@dataclass(frozen=True)
class ActionResult:
    action: str
    kind: str
    target: str
    result: str
    reason: str = ""
    duration: float = 0.0
    steps: tuple[runner.StepResult, ...] = ()
    planned: tuple[plan.Step, ...] = field(default=(), compare=False)
    alert: Optional[int] = None  # when not the run's: a remembered alert's action


def exit_code(results: Sequence[ActionResult]) -> int:
    """0: done or nothing to do; 1: an action or the run failed; 2: refused (input,
    configuration, credentials, state, lock or audit log)."""
    if any(r.result == REFUSED for r in results):
        return 2
    if any(r.result == FAILED for r in results):
        return 1
    return 0


def environment(
    service_key: str, alert: int, facts: Facts, target: str, action: str
) -> dict[str, str]:
    """The documented POP3_IPMON_* variables, on top of a fixed minimal environment."""
    env = dict(runner.BASE_ENV)
    env.update(
        {
            "POP3_IPMON_SERVICE": service_key,
            "POP3_IPMON_MONITOR": facts.monitor,
            "POP3_IPMON_HOST": facts.host,
            "POP3_IPMON_ADDRESS": facts.address,
            "POP3_IPMON_TARGET": target,
            "POP3_IPMON_SERVICE_STATE": facts.state,
            "POP3_IPMON_STATE": facts.ipmon_state,
            "POP3_IPMON_HOST_STATE": facts.host_state,
            "POP3_IPMON_ALERT": str(alert),
            "POP3_IPMON_FAILURES": str(facts.failures),
            "POP3_IPMON_OUTPUT": facts.output,
            "POP3_IPMON_ACTION": action,
        }
    )
    return {key: validate.text(value) for key, value in env.items()}


def check_facts(service_key: str, alert: int, facts: Facts) -> None:
    """Refuse anything that is not plainly what the engine would send."""
    validate.service_key(service_key)
    validate.monitor_name(facts.monitor)
    for value, allowed, what in (
        (facts.state, ENGINE_STATES, "service state"),
        (facts.ipmon_state, IPMON_STATES, "ipMonitor state"),
        (facts.host_state, HOST_STATES, "host state"),
    ):
        if value not in allowed:
            raise validate.Refused(
                f"{what} {validate.shown(value)} is not one of {', '.join(allowed)}"
            )
    if alert < 0 or facts.failures < 0:
        raise validate.Refused("alert number and failure count cannot be negative")
    if facts.host:
        validate.host_name(facts.host)
    if facts.address:
        validate.target(facts.address, "host address")
    if facts.target:
        validate.target(facts.target, "recovery target")


@contextlib.contextmanager
def _lock(path: Path, dry_run: bool, wait: float = 0.0) -> Iterator[bool]:
    """The real lock, or none at all in a dry run (which writes nothing)."""
    if dry_run:
        yield True
        return
    with state.locked(path, wait) as got:
        yield got


def run_actions(
    service_key: str,
    alert_number: int,
    facts: Facts,
    config: Config,
    *,
    dry_run: bool = False,
    now: Optional[float] = None,
) -> list[ActionResult]:
    """Run the service's actions for this alert; call it on every result, OK included.

    OK results end a problem (after `settle`), so the handler should call this
    on recoveries too. Returns one result per action considered: empty when
    the service has no recovery configured or nothing is due. Bad input, a bad
    credentials file or an unwritable audit log come back as "refused"
    results (written to the audit log when it is open), never as exceptions.
    """
    service = config.services.get(service_key)
    if service is None:
        return []
    run = _Run(service, alert_number, facts, config, dry_run=dry_run, now=now)
    try:
        run.audit = None if dry_run else Audit(config.audit_log, config.syslog)
    except AuditError as error:
        return [ActionResult("-", "-", "-", REFUSED, str(error))]
    try:
        run.go()
    except Exception as error:
        reason = f"internal error: {type(error).__name__}: {error}"
        run.add(ActionResult("-", "-", run.target, FAILED, reason))
    finally:
        if run.audit is not None:
            run.audit.close()
    return run.results


class _Run:
    """One handler run for one service: its audit log, deadline, state and results."""

    def __init__(
        self,
        service: ServiceRecovery,
        alert: int,
        facts: Facts,
        config: Config,
        *,
        dry_run: bool,
        now: Optional[float],
    ) -> None:
        self.service = service
        self.key = service.key
        self.alert = alert
        self.acting = alert  # the alert number of the action being considered
        self.facts = facts
        self.config = config
        self.dry_run = dry_run
        self.now = time.time() if now is None else now
        self.deadline = Deadline(config.deadline)
        self.store = state.Store(config.state_dir, dry_run=dry_run)
        self.memory = state.ServiceState()
        self.target = "-"
        self.audit: Optional[Audit] = None
        self.audit_broken = False  # said once; syslog still gets every record
        self.results: list[ActionResult] = []
        self._credentials: Optional[Mapping[str, CredentialSet]] = None

    def go(self) -> None:
        facts = self.facts
        try:
            check_facts(self.key, self.alert, facts)
            self.target = validate.target(self.service.target or facts.target or facts.address)
        except validate.Refused as error:
            self.add(ActionResult("-", "-", "-", REFUSED, str(error)))
            return
        failing = facts.state != "OK" and facts.ipmon_state != "Up"
        due = self.due_at(self.alert) if failing else []
        if self.dry_run and not due:
            return
        try:
            self.decide(failing, due)
        except state.StateError as error:
            # Before any action ran: the state that guards them is not to be had.
            reason = f"{error}; not run"
            if not due:
                self.add(ActionResult("-", "-", self.target, REFUSED, reason))
            for action in due:
                self.add(self.result(action, REFUSED, reason))

    def due_at(self, alert: int) -> list[Action]:
        actions = [self.config.actions[name] for name in self.service.actions]
        return [action for action in actions if alert in action.alerts]

    def decide(self, failing: bool, due: list[Action]) -> None:
        """Under the service's lock: read the state, run what is due, save the state."""
        if not self.dry_run:
            state.ensure_dir(self.config.state_dir)
        wait = 0.0
        if not self.dry_run:
            wait = max(0.0, self.deadline.remaining() - self.config.deadline * (1 - LOCK_SHARE))
        with _lock(self.store.service_lock(self.key), self.dry_run, wait) as got:
            if not got:
                self.defer(due, wait)
                return
            clock = state.Clock(self.now)
            self.memory = self.store.load(self.key, clock)
            self.noted(clock)
            pending = [] if self.dry_run else self.store.take_pending(self.key, PENDING_WAIT)
            if failing:
                self.memory.saw_failure(self.now, self.config.settle)
            else:
                self.memory.saw_ok(self.now)  # the outage is over: its pending alerts too
            for action, alert in self.with_pending(due, pending if failing else []):
                self.acting = alert
                self.add(self.one(action))
            self.acting = self.alert
            if not self.dry_run:
                self.save()

    def with_pending(self, due: list[Action], pending: list[int]) -> list[tuple[Action, int]]:
        """This alert's actions, then those of remembered alerts; each action once a run."""
        chosen = [(action, self.alert) for action in due]
        for alert in sorted(set(pending) - {self.alert}, reverse=True):
            names = {action.name for action, _ in chosen}
            chosen += [(action, alert) for action in self.due_at(alert) if action.name not in names]
        return chosen

    def defer(self, due: list[Action], waited: float) -> None:
        """Another run held the lock all the time we could wait: remember the alert."""
        if not due:
            return
        try:
            self.store.remember(self.key, self.alert, PENDING_WAIT)
        except state.StateError as error:
            reason = f"another run held the lock for {waited:.0f}s and {error}; not run"
            for action in due:
                self.add(self.result(action, REFUSED, reason))
            return
        for action in due:
            self.add(
                self.result(
                    action,
                    DEFERRED,
                    f"another run held the lock for {waited:.0f}s; alert {self.alert} "
                    "remembered: its actions are considered at the next result",
                )
            )

    def save(self) -> None:
        """After the actions: a failure here cannot undo them, so it is reported, not raised."""
        try:
            self.store.save(self.key, self.memory)
        except OSError as error:
            reason = f"state: cannot save {self.config.state_dir}: {error.strerror or error}"
            self.add(ActionResult("-", "-", self.target, FAILED, reason))

    def noted(self, clock: state.Clock) -> None:
        for note in clock.notes:
            self.add(ActionResult("-", "-", self.target, WARNING, f"state: {note}"))

    def result(self, action: Action, outcome: str, reason: str) -> ActionResult:
        return ActionResult(
            action.name, action.kind, self.target, outcome, reason, alert=self.remembered()
        )

    def remembered(self) -> Optional[int]:
        """The alert number of the action being considered, if not this run's."""
        return None if self.acting == self.alert else self.acting

    def add(self, result: ActionResult) -> None:
        self.results.append(result)
        steps = [
            {"step": s.label, "argv": list(s.argv), "rc": s.rc, "duration": round(s.duration, 3)}
            for s in result.steps
        ]
        try:
            self.record(result, round(result.duration, 3), steps)
        except AuditError as error:
            if not self.audit_broken:  # the record went to syslog; say it once in the results
                self.audit_broken = True
                self.results.append(ActionResult("-", "-", self.target, FAILED, str(error)))

    def record(
        self, result: ActionResult, duration: float, steps: Sequence[Mapping[str, object]]
    ) -> None:
        if self.audit is None:
            return
        self.audit.record(
            service=self.key,
            action=result.action,
            kind=result.kind,
            target=result.target,
            alert=self.alert if result.alert is None else result.alert,
            result=result.result,
            reason=result.reason,
            duration=duration,
            steps=steps,
        )

    def credentials(self, name: Optional[str]) -> CredentialSet:
        if name is None:
            return creds.LOCAL
        if self._credentials is None:
            if self.config.credentials_file is None:
                raise creds.CredentialError(
                    f"credential set {name} is used, but {self.config.path} sets no "
                    "credentials_file"
                )
            self._credentials = creds.load(self.config.credentials_file)
        found = self._credentials.get(name)
        if found is None:
            raise creds.CredentialError(
                f"credential set {name} is not in {self.config.credentials_file}"
            )
        creds.check_identity(found)
        return found

    def gate(self, action: Action) -> str:
        """Why the action must not run now, or "" when it may."""
        facts, config = self.facts, self.config
        reasons = (
            (not facts.enabled, "the service is disabled"),
            (facts.in_downtime and config.skip_in_downtime, "the service is in downtime"),
            (facts.acknowledged and config.skip_when_acknowledged, "the problem is acknowledged"),
            (
                facts.state not in PROBLEM_STATES,
                f"the service state is {facts.state}, not WARNING or CRITICAL",
            ),
        )
        for applies, reason in reasons:
            if applies:
                return reason
        if self.memory.acted_on(action.name, self.acting):
            return (
                f"already run for alert {self.acting} in this outage (the same alert decided "
                "again: not delivered, or a second handler)"
            )
        last = self.memory.last_action.get(action.name)
        cooldown = config.cooldown_for(self.service, action)
        if last is not None and self.now - last < cooldown:
            return f"cooldown: last run {self.now - last:.0f}s ago, cooldown {cooldown:g}s"
        cap = config.max_actions_for(self.service)
        if self.memory.problem_actions >= cap:
            return (
                f"max actions: {self.memory.problem_actions} of {cap} already run in this problem"
            )
        return ""

    def one(self, action: Action) -> ActionResult:
        reason = self.gate(action)
        if reason:
            return self.result(action, SKIPPED, reason)
        env = environment(self.key, self.acting, self.facts, self.target, action.name)
        try:
            if isinstance(action, ExternalProcess):
                return self.execute(action, plan.external_process(action, env))
            credentials = self.credentials(action.credentials or self.service.credentials)
            if isinstance(action, RebootServer):
                return self.reboot(action, credentials, env)
            here = transport(credentials).runs_here and self.is_here() is not None
            steps = plan.restart_service(action, self.target, credentials, env, here)
        except (creds.CredentialError, plan.PlanError) as error:
            return self.result(action, REFUSED, str(error))
        except state.StateError as error:  # the reboot registry or its lock
            return self.result(action, REFUSED, f"{error}; not run")
        return self.execute(action, steps)

    def is_here(self) -> Optional[str]:
        return selfcheck.monitoring_host(
            self.target, min(RESOLVE_TIMEOUT, self.deadline.remaining())
        )

    def reboot(
        self, action: RebootServer, credentials: CredentialSet, env: Mapping[str, str]
    ) -> ActionResult:
        facts = self.facts
        refusal = ""
        if not self.service.allow_reboot:
            refusal = f"Reboot Server is not enabled for {self.key} (allow_reboot = no)"
        elif facts.host_state != "UP":
            refusal = f"the host is {facts.host_state}, not UP"
        elif facts.state != "CRITICAL":
            refusal = f"the service is {facts.state}, not CRITICAL"
        if refusal:
            return self.result(action, SKIPPED, refusal)
        mine = self.is_here()
        if mine:
            return self.result(action, REFUSED, f"refusing to reboot the monitoring host: {mine}")
        steps = plan.reboot_server(action, self.target, credentials, env)
        # The same machine may be named by address in one service, by name in another.
        resolved = selfcheck.resolve(self.target, min(RESOLVE_TIMEOUT, self.deadline.remaining()))
        identities = [self.target.lower().rstrip("."), *sorted({str(a) for a in resolved or ()})]
        with _lock(self.store.reboot_lock, self.dry_run) as got:
            if not got:
                return self.result(action, SKIPPED, "another run is rebooting a host")
            clock = state.Clock(self.now)
            reboots = self.store.reboots(clock)
            self.noted(clock)
            last = max((reboots[i] for i in identities if i in reboots), default=None)
            cooldown = self.config.reboot_cooldown
            if last is not None and self.now - last < cooldown:
                return self.result(
                    action,
                    SKIPPED,
                    f"{self.target} was rebooted {self.now - last:.0f}s ago "
                    f"(reboot cooldown {cooldown:g}s)",
                )
            return self.execute(
                action,
                steps,
                lambda: self.store.record_reboot(reboots, identities, self.now, cooldown),
            )

    def execute(
        self,
        action: Action,
        steps: list[plan.Step],
        record: Optional[Callable[[], None]] = None,
    ) -> ActionResult:
        if self.dry_run:
            return ActionResult(
                action.name,
                action.kind,
                self.target,
                DRY_RUN,
                "would run",
                planned=tuple(steps),
                alert=self.remembered(),
            )
        refusal = self.prepare(action, steps, record)
        if refusal:
            return self.result(action, REFUSED, f"{refusal}; not run")
        start = time.monotonic()
        done: list[runner.StepResult] = []
        outcome, reason = OK, ", ".join(step.label for step in steps)
        for step in steps:
            step_result = run_step(step, self.deadline)
            done.append(step_result)
            if not step_result.ok and step.required:
                outcome, reason = FAILED, failure(step_result)
                break
        return ActionResult(
            action.name,
            action.kind,
            self.target,
            outcome,
            reason,
            time.monotonic() - start,
            tuple(done),
            tuple(steps),
            alert=self.remembered(),
        )

    def prepare(
        self, action: Action, steps: list[plan.Step], record: Optional[Callable[[], None]]
    ) -> str:
        """Count the action, then write its "starting" record; why it must not run, or ""."""
        before = copy.deepcopy(self.memory)
        # Recorded before running: a run killed half-way still counts.
        self.memory.acted(action.name, self.now, self.acting)
        try:
            self.store.save(self.key, self.memory)
            if record is not None:
                record()
        except OSError as error:
            self.memory = before
            return f"state: cannot record the action in {self.config.state_dir}: " + (
                error.strerror or str(error)
            )
        planned = [{"step": step.label, "argv": list(step.invocation.argv)} for step in steps]
        starting = self.result(action, STARTING, ", ".join(s.label for s in steps))
        try:
            self.record(starting, 0.0, planned)
        except AuditError as error:
            self.audit_broken = True
            return str(error)
        return ""


def failure(step: runner.StepResult) -> str:
    text = f"{step.label} failed"
    if step.rc is not None:
        text += f" (exit {step.rc})"
    if step.detail:
        text += f": {step.detail}"
    return text


def run_step(step: plan.Step, deadline: Deadline) -> runner.StepResult:
    """Run a step; a verification is retried until it passes or its time is up."""
    give_up = time.monotonic() + step.retry_for
    while True:
        outcome = runner.run(step.label, step.invocation.argv, deadline, step.env)
        if outcome.ok or outcome.timed_out or time.monotonic() >= give_up:
            return outcome
        if deadline.remaining() < 0.5:
            return outcome
        time.sleep(0.25)
