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

from check_pop3_ipmon.alerting.errors import EngineError
from check_pop3_ipmon.alerting.model import Hold, Interval, NextAlert, Publish
from check_pop3_ipmon.core import hold

TYPE_CHECKING = False  # typing: start-up time on every result
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Optional

    from check_pop3_ipmon.alerting.model import Action

AUTHOR = hold.AUTHOR
_FORBIDDEN = frozenset(";\n\r\0")


class CommandError(EngineError):
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
        intervals: dict[Interval, float],
        check_time: int,
        interval_length: int = 60,
        passive: bool = False,
    ) -> None:
        self.host = check_name("host name", host)
        self.service = check_name("service description", service)
        self.intervals = intervals
        self.check_time = check_time
        self.interval_length = interval_length
        # A passive result (a central Nagios fed by send_nsca): the remote
        # Nagios schedules the tests. A forced check here would run the
        # check_command on the central node, active checks off or not.
        self.passive = passive

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
        if isinstance(action, Hold):
            # Sticky (2): a change between problem states keeps it; Nagios
            # drops it at OK and sends the RECOVERY. No notification (0), the
            # comment goes with it (not persistent, 0).
            m = action.alerts
            note = f"ipMonitor: alert {m} of {m} sent, no more until it recovers"
            return [self._line(now, "ACKNOWLEDGE_SVC_PROBLEM", "2", "0", "0", AUTHOR, note)]
        if isinstance(action, NextAlert):
            when = self.next_notification(action, now)
            if when is None:
                return []
            return [self._line(now, "DELAY_SVC_NOTIFICATION", str(when))]
        units = self.intervals[action.interval]
        lines = [self._line(now, "CHANGE_NORMAL_SVC_CHECK_INTERVAL", number(units))]
        # Forced: the only way to move a scheduled check later (an unforced
        # one only ever moves it earlier). Nagios truncates to whole seconds
        # as it does for its own schedule. A time already past (this run
        # came late: a machine too busy to run us in time) forces the check
        # now if it is an outage's next test, which Nagios' own schedule
        # would put an Up interval away (500 services failing at once under
        # load were not tested again for 8 minutes with Up 1 h, Down 30 s);
        # for the longer intervals Nagios' own, sooner, stands.
        when = int(self.check_time + self.seconds(action.interval))
        if action.move and not self.passive:
            if when > now:
                lines.append(self._line(now, "SCHEDULE_FORCED_SVC_CHECK", str(when)))
            elif action.interval is Interval.DOWN:
                lines.append(self._line(now, "SCHEDULE_FORCED_SVC_CHECK", str(now)))
        return lines

    def next_notification(self, action: NextAlert, now: int) -> Optional[int]:
        """The time before which Nagios may not re-notify; None: leave it.

        Nagios re-notifies a HARD problem with the first result at or after
        next_notification: 0 lets the very next failure notify. Otherwise
        the delay ends half a Down interval after the `after`-th next test,
        so Nagios notifies on its own one test later should we stop acting
        (never silent), and never before the failure we would have let
        through (never early). Nothing further: after alert M Nagios stops
        by itself (pop3_ipmon_config's serviceescalation, interval 0), and
        no delay we set outlives the next few tests (the Hold at alert M
        lasts until the recovery: it holds back only alerts past M).
        """
        if action.after is None:
            return None
        if action.after == 1:
            # Not when this run comes too late for that failure (a machine
            # too busy to run us in time): it would let the one after
            # notify too; the next run, for that failure, says what is owed.
            late = now >= self.check_time + self.seconds(Interval.DOWN)
            return None if late else 0
        down = self.seconds(Interval.DOWN)
        first = self.check_time + self.seconds(action.interval)
        return int(first + (action.after - 0.5) * down)

    def seconds(self, interval: Interval) -> float:
        return self.intervals[interval] * self.interval_length


def interval_length(main_config: Path) -> int:
    """interval_length from nagios.cfg (60 when unset): intervals are in its units."""
    try:
        text = main_config.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CommandError(f"cannot read {main_config}: {exc.strerror}") from None
    value = 60
    for line in text.splitlines():
        key, sep, rest = line.strip().partition("=")
        if sep and key.strip() == "interval_length":
            try:
                value = int(rest.strip())
            except ValueError:
                raise CommandError(f"{main_config}: interval_length={rest.strip()!r}") from None
    if value < 1:
        raise CommandError(f"{main_config}: interval_length={value}")
    return value


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
