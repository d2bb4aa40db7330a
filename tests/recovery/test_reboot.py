"""Reboot Server: off unless enabled, once per host per cooldown, never this machine.

The reboot command is the recorder (a harmless program that notes its argv),
run on this machine with the target as an argument, as a BMC or hypervisor
command would be; the default SSH form is checked with --dry-run.
"""

from __future__ import annotations

import base64
import json
import shlex
import shutil
import socket
import subprocess

import pytest

from check_pop3_ipmon.recovery import Config, run_actions
from check_pop3_ipmon.recovery.engine import DRY_RUN, OK, REFUSED, SKIPPED
from tests.recovery.conftest import REMOTE, SERVICE, Recovery, facts

T0 = 1_700_000_000.0
OTHER = "mail1!imap"


def reboot_config(recovery: Recovery, target: str = REMOTE, allow: str = "yes") -> Config:
    services = "".join(
        f"""\
[service {key}]
actions = reboot
target = {target}
allow_reboot = {allow}

"""
        for key in (SERVICE, OTHER)
    )
    return recovery.config(
        services
        + f"""\
[action reboot]
type = reboot-server
alerts = 3
command = {recovery.recorder("reboot", "{target}")}
""",
        reboot_cooldown="4h",
    )


def test_reboot_runs_its_command_once_per_host_per_cooldown(recovery: Recovery) -> None:
    config = reboot_config(recovery)
    first = run_actions(SERVICE, 3, facts(), config, now=T0)
    assert [(r.result, r.target) for r in first] == [(OK, REMOTE)]
    (call,) = recovery.calls()
    assert call["argv"][-2:] == ["reboot", REMOTE]
    # Another service on the same machine, an hour later: the host was just rebooted.
    second = run_actions(OTHER, 3, facts(), config, now=T0 + 3600)
    assert [(r.result, r.reason) for r in second] == [
        (SKIPPED, f"{REMOTE} was rebooted 3600s ago (reboot cooldown 14400s)")
    ]
    assert len(recovery.calls()) == 1
    third = run_actions(OTHER, 3, facts(), config, now=T0 + 4 * 3600)
    assert [r.result for r in third] == [OK]
    assert len(recovery.calls()) == 2


def own_addresses() -> list[str]:
    """This machine's non-loopback interface addresses (iproute2), if it has any."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    try:
        out = subprocess.run([ip, "-o", "addr"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    found = []
    for line in out.splitlines():
        words = line.split()
        address = words[3].split("/")[0] if len(words) > 3 else ""
        if words[2:3] in (["inet"], ["inet6"]) and not address.startswith(("127.", "::1", "fe80")):
            found.append(address)
    return found[:2]


SELF = [
    "127.0.0.1",
    "127.0.0.2",
    "::1",
    "0.0.0.0",
    "localhost",
    "LOCALHOST.",
    socket.gethostname(),
    socket.getfqdn(),
    *own_addresses(),
]


@pytest.mark.parametrize("target", SELF)
def test_reboot_never_targets_the_monitoring_host(recovery: Recovery, target: str) -> None:
    config = reboot_config(recovery, target=target)
    (result,) = run_actions(SERVICE, 3, facts(), config, now=T0)
    assert result.result == REFUSED
    assert result.reason.startswith("refusing to reboot the monitoring host: ")
    assert target in result.reason
    assert recovery.calls() == []


def test_the_hosts_address_is_the_default_target_and_checked_too(recovery: Recovery) -> None:
    config = recovery.config(
        f"""\
[service {SERVICE}]
actions = reboot
allow_reboot = yes

[action reboot]
type = reboot-server
alerts = 3
command = {recovery.recorder("{target}")}
"""
    )
    (result,) = run_actions(SERVICE, 3, facts(address="127.0.0.1"), config, now=T0)
    assert (result.result, result.target) == (REFUSED, "127.0.0.1")
    assert recovery.calls() == []


@pytest.mark.parametrize(
    ("allow", "changes", "reason"),
    [
        ("no", {}, f"Reboot Server is not enabled for {SERVICE} (allow_reboot = no)"),
        ("yes", {"host_state": "DOWN"}, "the host is DOWN, not UP"),
        ("yes", {"host_state": "UNREACHABLE"}, "the host is UNREACHABLE, not UP"),
        ("yes", {"state": "WARNING"}, "the service is WARNING, not CRITICAL"),
    ],
)
def test_reboot_only_when_enabled_host_up_and_service_critical(
    recovery: Recovery, allow: str, changes: dict[str, str], reason: str
) -> None:
    config = reboot_config(recovery, allow=allow)
    (result,) = run_actions(SERVICE, 3, facts(**changes), config, now=T0)
    assert (result.result, result.reason) == (SKIPPED, reason)
    assert recovery.calls() == []


def test_default_reboot_over_ssh_dry_run(recovery: Recovery) -> None:
    recovery.credentials(
        "[admin]\nmethod = ssh\nuser = recovery\nsudo = yes\n"
        f"identity_file = {recovery.root}/key\nknown_hosts = {recovery.root}/known_hosts\n"
    )
    (recovery.root / "key").write_text("")
    (recovery.root / "key").chmod(0o600)
    config = recovery.config(
        f"""\
[service {SERVICE}]
actions = reboot win
credentials = admin
allow_reboot = yes

[action reboot]
type = reboot-server
alerts = 3

[action win]
type = reboot-server
platform = windows
alerts = 3
"""
    )
    linux, windows = run_actions(SERVICE, 3, facts(), config, dry_run=True, now=T0)
    assert (linux.result, windows.result) == (DRY_RUN, DRY_RUN)
    argv = linux.planned[0].invocation.argv
    assert argv[0] == "/usr/bin/ssh" and argv[-4:-2] == ("recovery", "--")
    assert argv[-2:] == (REMOTE, "sudo -n -- systemctl reboot")
    remote = shlex.split(windows.planned[0].invocation.argv[-1])
    assert remote[:-1] == [
        "powershell.exe",
        "-NoLogo",
        "-NoProfile",
        "-NonInteractive",
        "-EncodedCommand",
    ]
    script = base64.b64decode(remote[-1]).decode("utf-16-le")
    assert "try { Restart-Computer -Force }" in script
    assert recovery.calls() == []


def test_reboot_with_local_credentials_needs_a_command(recovery: Recovery) -> None:
    config = recovery.config(
        f"""\
[service {SERVICE}]
actions = reboot
allow_reboot = yes

[action reboot]
type = reboot-server
alerts = 3
"""
    )
    (result,) = run_actions(SERVICE, 3, facts(), config, now=T0)
    assert result.result == REFUSED
    assert "Reboot Server needs an ssh credential set" in result.reason


def test_the_reboot_registry_forgets_reboots_past_the_cooldown(recovery: Recovery) -> None:
    """So it never grows to the state size cap (64 KiB) and turns unusable."""
    config = reboot_config(recovery)
    recovery.state_dir.mkdir(mode=0o700)
    registry = recovery.state_dir / "reboots.json"
    old, recent = T0 - 4 * 3600, T0 - 3600
    registry.write_text(json.dumps({"old.example": old, "recent.example": recent}))
    assert [r.result for r in run_actions(SERVICE, 3, facts(), config, now=T0)] == [OK]
    kept = json.loads(registry.read_text())
    assert kept["recent.example"] == recent and kept[REMOTE] == T0
    assert "old.example" not in kept
