"""pop3_ipmon_alert: the event handler that gives a service ipMonitor's alerting.

The engine runs it after every result of a service that stays SOFT while it
fails (max_check_attempts far above any outage) and on recovery. It counts
failures in a state file and has the engine send custom notifications through
its own contacts and notification commands. Every run logs one line (syslog,
or --log-file): the engines discard a handler's output.

With a recovery configuration (contrib/RECOVERY.md) it then runs the
recovery actions due at the alert it just sent, outside the state lock.

Exit status: 0 done; 1 the engine did not take an action (retried with the
next result); 2 the state cannot be kept; 3 bad arguments; 4 a recovery
action failed or was refused.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional, Protocol, TypeVar

from check_pop3_ipmon import __version__
from check_pop3_ipmon.alerting import icinga2, nagios, statefile
from check_pop3_ipmon.alerting.model import (
    Action,
    Alert,
    Decision,
    Policy,
    Publish,
    Recovery,
    Result,
    decide,
)
from check_pop3_ipmon.core import values
from check_pop3_ipmon.core.monitor_name import MAX_NAME, has_control, too_long

T = TypeVar("T")
PROG = "pop3_ipmon_alert"
STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
EXIT_UNDELIVERED, EXIT_STATE, EXIT_USAGE, EXIT_RECOVERY = 1, 2, 3, 4
RECOVERY_FILE = "pop3_ipmon-recovery.ini"

log = logging.getLogger(PROG)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            print(message.strip())
        sys.exit(EXIT_USAGE if status == 0 else status)


def monitor_name(text: str) -> str:
    """ipMonitor's Monitor Name: up to 64 characters, display only."""
    if too_long(text):
        raise argparse.ArgumentTypeError(
            f"monitor name is {len(text)} characters long; ipMonitor allows at most "
            f"{MAX_NAME}: {text[:MAX_NAME]!r}..."
        )
    if has_control(text):
        raise argparse.ArgumentTypeError(f"monitor name holds control characters: {text!r}")
    return text


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        return _usage(values.count, text, low)

    return parse


def _interval(text: str) -> float:
    if not re.fullmatch(r"\d{1,9}(\.\d{1,9})?", text.strip()) or float(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive interval, not {text!r}")
    return float(text)


def _state(text: str) -> str:
    word = text.strip().upper()
    if word.isdigit() and int(word) in STATES.values():
        return next(name for name, code in STATES.items() if code == int(word))
    if word not in STATES:
        raise argparse.ArgumentTypeError(f"unknown service state {text!r}")
    return word


def _state_type(text: str) -> str:
    word = text.strip().upper()
    if word not in ("SOFT", "HARD", "0", "1"):
        raise argparse.ArgumentTypeError(f"state type must be SOFT or HARD, not {text!r}")
    return {"0": "SOFT", "1": "HARD"}.get(word, word)


def _usage(parse: Callable[..., T], *args: Any) -> T:
    """A core value parser's ValueError as argparse's usage error."""
    try:
        return parse(*args)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _flag(text: str) -> bool:
    """An engine's flag or depth (--enabled, downtime depths, acknowledgement
    0/1/2), read as recovery reads it: one reading of each macro."""
    return _usage(values.engine_flag, text)


def _check_time(text: str) -> str:
    if not re.fullmatch(r"-?\d{1,12}(\.\d{1,9})?", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a UNIX time, not {text!r}")
    return text.strip()


def _path(text: str) -> Optional[Path]:
    """A path, or none: Icinga 2 passes a variable set to "" as an empty argument."""
    return Path(text) if text.strip() else None


def _name(text: str) -> str:
    if not text or any(ord(ch) < 32 for ch in text):
        raise argparse.ArgumentTypeError(f"invalid object name {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="ipMonitor's alerting for a Nagios 4 or Icinga 2 service "
        "(run as its event handler).",
        epilog="See contrib/README.md for the engine configuration.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    engines = parser.add_subparsers(dest="engine", required=True, metavar="ENGINE")
    for engine in ("nagios", "icinga2"):
        sub = engines.add_parser(engine, help=f"the service runs in {engine}")
        g = sub.add_argument_group("the check result (engine macros)")
        g.add_argument("--host", required=True, type=_name, help="host name")
        g.add_argument("--service", required=True, type=_name, help="service name")
        g.add_argument("--state", required=True, type=_state, help="OK, WARNING, ...")
        g.add_argument("--state-type", required=True, type=_state_type, help="SOFT or HARD")
        g.add_argument("--attempt", required=True, type=_count(1), help="the engine's attempt")
        g.add_argument("--check-time", required=True, type=_check_time, help="last check time")
        g.add_argument("--downtime", type=_flag, default=False, help="service downtime depth")
        g.add_argument("--host-downtime", type=_flag, default=False, help="host downtime depth")
        g.add_argument(
            "--enabled", type=_flag, default=True, help="active checks enabled (default true)"
        )
        p = sub.add_argument_group("ipMonitor settings")
        p.add_argument("--failures-per-alert", type=_count(1), default=3, metavar="F")
        p.add_argument("--max-alerts", type=_count(1), default=3, metavar="M")
        p.add_argument(
            "--down-interval",
            type=_interval,
            required=True,
            help="the Down interval, in the unit of the engine's retry_interval",
        )
        p.add_argument(
            "--lost-interval", type=_interval, required=True, help="the Lost interval, likewise"
        )
        p.add_argument("--monitor-name", type=monitor_name, default="", help="up to 64 characters")
        s = sub.add_argument_group("state and log")
        where = s.add_mutually_exclusive_group(required=True)
        where.add_argument("--state-dir", type=Path, help="directory for the state files")
        where.add_argument(
            "--state-beside",
            type=Path,
            metavar="FILE",
            help="use the directory pop3_ipmon beside FILE (e.g. Nagios' retention file)",
        )
        s.add_argument("--log-file", type=_path, help="append here instead of syslog")
        r = sub.add_argument_group(
            "recovery actions (contrib/RECOVERY.md; off while the file does not exist)"
        )
        config = r.add_mutually_exclusive_group()
        config.add_argument("--recovery-config", type=_path, metavar="FILE")
        config.add_argument(
            "--recovery-beside",
            type=_path,
            metavar="FILE",
            help=f"use {RECOVERY_FILE} beside FILE (e.g. Nagios' main config file)",
        )
        r.add_argument("--address", default="", help="the host's address")
        r.add_argument("--host-state", default="", help="UP, DOWN or UNREACHABLE")
        r.add_argument("--acknowledged", type=_flag, default=None, help="0, 1 or 2")
        r.add_argument("--output", default="", help="the plugin's output")
        r.add_argument("--recovery-target", default="", help="FQDN, NetBIOS name or IP")
        r.add_argument("--status-file", type=_path, help="Nagios' status.dat (acknowledgements)")
        if engine == "nagios":
            sub.add_argument(
                "--command-file", type=Path, required=True, help="Nagios' command_file (FIFO)"
            )
            sub.add_argument(
                "--command-timeout",
                type=_interval,
                default=10.0,
                help="seconds to wait while the command file is full (default 10)",
            )
        else:
            a = sub.add_argument_group("REST API")
            a.add_argument("--api-url", required=True, help="https://NODE:5665")
            a.add_argument("--api-credentials", type=_path, help="file: username = / password =")
            a.add_argument("--api-ca", type=_path, help="CA certificate (Icinga 2's ca.crt)")
            a.add_argument("--api-cert", type=_path, help="client certificate (ApiUser client_cn)")
            a.add_argument("--api-key", type=_path, help="its private key")
            a.add_argument("--api-timeout", type=_interval, default=10.0)
    return parser


class Actor(Protocol):
    def run(self, actions: Sequence[Action]) -> tuple[int, Optional[str]]:
        """Perform the actions in order: how many took effect, and why not the rest."""


@dataclass
class NagiosActor:
    commands: nagios.NagiosCommands
    command_file: Path
    timeout: float = 10.0

    def run(self, actions: Sequence[Action]) -> tuple[int, Optional[str]]:
        now = int(time.time())
        lines = [line for action in actions for line in self.commands.lines(action, now)]
        try:
            nagios.deliver(self.command_file, lines, self.timeout)  # one write: all or nothing
        except nagios.CommandError as exc:
            return 0, str(exc)
        return len(actions), None


@dataclass
class Icinga2Actor:
    actions: icinga2.Icinga2Actions

    def run(self, actions: Sequence[Action]) -> tuple[int, Optional[str]]:
        for done, action in enumerate(actions):
            try:
                self.actions.perform(action)
            except icinga2.ApiError as exc:
                return done, str(exc)
        return len(actions), None


def build_actor(args: argparse.Namespace) -> Actor:
    if args.engine == "nagios":
        commands = nagios.NagiosCommands(
            args.host,
            args.service,
            down_interval=args.down_interval,
            lost_interval=args.lost_interval,
            monitor_name=args.monitor_name,
        )
        return NagiosActor(commands, args.command_file, args.command_timeout)
    credentials = icinga2.read_credentials(args.api_credentials) if args.api_credentials else None
    api = icinga2.Icinga2Api(
        args.api_url,
        credentials=credentials,
        ca_file=args.api_ca,
        client_cert=args.api_cert,
        client_key=args.api_key,
        timeout=args.api_timeout,
    )
    return Icinga2Actor(
        icinga2.Icinga2Actions(
            api,
            args.host,
            args.service,
            down_interval=args.down_interval,
            lost_interval=args.lost_interval,
            monitor_name=args.monitor_name,
        )
    )


def describe(action: Action) -> str:
    if isinstance(action, Publish):
        return f"published {action.phase.value}"
    if isinstance(action, Alert):
        return f"sent alert {action.number} of {action.of}"
    if isinstance(action, Recovery):
        return "sent recovery"
    return f"set {action.interval.value} interval"


def summary(args: argparse.Namespace, decision: Decision, done: int) -> str:
    memory = decision.after(done)
    head = (
        f"{args.host}!{args.service}: {args.state} {args.state_type} attempt {args.attempt}"
        f" -> {memory.phase.value}, failures {memory.failures}, alerts {memory.alerts}"
    )
    parts = [describe(action) for action in decision.actions[:done]]
    parts += [f"NOT DONE: {describe(action)}" for action in decision.actions[done:]]
    parts += list(decision.notes)
    return "; ".join([head, *parts])


def _syslog() -> Optional[logging.Handler]:
    """The local syslog socket, if there is one (containers often have none)."""
    if not os.path.exists("/dev/log"):
        return None
    try:
        return logging.handlers.SysLogHandler(
            "/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
    except OSError:
        return None


class _LogFile(logging.FileHandler):
    """A log file that may fail to take a line (a full disk): the line goes to
    stderr instead, with the reason, rather than logging's traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"{PROG}: cannot log to {self.baseFilename}: {reason}: {record.getMessage()}",
            file=sys.stderr,
        )


def setup_logging(log_file: Optional[Path]) -> str:
    """Log to the file, else syslog, else stderr; return which."""
    log.setLevel(logging.INFO)
    log.propagate = False
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    handler: logging.Handler
    where = "stderr"
    if log_file is not None:
        try:
            handler = _LogFile(log_file, encoding="utf-8")
            where = "file"
        except OSError as exc:
            print(f"{PROG}: cannot log to {log_file}: {exc.strerror}", file=sys.stderr)
            return setup_logging(None)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    else:
        handler = _syslog() or logging.StreamHandler(sys.stderr)
        if isinstance(handler, logging.handlers.SysLogHandler):
            where = "syslog"
            handler.setFormatter(logging.Formatter(f"{PROG}[{os.getpid()}]: %(message)s"))
        else:
            handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s %(message)s"))
    log.addHandler(handler)
    return where


def _unsaved(
    args: argparse.Namespace, directory: Path, exc: OSError, decision: Optional[Decision], done: int
) -> int:
    reason = f"cannot write the state in {directory}: {exc.strerror or exc}"
    if decision is not None:
        log.error("%s; NOT RECORDED, may repeat: %s", summary(args, decision, done), reason)
    else:
        log.error("%s!%s: %s; nothing done", args.host, args.service, reason)
    return EXIT_STATE


def run(args: argparse.Namespace) -> int:
    policy = Policy(args.failures_per_alert, args.max_alerts)
    result = Result(
        ok=args.state == "OK",
        state=args.state,
        hard=args.state_type == "HARD",
        attempt=args.attempt,
        check_time=args.check_time,
        in_downtime=args.downtime or args.host_downtime,
        enabled=args.enabled,
    )
    directory = args.state_dir or args.state_beside.parent / "pop3_ipmon"
    try:
        actor = build_actor(args)
        statefile.prepare_directory(directory)
    except (nagios.CommandError, icinga2.ApiError) as exc:
        log.error("%s!%s: %s", args.host, args.service, exc)
        return EXIT_USAGE
    except statefile.StateError as exc:
        log.error("%s!%s: %s", args.host, args.service, exc)
        return EXIT_STATE
    done, error = 0, None
    try:
        with statefile.locked(directory, args.host, args.service) as slot:
            memory = slot.load()
            if slot.problem:
                log.warning("%s!%s: %s", args.host, args.service, slot.problem)
            decision = decide(policy, memory, result)
            # Record the counted result before acting: if the state cannot
            # be written (disk full), nothing goes out, since an alert sent
            # but not recorded would go out again with the next result. It
            # also keeps the count should the engine kill a handler that hangs.
            if decision.after(0) != memory:
                slot.save(decision.after(0))
            if decision.actions:
                done, error = actor.run(decision.actions)
                if done:
                    slot.save(decision.after(done))
    except statefile.StateError as exc:
        log.error("%s!%s: state: %s; nothing done", args.host, args.service, exc)
        return EXIT_STATE
    except OSError as exc:
        return _unsaved(args, directory, exc, decision if done else None, done)
    line = summary(args, decision, done)
    if error:
        log.error("%s; %s", line, error)
    else:
        log.info("%s", line)
    recovered = recover(args, decision)
    if error:
        return EXIT_UNDELIVERED
    return EXIT_RECOVERY if recovered else 0


def recovery_config(args: argparse.Namespace) -> Optional[Path]:
    path: Optional[Path] = args.recovery_config
    if path is None and args.recovery_beside is not None:
        path = args.recovery_beside.parent / RECOVERY_FILE
    return path if path is not None and path.is_file() else None


def recover(args: argparse.Namespace, decision: Decision) -> int:
    """Run the recovery actions due at the alert this result sent (0 if none).

    The alert number is the one decided, delivered or not: ipMonitor's actions
    are alerts of their own. A failure the engine retries decides the same
    alert again; recovery's cooldown keeps that from acting twice.
    """
    path = recovery_config(args)
    if path is None:
        return 0
    from check_pop3_ipmon.recovery import hook  # only where recovery is configured

    alert = next((a.number for a in decision.actions if isinstance(a, Alert)), 0)
    phase = next((a.phase for a in decision.actions if isinstance(a, Publish)), None)
    alerting = hook.Alerting(
        engine=args.engine,
        host=args.host,
        service=args.service,
        monitor=args.monitor_name,
        state=args.state,
        phase=(phase or decision.base.phase).value,
        alert=alert,
        failures=decision.base.failures,
        in_downtime=args.downtime or args.host_downtime,
        enabled=args.enabled,
        acknowledged=args.acknowledged,
        address=args.address,
        host_state=args.host_state,
        output=args.output,
        target=args.recovery_target,
    )
    return hook.run(path, alerting, log, status_file=args.status_file)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        if setup_logging(None) != "stderr":
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        log.error("bad arguments: %s", exc)
        return EXIT_USAGE
    setup_logging(args.log_file)
    return run(args)


def entry() -> None:
    sys.exit(main())
