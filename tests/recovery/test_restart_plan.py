"""What Restart Service runs, in which order, and how commands reach the target."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest

from check_pop3_ipmon.recovery import plan
from check_pop3_ipmon.recovery.config import RestartService, alert_range
from check_pop3_ipmon.recovery.credentials import LOCAL
from check_pop3_ipmon.recovery.transport import Command, CredentialSet, invocation

SSH = CredentialSet(
    "admin", "ssh", "recovery", Path("/etc/k/id"), Path("/etc/k/known_hosts"), 2222, sudo=True
)
ENV = {"PATH": "/usr/bin"}


def restart(**kwargs: object) -> RestartService:
    return RestartService("r", alert_range("1"), **kwargs)  # type: ignore[arg-type]


def test_dependants_stop_first_start_last_then_each_is_verified() -> None:
    action = restart(services=("postgresql", "dovecot", "postfix"))
    steps = plan.restart_service(action, "mail1", SSH, ENV, target_is_here=False)
    assert [s.label for s in steps] == [
        "stop postfix",
        "stop dovecot",
        "stop postgresql",
        "start postgresql",
        "start dovecot",
        "start postfix",
        "check postgresql",
        "check dovecot",
        "check postfix",
    ]
    assert [s.required for s in steps] == [False] * 3 + [True] * 6
    assert steps[-1].retry_for == 10.0 and steps[3].retry_for == 0


def test_ssh_invocation_is_batch_key_only_with_its_own_known_hosts() -> None:
    call = invocation(Command(("systemctl", "start", "dovecot"), privileged=True), "mail1", SSH)
    argv = list(call.argv)
    assert argv[:3] == ["/usr/bin/ssh", "-F", "/dev/null"]
    options = {argv[i + 1] for i, word in enumerate(argv) if word == "-o"}
    assert {
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        "UserKnownHostsFile=/etc/k/known_hosts",
        "GlobalKnownHostsFile=/dev/null",
        "IdentitiesOnly=yes",
        "IdentityFile=/etc/k/id",
        "IdentityAgent=none",
        "PasswordAuthentication=no",
    } <= options
    assert argv[-8:] == [
        "-T",
        "-p",
        "2222",
        "-l",
        "recovery",
        "--",
        "mail1",
        "sudo -n -- systemctl start dovecot",
    ]
    # Verification needs no privileges: no sudo.
    check = invocation(Command(("systemctl", "is-active", "x")), "mail1", SSH)
    assert check.argv[-1] == "systemctl is-active x"


def test_remote_words_are_shell_quoted() -> None:
    call = invocation(Command(("/opt/restart", "a b", "it's")), "mail1", SSH)
    assert shlex.split(call.argv[-1]) == ["/opt/restart", "a b", "it's"]


def test_local_commands_run_as_argv_with_sudo_only_when_asked() -> None:
    command = Command(("systemctl", "restart", "dovecot"), privileged=True)
    assert invocation(command, "vm", LOCAL).argv == ("systemctl", "restart", "dovecot")
    sudo = CredentialSet("s", "local", sudo=True)
    assert invocation(command, "vm", sudo).argv == (
        "sudo",
        "-n",
        "--",
        "systemctl",
        "restart",
        "dovecot",
    )


def test_windows_services_travel_as_an_encoded_powershell_script() -> None:
    action = restart(services=("MSExchangeIS", "MSExchangePOP3"), platform="windows")
    steps = plan.restart_service(action, "exch01", SSH, ENV, target_is_here=False)
    scripts = []
    for step in steps:
        remote = shlex.split(step.invocation.argv[-1])
        assert remote[:5] == [
            "powershell.exe",
            "-NoLogo",
            "-NoProfile",
            "-NonInteractive",
            "-EncodedCommand",
        ]
        scripts.append(base64.b64decode(remote[5]).decode("utf-16-le"))
    assert "Stop-Service -Name 'MSExchangePOP3'" in scripts[0]
    assert "Start-Service -Name 'MSExchangeIS'" in scripts[2]
    assert "(Get-Service -Name 'MSExchangePOP3').Status -ne 'Running'" in scripts[5]
    assert all(s.startswith("$ErrorActionPreference = 'Stop'; try { ") for s in scripts)
    # sudo does not exist there and is never added.
    assert not any("sudo" in s.invocation.argv[-1] for s in steps)


def test_local_default_commands_refuse_another_machine() -> None:
    action = restart(services=("dovecot",))
    with pytest.raises(plan.PlanError, match="the target mail1 is another one"):
        plan.restart_service(action, "mail1", LOCAL, ENV, target_is_here=False)
    steps = plan.restart_service(action, "vm", LOCAL, ENV, target_is_here=True)
    assert steps[0].invocation.argv == ("systemctl", "stop", "dovecot")


def test_custom_commands_fill_only_validated_placeholders() -> None:
    action = restart(
        services=("dovecot",),
        commands={"dovecot": {"start": ("/opt/start", "{service}", "--host={target}")}},
    )
    steps = plan.restart_service(action, "mail1", SSH, ENV, target_is_here=False)
    start = next(s for s in steps if s.label == "start dovecot")
    assert start.invocation.argv[-1] == "sudo -n -- /opt/start dovecot --host=mail1"
    stop = next(s for s in steps if s.label == "stop dovecot")
    assert stop.invocation.argv[-1] == "sudo -n -- systemctl stop dovecot"


def test_a_service_name_is_checked_again_where_it_meets_a_script() -> None:
    # A RestartService built in code (as the alerting handler could) skips the config's check.
    action = restart(services=("Exch'; Restart-Computer; '",), platform="windows")
    with pytest.raises(plan.PlanError, match="is not allowed for windows"):
        plan.restart_service(action, "exch01", SSH, ENV, target_is_here=False)
