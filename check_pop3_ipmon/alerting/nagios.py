"""Nagios 4: actions as external commands written to its command file (a FIFO).

Fields are separated by ';' and a command ends at a newline, so a value
holding either would cut a command short or smuggle in another one: names
with them are refused, free text has them replaced. All lines go out in one
write of less than PIPE_BUF bytes, which a FIFO delivers whole, so Nagios
runs them in order: the variables are set before the notification reads them.
"""

from __future__ import annotations

import os
import select
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from check_pop3_ipmon.alerting.model import (
    Action,
    Alert,
    Interval,
    Publish,
    Recovery,
    alert_text,
    recovery_text,
)

AUTHOR = "pop3_ipmon"
_FORBIDDEN = frozenset(";\n\r\0")


class CommandError(Exception):
    """The command could not be formed or delivered."""


def check_name(kind: str, value: str) -> str:
    bad = sorted(_FORBIDDEN.intersection(value))
    if not value or bad:
        raise CommandError(f"{kind} {value!r} cannot be named in a Nagios external command")
    return value


def free_text(text: str, limit: int = 400) -> str:
    """Free text as one field: no separators, no control characters."""
    text = text.replace(";", ",")
    return "".join(" " if ord(ch) < 32 or ch == "\x7f" else ch for ch in text)[:limit]


def number(value: float) -> str:
    """Interval units as Nagios parses them (a decimal, never an exponent)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class NagiosCommands:
    """Builds the external command lines for one service."""

    def __init__(
        self,
        host: str,
        service: str,
        *,
        down_interval: float,
        lost_interval: float,
        monitor_name: str = "",
    ) -> None:
        self.host = check_name("host name", host)
        self.service = check_name("service description", service)
        self.intervals = {Interval.DOWN: down_interval, Interval.LOST: lost_interval}
        self.monitor_name = monitor_name

    def _line(self, now: int, command: str, *fields: str) -> str:
        return f"[{now}] {command};{self.host};{self.service};" + ";".join(fields) + "\n"

    def lines(self, action: Action, now: int) -> list[str]:
        if isinstance(action, Publish):
            return [
                self._line(now, "CHANGE_CUSTOM_SVC_VAR", "POP3_IPMON_STATE", action.phase.value),
                self._line(now, "CHANGE_CUSTOM_SVC_VAR", "POP3_IPMON_ALERT", str(action.alert)),
                self._line(
                    now, "CHANGE_CUSTOM_SVC_VAR", "POP3_IPMON_FAILURES", str(action.failures)
                ),
            ]
        if isinstance(action, (Alert, Recovery)):
            text = (
                alert_text(action, self.monitor_name)
                if isinstance(action, Alert)
                else recovery_text(action, self.monitor_name)
            )
            # Options 0: through the normal contacts, neither forced (downtime
            # and disabled notifications still hold) nor counted: the
            # notification number never resets on a SOFT recovery, so our
            # alert number travels in $_SERVICEPOP3_IPMON_ALERT$ instead.
            return [self._line(now, "SEND_CUSTOM_SVC_NOTIFICATION", "0", AUTHOR, free_text(text))]
        units = number(self.intervals[action.interval])
        return [self._line(now, "CHANGE_RETRY_SVC_CHECK_INTERVAL", units)]


def deliver(command_file: Path, lines: Sequence[str], timeout: float = 10.0) -> None:
    """Write all lines to the command FIFO in one piece."""
    if not lines:
        return
    data = "".join(lines).encode()
    if len(data) >= select.PIPE_BUF:
        raise CommandError(f"{len(data)} bytes of commands do not fit one atomic write")
    try:
        info = os.stat(command_file)
    except OSError as exc:
        raise CommandError(f"command file {command_file}: {exc.strerror}") from None
    if not stat.S_ISFIFO(info.st_mode):
        raise CommandError(
            f"{command_file} is not a FIFO: is it Nagios' command_file "
            "(and check_external_commands=1)?"
        )
    try:
        # Non-blocking open fails at once (ENXIO) when Nagios does not read.
        fd = os.open(command_file, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CommandError(
            f"cannot open {command_file}: {exc.strerror} (is Nagios running?)"
        ) from None
    try:
        end = time.monotonic() + timeout
        while True:
            try:
                os.write(fd, data)
                return
            except BlockingIOError:
                if time.monotonic() > end:
                    raise CommandError(f"{command_file} stayed full for {timeout:g}s") from None
                select.select([], [fd], [], 0.1)
            except OSError as exc:  # EPIPE: Nagios closed it since we opened it
                raise CommandError(f"cannot write to {command_file}: {exc.strerror}") from None
    finally:
        os.close(fd)
