"""Transports behind one interface: what each needs in a credential set, where
its commands run, and the argv it makes; nothing else tests a method by name."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.recovery import credentials as creds
from check_pop3_ipmon.recovery.transport import (
    TRANSPORTS,
    Command,
    CredentialSet,
    Local,
    Ssh,
    Transport,
    transport,
)
from tests.recovery.conftest import Recovery

FULL = {"user": "r", "identity_file": "/k", "known_hosts": "/h"}


def test_every_method_a_credential_set_may_name_is_a_transport() -> None:
    assert set(creds.METHODS) == set(TRANSPORTS) == {"local", "ssh"}
    for method, instance in TRANSPORTS.items():
        assert isinstance(instance, Transport) and instance.method == method
        assert set(instance.keys) <= creds.keys()


@pytest.mark.parametrize("method", sorted(m for m, t in TRANSPORTS.items() if t.keys))
def test_a_set_lacking_one_of_its_transports_keys_is_refused(
    recovery: Recovery, method: str
) -> None:
    for missing in TRANSPORTS[method].keys:
        keys = "".join(f"{k} = {v}\n" for k, v in FULL.items() if k != missing)
        path = recovery.credentials(f"[a]\nmethod = {method}\n{keys}")
        with pytest.raises(creds.CredentialError, match=f"method = {method} needs {missing}"):
            creds.load(path)


def test_only_the_local_transport_runs_commands_here() -> None:
    assert [t.method for t in TRANSPORTS.values() if t.runs_here] == ["local"]
    assert isinstance(transport(CredentialSet("a")), Local)
    ssh = CredentialSet("b", "ssh", "r", None, None)
    assert isinstance(transport(ssh), Ssh)


def test_each_transport_makes_its_own_argv() -> None:
    command = Command(("systemctl", "restart", "dovecot"), privileged=True)
    local = transport(CredentialSet("a", sudo=True)).invocation(
        command, "mail1", CredentialSet("a", sudo=True)
    )
    assert (local.argv, local.remote) == (
        ("sudo", "-n", "--", "systemctl", "restart", "dovecot"),
        False,
    )
    with pytest.raises(ValueError, match="needs a credential set with method = ssh"):
        Local().invocation(Command(script="Restart-Service x"), "mail1", CredentialSet("a"))
