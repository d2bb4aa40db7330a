"""proxy_jump in a credential set, for real: a jump sshd, then the target sshd behind it.

Both on loopback; the jump host allows TCP forwarding, the target does not
need to. The target's sshd sees its logins arrive through the jump host's
forwarding, and the jump host's sshd a login of its own for each step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from check_pop3_ipmon.recovery import credentials as credential_sets
from tests.recovery.conftest import Recovery
from tests.recovery.test_ssh import configure, handler
from tests.support.dovecot import Dovecot
from tests.support.output import run_plugin
from tests.support.sshd import Sshd


@pytest.fixture
def jump(tmp_path: Path, sshd: Sshd) -> Iterator[Sshd]:
    """A jump host that takes the target's test key; its host key joins known_hosts."""
    workdir = tmp_path / "jump"
    workdir.mkdir()
    server = Sshd(workdir, jump_host=True)
    server.authorized_keys.write_text(Path(f"{sshd.client_key}.pub").read_text())
    with sshd.known_hosts.open("a") as known:
        known.write(server.known_hosts.read_text())
    server.start()
    yield server
    server.stop()


def test_restart_through_a_jump_host(
    recovery: Recovery,
    sshd: Sshd,
    jump: Sshd,
    dovecot: Dovecot,
    restartable: dict[str, Path],
) -> None:
    configure(recovery, sshd, dovecot, restartable)
    text = recovery.credentials_file.read_text()
    recovery.credentials(
        text.split("\n", 1)[1].join(
            ["[test-ssh]\n", f"proxy_jump = root@{jump.host}:{jump.port}\n"]
        )
    )
    dovecot.stop()
    result = handler(recovery)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port)).code == 0
    # Each of the three steps: one login on the jump host, one on the target.
    assert (jump.logins(), sshd.logins()) == (3, 3)
    _, done = recovery.audit(starting=True)
    proxy = [a for a in done["steps"][0]["argv"] if a.startswith("ProxyCommand=")]
    assert len(proxy) == 1
    assert proxy[0].endswith(f" -T -W [%h]:%p -p {jump.port} -l root -- {jump.host}")
    assert "BatchMode=yes" in proxy[0] and "IdentityAgent=none" in proxy[0]


def test_an_unknown_jump_host_key_stops_before_the_target(
    recovery: Recovery,
    sshd: Sshd,
    jump: Sshd,
    dovecot: Dovecot,
    restartable: dict[str, Path],
) -> None:
    """The jump's ssh checks its host key as strictly as the target's (no user config)."""
    configure(recovery, sshd, dovecot, restartable)
    lines = sshd.known_hosts.read_text().splitlines()
    sshd.known_hosts.write_text(lines[0] + "\n")  # the target's key only
    text = recovery.credentials_file.read_text()
    recovery.credentials(
        text.split("\n", 1)[1].join(
            ["[test-ssh]\n", f"proxy_jump = root@{jump.host}:{jump.port}\n"]
        )
    )
    dovecot.stop()
    result = handler(recovery)
    assert result.returncode == 1
    # (The jump's "Host key verification failed" is the inner ssh's; the outer
    # one reports its side, the closed proxy.)
    assert "failed - start dovecot failed (exit 255): " in result.stdout, result.stdout
    assert (jump.logins(), sshd.logins(), sshd.connections()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a,b", "proxy_jump takes one jump host, not a chain"),
        ("root@$(reboot)", "proxy_jump host '$(reboot)' is not a host name"),
        ("x y@jump", "proxy_jump user 'x y' is not a valid user name"),
        ("jump:99999", "proxy_jump port '99999' is not a port number"),
        ("-oProxyCommand=x", "proxy_jump host '-oProxyCommand=x' is not a host name"),
    ],
)
def test_bad_proxy_jump_values_are_refused(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "credentials.ini"
    path.write_text(
        "[s]\nmethod = ssh\nuser = root\nidentity_file = /k\nknown_hosts = /h\n"
        f"proxy_jump = {value}\n"
    )
    path.chmod(0o600)
    with pytest.raises(credential_sets.CredentialError) as error:
        credential_sets.load(path)
    assert f"[s]: {message}" in str(error.value)


def test_proxy_jump_forms() -> None:
    parse = credential_sets._proxy_jump  # the one parser, tested directly
    assert parse("jump", "root") == ("root", "jump", 22)
    assert parse("ops@jump.example:2222", "root") == ("ops", "jump.example", 2222)
    assert parse("[::1]:2200", "root") == ("root", "::1", 2200)
