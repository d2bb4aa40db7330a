"""pop3_ipmon_alert's command line: engine macros in, a typed Invocation out."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional, TypeVar

from check_pop3_ipmon import __version__
from check_pop3_ipmon.core import values
from check_pop3_ipmon.core.monitor_name import MAX_NAME, has_control, too_long

T = TypeVar("T")

PROG = "pop3_ipmon_alert"
STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
EXIT_UNDELIVERED, EXIT_STATE, EXIT_USAGE, EXIT_RECOVERY = 1, 2, 3, 4
RECOVERY_FILE = "pop3_ipmon-recovery.ini"
# Bounds on what the engine passes: a test at least a second and at most a
# week apart (Nagios took 0.0000001 as check interval 0 and 999999999 as a
# check in 2058, and never tested the service again); F and M as ipMonitor
# would be set by a person. The interval's seconds (units x Nagios'
# interval_length) are checked where that is known (actors.check_seconds).
MIN_SECONDS, MAX_SECONDS = 1, 7 * 86400
MAX_FAILURES_PER_ALERT = MAX_ALERTS = 100


# argparse drops a value of "--" even in "--host=--" (it reads it as the end
# of options and leaves []), but Nagios and Icinga 2 accept "--" as a host or
# service name. Such a value stands in as this until parsing is done: argv
# cannot hold a NUL, so no real argument can look like it.
_DASHES = "\0--"


class UsageError(Exception):
    pass


def _dashes_kept(argv: Sequence[str]) -> list[str]:
    """argv with every "--option=--" holding _DASHES as its value."""
    return [
        arg[: -len("--")] + _DASHES if arg.startswith("--") and arg.endswith("=--") else arg
        for arg in argv
    ]


def _dashes_restored(given: dict[str, object]) -> None:
    for name, value in given.items():
        if value == _DASHES:
            given[name] = "--"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message.replace(repr(_DASHES), repr("--")).replace(_DASHES, "--"))

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            print(message.strip())
        sys.exit(EXIT_USAGE if status == 0 else status)


def monitor_name(text: str) -> str:
    """ipMonitor's Monitor Name, display only: a longer one is shortened to 64
    characters in parse(), with a warning, rather than refused (an alert must
    not be lost to a display name)."""
    if text != _DASHES and has_control(text):
        raise argparse.ArgumentTypeError(f"monitor name holds control characters: {text!r}")
    return text


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        return _usage(values.count, text, low)

    return parse


def _interval(text: str) -> float:
    if not re.fullmatch(r"\d{1,9}(\.\d{1,9})?", text.strip()) or float(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive interval, not {text!r}")
    if float(text) > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a week in any unit")
    return float(text)


def _bounded(high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _usage(values.count, text, 1)
        if value > high:
            raise argparse.ArgumentTypeError(f"expected 1 to {high}, not {text!r}")
        return value

    return parse


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
    if text == _DASHES:
        return text
    if not text or any(ord(ch) < 32 for ch in text):
        raise argparse.ArgumentTypeError(f"invalid object name {text!r}")
    return text


def _result_arguments(sub: argparse.ArgumentParser) -> None:
    """The check result, from the engine's macros."""
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


def _settings_arguments(sub: argparse.ArgumentParser) -> None:
    """ipMonitor's settings for the monitor."""
    p = sub.add_argument_group("ipMonitor settings")
    # Each may instead come from Nagios' environment macro (FROM_ENVIRONMENT).
    p.add_argument(
        "--failures-per-alert",
        type=_bounded(MAX_FAILURES_PER_ALERT),
        metavar="F",
        help=f"1 to {MAX_FAILURES_PER_ALERT}, default 3",
    )
    p.add_argument(
        "--max-alerts",
        type=_bounded(MAX_ALERTS),
        metavar="M",
        help=f"1 to {MAX_ALERTS}, default 3",
    )
    p.add_argument(
        "--down-interval",
        type=_interval,
        help="the Down interval, in the unit of the engine's retry_interval (required)",
    )
    p.add_argument("--lost-interval", type=_interval, help="the Lost interval, likewise (required)")
    p.add_argument("--up-interval", type=_interval, help="the Up interval, likewise (required)")
    p.add_argument("--monitor-name", type=monitor_name, default="", help="up to 64 characters")


def _state_arguments(sub: argparse.ArgumentParser) -> None:
    """Where the state and the log go."""
    s = sub.add_argument_group("state and log")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--state-dir", type=Path, help="directory for the state files")
    where.add_argument(
        "--state-beside",
        type=Path,
        metavar="FILE",
        help="use the directory pop3_ipmon beside FILE (e.g. Nagios' retention file)",
    )
    log_where = s.add_mutually_exclusive_group()
    log_where.add_argument("--log-file", type=_path, help="append here instead of syslog")
    log_where.add_argument(
        "--log-beside",
        type=_path,
        metavar="FILE",
        help="append to pop3_ipmon.log beside FILE (e.g. Nagios' $LOGFILE$)",
    )


def _recovery_arguments(sub: argparse.ArgumentParser) -> None:
    """What recovery actions need."""
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


def _nagios_arguments(sub: argparse.ArgumentParser) -> None:
    """Nagios only."""
    sub.add_argument(
        "--notification-number",
        type=_count(0),
        default=None,
        help="$SERVICENOTIFICATIONNUMBER$: the PROBLEMs Nagios sent",
    )
    sub.add_argument(
        "--main-config",
        type=Path,
        required=True,
        help="nagios.cfg ($MAINCONFIGFILE$), for interval_length",
    )
    sub.add_argument("--command-file", type=Path, required=True, help="Nagios' command_file (FIFO)")
    sub.add_argument(
        "--command-timeout",
        type=_interval,
        default=10.0,
        help="seconds to wait while the command file is full (default 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="ipMonitor's alerting for a Nagios 4 service "
        "(run after every check result as Nagios' ocsp_command). Icinga 2 needs no "
        "handler: its own notifications send ipMonitor's alerts.",
        epilog="See contrib/README.md for the engine configuration.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    engines = parser.add_subparsers(dest="engine", required=True, metavar="ENGINE")
    sub = engines.add_parser("nagios", help="the service runs in Nagios 4")
    _result_arguments(sub)
    _settings_arguments(sub)
    _state_arguments(sub)
    _recovery_arguments(sub)
    _nagios_arguments(sub)
    return parser


@dataclass(frozen=True)
class Invocation:
    """One run of the handler: the result, the monitor's settings, where things are."""

    engine: str
    host: str
    service: str
    state: str
    state_type: str
    attempt: int
    check_time: str
    downtime: bool  # a depth above 0, as recovery reads it
    host_downtime: bool
    enabled: bool
    failures_per_alert: int
    max_alerts: int
    down_interval: float
    lost_interval: float
    up_interval: float
    monitor_name: str
    state_dir: Optional[Path]
    state_beside: Optional[Path]
    log_file: Optional[Path]
    log_beside: Optional[Path]
    recovery_config: Optional[Path]
    recovery_beside: Optional[Path]
    address: str
    host_state: str
    acknowledged: Optional[bool]
    output: str
    recovery_target: str
    status_file: Optional[Path]
    # Nagios
    notification_number: Optional[int] = None
    main_config: Optional[Path] = None
    command_file: Optional[Path] = None
    command_timeout: float = 10.0
    warnings: tuple[str, ...] = ()  # said in the log once it is set up

    @property
    def in_downtime(self) -> bool:
        return self.downtime or self.host_downtime

    @property
    def log_path(self) -> Optional[Path]:
        if self.log_file is None and self.log_beside is not None:
            return self.log_beside.parent / "pop3_ipmon.log"
        return self.log_file

    @property
    def state_directory(self) -> Path:
        if self.state_dir is not None or self.state_beside is None:
            return self.state_dir or Path("pop3_ipmon")  # the parser requires one of them
        return self.state_beside.parent / "pop3_ipmon"

    @property
    def recovery_file(self) -> Optional[Path]:
        """The recovery configuration, if one exists."""
        path = self.recovery_config
        if path is None and self.recovery_beside is not None:
            path = self.recovery_beside.parent / RECOVERY_FILE
        return path if path is not None and path.is_file() else None


# The ipMonitor settings Nagios can pass as environment macros (with
# enable_environment_macros=1) instead of on its /bin/sh command line, where a
# custom variable changed at run time could carry shell code: option ->
# (variable, parser, default; None: required).
FROM_ENVIRONMENT: dict[str, tuple[str, Callable[[str], object], Optional[object]]] = {
    "failures_per_alert": (
        "NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT",
        _bounded(MAX_FAILURES_PER_ALERT),
        3,
    ),
    "max_alerts": ("NAGIOS__SERVICEPOP3_IPMON_MAX_ALERTS", _bounded(MAX_ALERTS), 3),
    "up_interval": ("NAGIOS__SERVICEPOP3_IPMON_UP_INTERVAL", _interval, None),
    "down_interval": ("NAGIOS__SERVICEPOP3_IPMON_DOWN_INTERVAL", _interval, None),
    "lost_interval": ("NAGIOS__SERVICEPOP3_IPMON_LOST_INTERVAL", _interval, None),
}


def _settings_from(given: dict[str, object], env: Mapping[str, str]) -> None:
    """Fill the settings not on the command line from the environment, validated
    as numbers (their text never reaches a shell), else their defaults."""
    for name, (variable, parse_value, default) in FROM_ENVIRONMENT.items():
        if given.get(name) is not None:
            continue
        option = "--" + name.replace("_", "-")
        text = env.get(variable) if given.get("engine") == "nagios" else None
        if text is not None:
            try:
                given[name] = parse_value(text)
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"{variable} (for {option}): {exc}") from None
        elif default is None:
            raise UsageError(f"{option} is required (or, for Nagios, {variable})")
        else:
            given[name] = default


def log_path_in(argv: Optional[Sequence[str]]) -> Optional[Path]:
    """The handler's log file named in argv, read without parsing the rest:
    a run refused for a bad value must say why where its other runs log
    (pop3_ipmon.log), not only in syslog."""
    words = list(sys.argv[1:] if argv is None else argv)
    for index, word in enumerate(words):
        for option, beside in (("--log-file", False), ("--log-beside", True)):
            if word == option and index + 1 < len(words):
                value = words[index + 1]
            elif word.startswith(option + "="):
                value = word[len(option) + 1 :]
            else:
                continue
            path = _path(value)
            if path is None:
                return None
            return path.parent / "pop3_ipmon.log" if beside else path
    return None


def parse(
    argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None
) -> Invocation:
    """The Invocation for argv; UsageError with one line if it is not valid."""
    namespace = build_parser().parse_args(_dashes_kept(sys.argv[1:] if argv is None else argv))
    given = vars(namespace)
    _dashes_restored(given)
    _settings_from(given, os.environ if env is None else env)
    name = str(given.get("monitor_name") or "")
    if too_long(name):
        given["monitor_name"] = name[:MAX_NAME]
        given["warnings"] = (
            f"monitor name is {len(name)} characters long; ipMonitor allows at most "
            f"{MAX_NAME}: shortened to {name[:MAX_NAME]!r}",
        )
    return Invocation(**{f.name: given[f.name] for f in fields(Invocation) if f.name in given})
