"""ipMonitor-style monitor definitions: an INI file, one section per monitor.

    [DEFAULT]
    contacts = mail-admins

    [POP3 mail1]                      ; the service's object name
    name = Mail POP3 (head office)    ; Monitor Name, up to 64 characters
    host = mail1                      ; host object the service belongs to
    address = 192.0.2.10              ; optional: define the host with this address
    up_interval = 300                 ; seconds
    down_interval = 60
    lost_interval = 900
    failures_per_alert = 3
    max_alerts = 3

Everything is checked here, once, with messages that name the section and
the key: an administrator reads them, not a stack trace.
"""

from __future__ import annotations

import argparse
import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Optional, TypeVar

from check_pop3_ipmon.alerting.arguments import MAX_ALERTS, MAX_SECONDS
from check_pop3_ipmon.check import values as argument_values
from check_pop3_ipmon.check.session import TLS_IMPLICIT, TLS_NONE, TLS_STARTTLS
from check_pop3_ipmon.core.monitor_name import MAX_NAME, has_control, too_long
from check_pop3_ipmon.core.values import boolean

T = TypeVar("T")

# Characters Nagios refuses in object names by default (illegal_object_name_chars),
# ';' (its comment character) and '!' (Icinga 2's host!service separator).
_BAD_OBJECT_CHARS = set("`~!$%^&*|'\"<>?,()=;\\")
_ADDRESS = re.compile(r"[A-Za-z0-9._:-]+(%[A-Za-z0-9._-]+)?")
_LIST_ITEM = re.compile(r"[A-Za-z0-9._@+-]+")


class Key(NamedTuple):
    default: Optional[str]  # None: required, or left out (no default shown)
    help: str


# Every key of a monitor's section, its default and what it means: the one
# place they are defined (parsing below, `pop3_ipmon_config --help`).
KEYS = {
    "name": Key(None, "Monitor Name, 64 characters at most (or section)"),
    "host": Key(None, "required: the service's host object"),
    "address": Key(None, "define the host, with this address"),
    "enabled": Key("yes", "Enabled: the service's active checks (yes/no)"),
    "store_statistics": Key("yes", "Store Monitor Statistics: perfdata (yes/no)"),
    "port": Key(None, "the POP3 port (the check's -p)"),
    "tls": Key(TLS_NONE, "none, starttls or implicit (--tls)"),
    "timeout": Key("10", "Maximum Test Duration, s (-t); < down_interval"),
    "warning": Key(None, "response time range for WARNING (-w)"),
    "critical": Key(None, "response time range for CRITICAL (-c)"),
    "up_interval": Key("300", "seconds between tests while Up"),
    "down_interval": Key("60", "seconds between tests while Warn or Down"),
    "lost_interval": Key("900", "seconds between tests while Lost"),
    "failures_per_alert": Key("3", "F: an alert every F failures"),
    "max_alerts": Key("3", "M: at most M alerts, then Lost"),
    "contacts": Key("", "contacts (Icinga 2: users) to notify"),
    "contact_groups": Key("", "contact groups (user groups) to notify"),
}


def keys_help() -> str:
    """The keys for --help: one line each, with the default."""
    width = max(map(len, KEYS)) + 2
    lines = [
        "monitor definition keys (an INI file: one [section] per monitor, named as",
        "its service; [DEFAULT] for all):",
        f"  {'key':{width}}{'default':9}(lists: comma- or space-separated)",
    ]
    for key, (default, text) in KEYS.items():
        lines.append(f"  {key:{width}}{default or '-':9}{text}")
    return "\n".join(lines)


class DefinitionError(Exception):
    """The definition file cannot be turned into configuration."""


@dataclass(frozen=True)
class Monitor:
    service: str
    name: str
    host: str
    address: Optional[str]
    enabled: bool
    store_statistics: bool
    port: Optional[int]
    tls: str
    timeout: float
    warning: Optional[str]
    critical: Optional[str]
    up_interval: int
    down_interval: int
    lost_interval: int
    failures_per_alert: int
    max_alerts: int
    contacts: tuple[str, ...]
    contact_groups: tuple[str, ...]

    def plugin_arguments(self) -> list[str]:
        """The plugin's options besides -H (which comes from the host)."""
        args: list[str] = []
        if self.port is not None:
            args += ["-p", str(self.port)]
        if self.tls != TLS_NONE:
            args += ["--tls", self.tls]
        args += ["-t", f"{self.timeout:g}"]
        if self.warning:
            args += ["-w", self.warning]
        if self.critical:
            args += ["-c", self.critical]
        return args


def object_name(kind: str, text: str) -> str:
    bad = sorted(_BAD_OBJECT_CHARS.intersection(text))
    if not text.strip() or bad or any(ord(ch) < 32 for ch in text):
        shown = " ".join(bad) if bad else "control characters or nothing"
        raise ValueError(f"{kind} {text!r} cannot be an object name ({shown})")
    return text


def _seconds(text: str) -> int:
    if not re.fullmatch(r"\d{1,7}", text) or not 1 <= int(text) <= MAX_SECONDS:
        raise ValueError(f"expected whole seconds, 1 to {MAX_SECONDS} (a week), not {text!r}")
    return int(text)


def _positive(text: str) -> int:
    """F or M: the handler's bounds (arguments.MAX_ALERTS)."""
    if not re.fullmatch(r"\d{1,6}", text) or not 1 <= int(text) <= MAX_ALERTS:
        raise ValueError(f"expected a whole number, 1 to {MAX_ALERTS}, not {text!r}")
    return int(text)


def _names(text: str) -> tuple[str, ...]:
    items = tuple(item for item in re.split(r"[,\s]+", text) if item)
    for item in items:
        if not _LIST_ITEM.fullmatch(item):
            raise ValueError(f"{item!r} is not a contact or group name")
    return items


def _tls(text: str) -> str:
    if text not in (TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT):
        raise ValueError(f"expected none, starttls or implicit, not {text!r}")
    return text


def _address(text: str) -> str:
    if not _ADDRESS.fullmatch(text):
        raise ValueError(f"{text!r} is not a host name or IP address")
    return text


def monitor_from(section: str, values: Mapping[str, str]) -> Monitor:
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise DefinitionError(f"[{section}]: unknown setting(s) {', '.join(unknown)}")

    def get(key: str, parse: Callable[[str], T], default: Optional[str] = None) -> T:
        raw = values.get(key, KEYS[key].default if default is None else default)
        if raw is None:
            raise DefinitionError(f"[{section}]: {key} is required")
        try:
            return parse(raw.strip())
        except (ValueError, argparse.ArgumentTypeError) as exc:
            # The plugin's own option checks raise ArgumentTypeError.
            raise DefinitionError(f"[{section}] {key}: {exc}") from None

    def optional(key: str, parse: Callable[[str], T]) -> Optional[T]:
        return get(key, parse) if values.get(key, "").strip() else None

    try:
        service = object_name("service name", section)
    except ValueError as exc:
        raise DefinitionError(f"[{section}]: {exc}") from None
    name = get("name", str, section)
    if too_long(name):
        raise DefinitionError(
            f"[{section}] name: the monitor name is {len(name)} characters long; "
            f"ipMonitor allows at most {MAX_NAME}"
        )
    if has_control(name):
        raise DefinitionError(f"[{section}] name: control characters in {name!r}")
    tls = get("tls", _tls)
    monitor = Monitor(
        service=service,
        name=name,
        host=get("host", lambda text: object_name("host name", text)),
        address=optional("address", _address),
        enabled=get("enabled", boolean),
        store_statistics=get("store_statistics", boolean),
        port=optional("port", argument_values.port),
        tls=tls,
        timeout=get("timeout", argument_values.positive_float),
        warning=optional("warning", argument_values.threshold_range),
        critical=optional("critical", argument_values.threshold_range),
        up_interval=get("up_interval", _seconds),
        down_interval=get("down_interval", _seconds),
        lost_interval=get("lost_interval", _seconds),
        failures_per_alert=get("failures_per_alert", _positive),
        max_alerts=get("max_alerts", _positive),
        contacts=get("contacts", _names),
        contact_groups=get("contact_groups", _names),
    )
    problem = timeout_problem(monitor.timeout, monitor.down_interval)
    if problem:
        raise DefinitionError(f"[{section}] timeout: {problem}")
    return monitor


def timeout_problem(timeout: float, down_interval: float) -> str:
    """Why this test timeout does not fit the Down interval, in one line; "" if it fits.

    The engines start the next test one interval after the previous one
    started: a test that runs to its timeout must end before then, or every
    later test, and with it every alert (F tests apart), comes late.
    """
    if timeout < down_interval:
        return ""
    return (
        f"{timeout:g}s must be shorter than the Down interval ({down_interval:g}s): "
        "the next test is due one Down interval after this one started, so a test "
        "running to its timeout would delay every later test and alert"
    )


def parse_text(text: str, source: str = "<definition>") -> list[Monitor]:
    parser = configparser.ConfigParser(
        interpolation=None,
        inline_comment_prefixes=(";", "#"),
        default_section="DEFAULT",
        strict=True,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source)
    except configparser.Error as exc:
        raise DefinitionError(f"{source}: {exc.message}") from None
    monitors = [monitor_from(section, parser[section]) for section in parser.sections()]
    if not monitors:
        raise DefinitionError(f"{source}: no monitor sections")
    seen: dict[tuple[str, str], str] = {}
    addresses: dict[str, str] = {}
    for monitor in monitors:
        key = (monitor.host, monitor.service.lower())
        if key in seen:
            raise DefinitionError(f"[{monitor.service}]: host {monitor.host} has it twice")
        seen[key] = monitor.service
        if monitor.address:
            if addresses.setdefault(monitor.host, monitor.address) != monitor.address:
                raise DefinitionError(
                    f"[{monitor.service}] address: host {monitor.host} already has address "
                    f"{addresses[monitor.host]}"
                )
    return monitors


def parse_file(path: Path) -> list[Monitor]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: {exc}") from None
    return parse_text(text, str(path))
