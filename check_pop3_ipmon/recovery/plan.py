"""What each action runs: a list of steps, each an exact argv for this machine.

Planning is pure (no process runs), so --dry-run shows the very argv lists a
real run executes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from check_pop3_ipmon.recovery import validate
from check_pop3_ipmon.recovery.config import ExternalProcess, RebootServer, RestartService
from check_pop3_ipmon.recovery.transport import (
    Command,
    CredentialSet,
    Invocation,
    invocation,
    substitute,
    transport,
)

SYSTEMD = {
    "stop": ("systemctl", "stop", "{service}"),
    "start": ("systemctl", "start", "{service}"),
    "check": ("systemctl", "is-active", "--quiet", "{service}"),
}
# PowerShell; {service} is a validated name inside a single-quoted literal.
WINDOWS = {
    "stop": "Stop-Service -Name '{service}'",
    "start": "Start-Service -Name '{service}'",
    "check": "if ((Get-Service -Name '{service}').Status -ne 'Running') {{ "
    "[Console]::Error.WriteLine('{service} is not running'); exit 1 }}",
}
REBOOT_SYSTEMD = ("systemctl", "reboot")
REBOOT_WINDOWS = "Restart-Computer -Force"


class PlanError(ValueError):
    """The action cannot be carried out as configured (message says why)."""


@dataclass(frozen=True)
class Step:
    label: str
    invocation: Invocation
    env: Optional[Mapping[str, str]] = None
    required: bool = True
    # Verification may need a moment after a start: retry for this long.
    retry_for: float = 0.0


def external_process(action: ExternalProcess, env: Mapping[str, str]) -> list[Step]:
    return [Step("run", Invocation(action.argv, remote=False), env)]


def _service_command(
    action: RestartService, service: str, kind: str, target: str
) -> tuple[Command, bool]:
    """The command for one service and kind, and whether it is a default one."""
    # Checked when the config was read; checked again where it meets a script.
    validate.service_name(service, action.platform)
    privileged = kind != "check"
    custom = action.commands.get(service, {}).get(kind)
    if custom is not None:
        return Command(substitute(custom, service=service, target=target), None, privileged), False
    if action.platform == "windows":
        return Command(script=WINDOWS[kind].format(service=service), privileged=privileged), True
    return Command(substitute(SYSTEMD[kind], service=service), None, privileged), True


def restart_service(
    action: RestartService,
    target: str,
    credentials: CredentialSet,
    env: Mapping[str, str],
    target_is_here: bool,
) -> list[Step]:
    """Stop dependants first (reverse order), start in listed order, verify each."""
    steps = []
    order = [("stop", s) for s in reversed(action.services)]
    order += [("start", s) for s in action.services]
    order += [("check", s) for s in action.services]
    for kind, service in order:
        try:
            command, default = _service_command(action, service, kind, target)
        except validate.Refused as error:
            raise PlanError(str(error)) from None
        if transport(credentials).runs_here and default and not target_is_here:
            raise PlanError(
                f"credential set {credentials.name} runs commands on this machine, but the "
                f"target {target} is another one: use an ssh credential set, or configure "
                f"'{kind} {service} = ...' with a command that reaches the target"
            )
        try:
            call = invocation(command, target, credentials)
        except ValueError as error:
            raise PlanError(str(error)) from None
        steps.append(
            Step(
                f"{kind} {service}",
                call,
                None if call.remote else env,
                required=kind != "stop",  # a service that is already down fails to stop
                retry_for=action.verify_wait if kind == "check" else 0.0,
            )
        )
    return steps


def reboot_server(
    action: RebootServer, target: str, credentials: CredentialSet, env: Mapping[str, str]
) -> list[Step]:
    if action.command is not None:
        command = Command(substitute(action.command, target=target), None, privileged=True)
    elif transport(credentials).runs_here:
        raise PlanError(
            f"credential set {credentials.name} runs commands on this machine: Reboot Server "
            "needs an ssh credential set, or command = ... that reaches the target (e.g. a BMC)"
        )
    elif action.platform == "windows":
        command = Command(script=REBOOT_WINDOWS, privileged=True)
    else:
        command = Command(REBOOT_SYSTEMD, None, privileged=True)
    try:
        call = invocation(command, target, credentials)
    except ValueError as error:
        raise PlanError(str(error)) from None
    return [Step("reboot", call, None if call.remote else env)]
