"""Checks on Nagios' resolved objects for the services that use our handler.

Nagios cannot refuse a monitor name over 64 characters, nor see that the
Down interval was written differently in its two places. Its object cache
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
from check_pop3_ipmon.alerting.handler import MAX_NAME

HANDLER = "pop3-ipmon-alert"
TEMPLATE_ATTEMPTS = 1_000_000
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
    if len(display) > MAX_NAME:
        error(
            f"the monitor name (display_name) is {len(display)} characters long; "
            f"ipMonitor allows at most {MAX_NAME}"
        )
    numbers = {
        key: _number(service.get(f"_POP3_IPMON_{key}"))
        for key in ("FAILURES_PER_ALERT", "MAX_ALERTS", "DOWN_INTERVAL", "LOST_INTERVAL")
    }
    for key, value in numbers.items():
        if value is None:
            error(f"_POP3_IPMON_{key} is missing or not a positive number")
    timeout = timeout_finding(service, interval_length)
    if timeout:
        error(timeout)
    f, m = numbers["FAILURES_PER_ALERT"], numbers["MAX_ALERTS"]
    down, retry = numbers["DOWN_INTERVAL"], _number(service.get("retry_interval"))
    if down is not None and retry is not None and abs(down - retry) > 1e-6:
        error(
            f"retry_interval {retry:g} differs from _POP3_IPMON_DOWN_INTERVAL {down:g}: "
            "both are the Down interval (the handler restores the first from the second)"
        )
    attempts = _number(service.get("max_check_attempts")) or 1
    if f is not None and m is not None and attempts <= f * m + 1:
        error(
            f"max_check_attempts {attempts:g}: the service turns HARD at failure "
            f"{attempts:g}, by its first Lost test ({f * m + 1:g}); a HARD problem is "
            f"tested at the Up interval and the handler is not called again "
            f"(use {TEMPLATE_ATTEMPTS})"
        )
    elif attempts < TEMPLATE_ATTEMPTS:
        warning(
            f"max_check_attempts {attempts:g}: a longer outage turns HARD and is then "
            f"tested at the Up interval (the template uses {TEMPLATE_ATTEMPTS})"
        )
    if service.get("event_handler_enabled") == "0":
        error("event_handler_enabled is 0: no failure is counted, no alert sent")
    if service.get("notification_options", "n") != "n":
        warning(
            "notification_options is not n: Nagios' own notifications come on top of the handler's"
        )
    if service.get("is_volatile") == "1":
        warning("is_volatile 1: Nagios notifies on every failed test by itself")
    return found


def check(text: str, interval_length: int = 60) -> tuple[int, list[Finding]]:
    """(services using the handler, findings) for an object cache's text."""
    ours = [
        service
        for service in services(text)
        if service.get("event_handler", "").split("!")[0] == HANDLER
    ]
    return len(ours), [
        finding for service in ours for finding in check_service(service, interval_length)
    ]
