"""Restart Service over SSH, for real: sshd on loopback, a credential set, Dovecot.

The restart commands are configured for the test instance, as an
administrator configures them for an unusual service: stop and start scripts
that drive this Dovecot's own config, and the plugin itself as the check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.recovery.conftest import SERVICE, Recovery
from tests.support.dovecot import Dovecot
from tests.support.integration import find_program
from tests.support.output import run_plugin
from tests.support.sshd import Sshd

SCRIPT = Path(sys.executable).parent / "pop3_ipmon_recovery"
PLUGIN = Path(sys.executable).parent / "check_pop3_ipmon"


def configure(recovery: Recovery, sshd: Sshd, dovecot: Dovecot, scripts: dict[str, Path]) -> None:
    find_program("sudo", "sudo")
    # As root, sudo -n needs no rule: this proves the shape (-n, --, no tty) over SSH.
    recovery.credentials(f"[test-ssh]\n{sshd.credentials()}sudo = yes\n")
    recovery.write(
        f"""\
[service {SERVICE}]
actions = restart-pop3
target = {sshd.host}
credentials = test-ssh

[action restart-pop3]
type = restart-service
alerts = 1
services = dovecot
stop dovecot = {scripts["stop"]}
start dovecot = {scripts["start"]}
check dovecot = {PLUGIN} -H 127.0.0.1 -p {dovecot.port} -t 3
verify_wait = 10s
""",
        deadline=25,
    )


def handler(recovery: Recovery, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        str(SCRIPT),
        "--config",
        str(recovery.path),
        "--service",
        SERVICE,
        "--alert",
        "1",
        "--state",
        "CRITICAL",
        "--ipmon-state",
        "Down",
        "--failures",
        "3",
        "--host",
        "mail1",
        "--address",
        "127.0.0.1",
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_restart_service_over_ssh_brings_dovecot_back(
    recovery: Recovery, sshd: Sshd, dovecot: Dovecot, restartable: dict[str, Path]
) -> None:
    configure(recovery, sshd, dovecot, restartable)
    dovecot.stop()
    assert run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port)).code == 2

    result = handler(recovery)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(
        "restart-pop3 (restart-service) on 127.0.0.1: ok - stop dovecot, start dovecot, "
        "check dovecot ["
    )
    check = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port))
    assert check.code == 0, check.stdout
    assert check.first.startswith("POP3 OK - greeting in ")
    # Each step was one SSH session with the test key.
    assert sshd.logins() == 3
    starting, done = recovery.audit(starting=True)
    assert (starting["result"], done["result"]) == ("starting", "ok")
    steps = done["steps"]
    assert [(s["step"], s["rc"]) for s in steps] == [
        ("stop dovecot", 75),  # "Dovecot is not running": a stop may fail, the restart goes on
        ("start dovecot", 0),
        ("check dovecot", 0),
    ]
    assert all(s["argv"][0] == "/usr/bin/ssh" for s in steps)
    assert steps[1]["argv"][-1] == f"sudo -n -- {restartable['start']}"


def test_an_unknown_host_key_stops_the_restart(
    recovery: Recovery, sshd: Sshd, dovecot: Dovecot, restartable: dict[str, Path]
) -> None:
    configure(recovery, sshd, dovecot, restartable)
    line = sshd.known_hosts.read_text().split()
    other = Path(f"{sshd.client_key}.pub").read_text().split()  # some other ed25519 key
    sshd.known_hosts.write_text(f"{line[0]} {other[0]} {other[1]}\n")
    dovecot.stop()
    result = handler(recovery)
    assert result.returncode == 1
    assert "failed - start dovecot failed (exit 255): " in result.stdout
    assert "host key" in result.stdout.lower()
    assert sshd.logins() == 0
    assert run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port)).code == 2


def test_nothing_reaches_sshd_when_the_credentials_file_is_readable_by_others(
    recovery: Recovery, sshd: Sshd, dovecot: Dovecot, restartable: dict[str, Path]
) -> None:
    configure(recovery, sshd, dovecot, restartable)
    recovery.credentials_file.chmod(0o644)
    result = handler(recovery)
    assert result.returncode == 2
    assert f"{recovery.credentials_file} is readable by group or others (mode 0644)" in (
        result.stdout
    )
    assert sshd.connections() == 0


@pytest.mark.parametrize("address", ["x;touch /tmp/pwned", "$(reboot)"])
def test_hostile_addresses_never_reach_sshd(
    recovery: Recovery,
    sshd: Sshd,
    dovecot: Dovecot,
    restartable: dict[str, Path],
    address: str,
) -> None:
    configure(recovery, sshd, dovecot, restartable)
    # No target in the config: the host's (hostile) address would be the target.
    recovery.path.write_text(recovery.path.read_text().replace(f"target = {sshd.host}\n", ""))
    result = handler(recovery, "--address", address)
    assert result.returncode == 2
    assert result.stdout.startswith(f"REFUSED: host address {address!r} is not a host name")
    assert sshd.connections() == 0
