"""Checks on Nagios' resolved objects for the services that use our handler.

Nagios cannot refuse a monitor name over 64 characters, nor see that the
Down interval was written differently in its two places, nor that
max_check_attempts is not the failures per alert. Its object cache
(objects.cache, written at start; objects.precache from `nagios4 -vp`) holds
every service with its templates resolved, custom variables included, so we
read that and say what would break ipMonitor's behaviour.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn, Optional

from check_pop3_ipmon.alerting.definition import timeout_problem
from check_pop3_ipmon.core.monitor_name import MAX_NAME, too_long

MARKER = "_POP3_IPMON_FAILURES_PER_ALERT"
PLUGIN_TIMEOUT = 10.0  # check_pop3_ipmon's default -t


@dataclass(frozen=True)
class Finding:
    error: bool
    service: str
    message: str

    def __str__(self) -> str:
        return f"{'error' if self.error else 'warning'}: service '{self.service}': {self.message}"


def services(text: str) -> Iterator[dict[str, str]]:
    """The `define service` blocks of an object cache, as attribute maps."""
    current: Optional[dict[str, str]] = None
    for raw in text.splitlines():
        line = raw.strip()
        if line == "define service {":
            current = {}
        elif line == "}" and current is not None:
            yield current
            current = None
        elif current is not None and line:
            key, _, value = line.partition("\t")
            current[key] = value.strip()


def _number(value: Optional[str]) -> Optional[float]:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


class _TimeoutParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def plugin_timeout(check_command: str) -> Optional[float]:
    """The -t/--timeout in a check_command's arguments (read as shell words, as Nagios does).

    None when it cannot be read: Nagios or the plugin reports that itself.
    """
    parser = _TimeoutParser(add_help=False)
    parser.add_argument("-t", "--timeout", type=float, default=PLUGIN_TIMEOUT)
    try:
        known, _ = parser.parse_known_args(shlex.split(" ".join(check_command.split("!")[1:])))
    except ValueError:
        return None
    return float(known.timeout)


def timeout_finding(service: dict[str, str], interval_length: int) -> str:
    """The check_command's -t against the Down interval, as pop3_ipmon_config checks it."""
    down = _number(service.get("_POP3_IPMON_DOWN_INTERVAL"))
    timeout = plugin_timeout(service.get("check_command", ""))
    if down is None or timeout is None:
        return ""
    problem = timeout_problem(timeout, down * interval_length)
    return f"check_command timeout {problem}" if problem else ""


def check_service(service: dict[str, str], interval_length: int = 60) -> list[Finding]:
    name = f"{service.get('host_name', '?')}!{service.get('service_description', '?')}"
    found: list[Finding] = []

    def error(message: str) -> None:
        found.append(Finding(True, name, message))

    def warning(message: str) -> None:
        found.append(Finding(False, name, message))

    display = service.get("display_name") or service.get("service_description", "")
    if too_long(display):
        error(
            f"the monitor name (display_name) is {len(display)} characters long; "
            f"ipMonitor allows at most {MAX_NAME}"
        )
    numbers = {
        key: _number(service.get(f"_POP3_IPMON_{key}"))
        for key in (
            "FAILURES_PER_ALERT",
            "MAX_ALERTS",
            "UP_INTERVAL",
            "DOWN_INTERVAL",
            "LOST_INTERVAL",
        )
    }
    for key, value in numbers.items():
        if value is None:
            error(f"_POP3_IPMON_{key} is missing or not a positive number")
    timeout = timeout_finding(service, interval_length)
    if timeout:
        error(timeout)
    for copy, attribute, why in (
        (
            "DOWN_INTERVAL",
            "retry_interval",
            "the Down interval (Nagios tests SOFT failures at retry_interval, the handler "
            "sets the HARD ones from the copy)",
        ),
        (
            "UP_INTERVAL",
            "check_interval",
            "the Up interval (the handler sets check_interval back from the copy)",
        ),
    ):
        wanted, written = numbers[copy], _number(service.get(attribute))
        if wanted is not None and written is not None and abs(wanted - written) > 1e-6:
            copied = f"_POP3_IPMON_{copy} {wanted:g}"
            error(f"{attribute} {written:g} differs from {copied}: both are {why}")
    f = numbers["FAILURES_PER_ALERT"]
    attempts = _number(service.get("max_check_attempts")) or 1
    if f is not None and attempts != f:
        error(
            f"max_check_attempts {attempts:g} is not the failures per alert {f:g}: the "
            f"service must turn HARD (ipMonitor's Down) at failure {f:g}, where Nagios "
            "sends alert 1"
        )
    options = set(service.get("notification_options", "").split(","))
    if not {"c", "r"} <= options:
        error("notification_options lacks c or r: Nagios sends no PROBLEM or no RECOVERY")
    if service.get("notifications_enabled") == "0":
        error("notifications_enabled is 0: no alert goes out")
    if service.get("obsess") == "0" or service.get("obsess_over_service") == "0":
        error("obsess_over_service is 0: the handler (ocsp_command) is never run")
    if service.get("is_volatile") == "1":
        error("is_volatile 1: Nagios notifies on every failed test by itself")
    return found


def check(text: str, interval_length: int = 60) -> tuple[int, list[Finding]]:
    """(services using the handler, findings) for an object cache's text."""
    ours = [service for service in services(text) if MARKER in service]
    return len(ours), [
        finding for service in ours for finding in check_service(service, interval_length)
    ]
