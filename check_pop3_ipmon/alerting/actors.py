"""The engine's side of a decision: who performs the actions, and how.

Nagios only: Icinga 2 sends ipMonitor's alerts through its own Notification
objects (contrib/icinga2/pop3_ipmon_templates.conf) and runs no handler.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

from check_pop3_ipmon.alerting.arguments import MAX_SECONDS, MIN_SECONDS, Invocation
from check_pop3_ipmon.alerting.errors import EngineError
from check_pop3_ipmon.alerting.model import Action, Interval

if TYPE_CHECKING:  # imported where used: startup is per result
    from check_pop3_ipmon.alerting import nagios


class Actor(Protocol):
    def run(self, actions: Sequence[Action]) -> tuple[int, Optional[str]]:
        """Perform the actions in order: how many took effect, and why not the rest."""


@dataclass
class NagiosActor:
    commands: nagios.NagiosCommands
    command_file: Path
    timeout: float = 10.0

    def run(self, actions: Sequence[Action]) -> tuple[int, Optional[str]]:
        from check_pop3_ipmon.alerting import nagios

        now = int(time.time())
        lines = [line for action in actions for line in self.commands.lines(action, now)]
        try:
            nagios.deliver(self.command_file, lines, self.timeout)  # one write: all or nothing
        except nagios.CommandError as exc:
            return 0, str(exc)
        return len(actions), None


def intervals(inv: Invocation) -> dict[Interval, float]:
    return {
        Interval.UP: inv.up_interval,
        Interval.DOWN: inv.down_interval,
        Interval.LOST: inv.lost_interval,
    }


def check_seconds(inv: Invocation, unit: int) -> None:
    """Each interval, in seconds, within the bounds (EngineError, one line, if not)."""
    for interval, value in intervals(inv).items():
        seconds = value * unit
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            per = f" ({value:g} x interval_length {unit})" if unit != 1 else ""
            raise EngineError(
                f"--{interval.value}-interval is {seconds:g}s{per}: an interval must be "
                f"{MIN_SECONDS}s to {MAX_SECONDS}s (a week); nothing done"
            )


def build_actor(inv: Invocation) -> Actor:
    """The actor for the invocation's engine (CommandError if it cannot be)."""
    from check_pop3_ipmon.alerting import nagios

    if inv.engine != "nagios":
        raise EngineError(f"no handler for {inv.engine}: Icinga 2 sends its alerts on its own")
    if inv.command_file is None or inv.main_config is None:
        raise nagios.CommandError("--command-file and --main-config are required")
    unit = nagios.interval_length(inv.main_config)
    check_seconds(inv, unit)
    commands = nagios.NagiosCommands(
        inv.host,
        inv.service,
        intervals=intervals(inv),
        check_time=int(float(inv.check_time)),
        interval_length=unit,
    )
    return NagiosActor(commands, inv.command_file, inv.command_timeout)
