"""The recovery configuration file: global safety settings, services, actions.

INI (configparser, no interpolation) because monitoring administrators know
it and the standard library reads it. Command lines are argv lists written in
shell-like quoting and split with shlex at load time; they are never given to
a shell. The file decides what runs as the engine's user, so it is read only
under the rule for private files (core.private_files): not a symlink, a
regular file owned by root or that user, and nobody else may write it.
Unknown keys are errors: a misspelt `alerts` must not silently mean "every
alert".
"""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from check_pop3_ipmon.core import private_files
from check_pop3_ipmon.core.values import boolean, count
from check_pop3_ipmon.recovery import validate

PLATFORMS = ("systemd", "windows")
PLACEHOLDERS = ("{target}", "{service}")

GLOBAL_KEYS = {
    "state_dir",
    "audit_log",
    "syslog",
    "credentials_file",
    "deadline",
    "cooldown",
    "max_actions",
    "settle",
    "skip_in_downtime",
    "skip_when_acknowledged",
    "reboot_cooldown",
}
SERVICE_KEYS = {"actions", "target", "credentials", "allow_reboot", "cooldown", "max_actions"}
ACTION_KEYS = {
    "external-process": {"alerts", "command", "cooldown"},
    "restart-service": {
        "alerts",
        "services",
        "platform",
        "credentials",
        "cooldown",
        "verify_wait",
    },
    "reboot-server": {"alerts", "platform", "credentials", "cooldown", "command"},
}
COMMAND_KINDS = ("stop", "start", "check")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names file and section."""


@dataclass(frozen=True)
class AlertRange:
    """Which alert numbers an action handles: "1", "1-2", "3-", "1,3"."""

    spans: tuple[tuple[int, Optional[int]], ...]
    text: str

    def __contains__(self, alert: object) -> bool:
        if not isinstance(alert, int) or alert < 1:
            return False
        return any(low <= alert and (high is None or alert <= high) for low, high in self.spans)


@dataclass(frozen=True)
class ExternalProcess:
    name: str
    alerts: AlertRange
    argv: tuple[str, ...]
    cooldown: Optional[float] = None
    kind: str = "external-process"
    credentials: Optional[str] = None


@dataclass(frozen=True)
class RestartService:
    name: str
    alerts: AlertRange
    services: tuple[str, ...]
    platform: str = "systemd"
    # Per service and kind (stop/start/check): an argv replacing the default.
    commands: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    credentials: Optional[str] = None
    cooldown: Optional[float] = None
    verify_wait: float = 10.0
    kind: str = "restart-service"


@dataclass(frozen=True)
class RebootServer:
    name: str
    alerts: AlertRange
    platform: str = "systemd"
    command: Optional[tuple[str, ...]] = None
    credentials: Optional[str] = None
    cooldown: Optional[float] = None
    kind: str = "reboot-server"


Action = Union[ExternalProcess, RestartService, RebootServer]


@dataclass(frozen=True)
class ServiceRecovery:
    key: str
    actions: tuple[str, ...]
    target: Optional[str] = None
    credentials: Optional[str] = None
    allow_reboot: bool = False
    cooldown: Optional[float] = None
    max_actions: Optional[int] = None


@dataclass(frozen=True)
class Config:
    path: Path
    state_dir: Path = Path("/var/lib/check_pop3_ipmon/recovery")
    audit_log: Path = Path("/var/log/check_pop3_ipmon/recovery.jsonl")
    syslog: Optional[str] = "/dev/log"
    credentials_file: Optional[Path] = None
    # Nagios kills an event handler after event_handler_timeout (30 s by default).
    deadline: float = 25.0
    cooldown: float = 600.0
    max_actions: int = 3
    settle: float = 900.0
    skip_in_downtime: bool = True
    skip_when_acknowledged: bool = True
    reboot_cooldown: float = 4 * 3600.0
    services: Mapping[str, ServiceRecovery] = field(default_factory=dict)
    actions: Mapping[str, Action] = field(default_factory=dict)

    def cooldown_for(self, service: ServiceRecovery, action: Action) -> float:
        if action.cooldown is not None:
            return action.cooldown
        return self.cooldown if service.cooldown is None else service.cooldown

    def max_actions_for(self, service: ServiceRecovery) -> int:
        return self.max_actions if service.max_actions is None else service.max_actions


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
_RANGE_PART = re.compile(r"(\d+)(?:\s*-\s*(\d*))?")


def duration(value: str) -> float:
    """Seconds, or a number with s, m or h."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration (e.g. 30, 30s, 10m, 4h)")
    return float(match[1]) * _UNITS[match[2]]


def alert_range(value: str) -> AlertRange:
    spans: list[tuple[int, Optional[int]]] = []
    for part in value.split(","):
        match = _RANGE_PART.fullmatch(part.strip())
        if not match or int(match[1]) < 1:
            raise ValueError(f"{value!r} is not an alert range (e.g. 1, 1-2, 3-, 1,3)")
        low = int(match[1])
        if match[2] is None:
            spans.append((low, low))
        elif match[2] == "":
            spans.append((low, None))
        elif int(match[2]) < low:
            raise ValueError(f"alert range {part.strip()!r} ends before it starts")
        else:
            spans.append((low, int(match[2])))
    return AlertRange(tuple(spans), value.strip())


def argv(value: str, placeholders: tuple[str, ...] = ()) -> tuple[str, ...]:
    """An argv in shell-like quoting; only the given placeholders may appear."""
    words = tuple(shlex.split(value))
    if not words:
        raise ValueError("empty command")
    if not words[0].startswith("/"):
        raise ValueError(f"{words[0]!r}: the program needs an absolute path")
    for word in words:
        for found in re.findall(r"\{[^{}]*\}", word):
            if found not in placeholders:
                allowed = ", ".join(placeholders) or "none"
                raise ValueError(f"unknown placeholder {found} (allowed here: {allowed})")
    return words


def names(value: str, what: str) -> tuple[str, ...]:
    return tuple(validate.name(word, what) for word in value.replace(",", " ").split())


def load(path: Path) -> Config:
    """Read and check the whole file; any problem is one ConfigError."""
    parser = configparser.ConfigParser(
        interpolation=None, default_section="\x00none", empty_lines_in_values=False
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        # It says what runs as the engine's user: trusted like credentials.
        text = private_files.read_text(path, f"recovery config {path}", secret=False)
        parser.read_string(text, source=str(path))
    except private_files.PrivateFileError as error:
        raise ConfigError(str(error)) from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        return _build(path, parser)
    except (ValueError, validate.Refused) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{path}: {error}") from None


def _build(path: Path, parser: configparser.ConfigParser) -> Config:
    settings: dict[str, object] = {}
    services: dict[str, ServiceRecovery] = {}
    actions: dict[str, Action] = {}
    for section in parser.sections():
        values = dict(parser.items(section))
        kind, _, name = section.partition(" ")
        try:
            if section == "recovery":
                settings = _global(values)
            elif kind == "service" and name:
                key = validate.service_key(name.strip())
                services[key] = _service(key, values)
            elif kind == "action" and name:
                action = _action(validate.name(name.strip(), "action name"), values)
                actions[action.name] = action
            else:
                raise ValueError(
                    "unknown section (expected [recovery], [service HOST!SERVICE], [action NAME])"
                )
        except (ValueError, validate.Refused) as error:
            raise ConfigError(f"{path} [{section}]: {error}") from None
    for service in services.values():
        for name in service.actions:
            if name not in actions:
                raise ConfigError(f"{path} [service {service.key}]: action {name!r} is not defined")
    return Config(path=path, services=services, actions=actions, **settings)  # type: ignore[arg-type]


def _unknown(values: Mapping[str, str], allowed: set[str], extra: str = "") -> None:
    for key in values:
        if key not in allowed:
            hint = f"; {extra}" if extra else ""
            raise ValueError(f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))}){hint}")


def _global(values: Mapping[str, str]) -> dict[str, object]:
    _unknown(values, GLOBAL_KEYS)
    out: dict[str, object] = {}
    for key, value in values.items():
        if key in ("state_dir", "audit_log", "credentials_file"):
            if not value.startswith("/"):
                raise ValueError(f"{key} needs an absolute path")
            out[key] = Path(value)
        elif key == "syslog":
            out[key] = None if value.strip().lower() in ("off", "no", "") else value.strip()
        elif key == "max_actions":
            out[key] = _count(value, key)
        elif key in ("skip_in_downtime", "skip_when_acknowledged"):
            out[key] = boolean(value)
        else:
            out[key] = duration(value)
    deadline = out.get("deadline")
    if isinstance(deadline, float) and not 0 < deadline <= 3600:
        raise ValueError("deadline must be above 0 and at most 1h")
    return out


def _count(value: str, key: str) -> int:
    try:
        return count(value)
    except ValueError:
        raise ValueError(f"{key} must be a whole number") from None


def _service(key: str, values: Mapping[str, str]) -> ServiceRecovery:
    _unknown(values, SERVICE_KEYS)
    if "actions" not in values:
        raise ValueError("needs actions = NAME ...")
    target = values.get("target")
    credentials = values.get("credentials")
    return ServiceRecovery(
        key=key,
        actions=names(values["actions"], "action name"),
        target=validate.target(target.strip(), "target") if target else None,
        credentials=validate.name(credentials.strip(), "credential set") if credentials else None,
        allow_reboot=boolean(values.get("allow_reboot", "no")),
        cooldown=duration(values["cooldown"]) if "cooldown" in values else None,
        max_actions=_count(values["max_actions"], "max_actions")
        if "max_actions" in values
        else None,
    )


def _action(name: str, values: Mapping[str, str]) -> Action:
    kind = values.get("type", "")
    if kind not in ACTION_KEYS:
        raise ValueError(f"type must be one of {', '.join(ACTION_KEYS)}")
    rest = {k: v for k, v in values.items() if k != "type"}
    if "alerts" not in rest:
        raise ValueError("needs alerts = RANGE (e.g. 1, 1-2, 3-)")
    alerts = alert_range(rest["alerts"])
    cooldown = duration(rest["cooldown"]) if "cooldown" in rest else None
    credentials = rest.get("credentials")
    creds = validate.name(credentials.strip(), "credential set") if credentials else None
    platform = rest.get("platform", "systemd").strip()
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
    if kind == "external-process":
        _unknown(rest, ACTION_KEYS[kind])
        if "command" not in rest:
            raise ValueError("needs command = /path/to/program ARG ...")
        return ExternalProcess(name, alerts, argv(rest["command"]), cooldown)
    if kind == "reboot-server":
        _unknown(rest, ACTION_KEYS[kind])
        command = argv(rest["command"], ("{target}",)) if "command" in rest else None
        if command is not None and platform == "windows":
            raise ValueError("a custom command is not supported with platform = windows")
        return RebootServer(name, alerts, platform, command, creds, cooldown)
    return _restart(name, rest, alerts, platform, credentials=creds, cooldown=cooldown)


def _restart(
    name: str,
    values: Mapping[str, str],
    alerts: AlertRange,
    platform: str,
    *,
    credentials: Optional[str],
    cooldown: Optional[float],
) -> RestartService:
    commands: dict[str, dict[str, tuple[str, ...]]] = {}
    plain = {}
    for key, value in values.items():
        kind, _, service = key.partition(" ")
        if kind in COMMAND_KINDS and service:
            if platform == "windows":
                raise ValueError("per-service commands are not supported with platform = windows")
            commands.setdefault(service.strip(), {})[kind] = argv(value, PLACEHOLDERS)
        else:
            plain[key] = value
    _unknown(plain, ACTION_KEYS["restart-service"], "per-service commands: 'start NAME = ...'")
    if "services" not in plain:
        raise ValueError("needs services = NAME ... (dependencies first)")
    words = plain["services"].replace(",", " ").split()
    services = tuple(validate.service_name(word, platform) for word in words)
    if not services:
        raise ValueError("services is empty")
    for service in commands:
        if service not in services:
            raise ValueError(f"command for {service!r}, which is not in services")
    verify_wait = duration(plain.get("verify_wait", "10"))
    return RestartService(
        name, alerts, services, platform, commands, credentials, cooldown, verify_wait
    )
