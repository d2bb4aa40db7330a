from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest
import trustme

from tests.support.dovecot import Dovecot, TLSFiles
from tests.support.fakepop3 import FakePOP3, Script

HOSTNAME = "pop.example.test"


@pytest.fixture
def fake_pop3() -> Iterator[Callable[[Script], FakePOP3]]:
    """Start fake servers from scripts; all are closed after the test."""
    servers: list[FakePOP3] = []

    def start(script: Script, host: str = "127.0.0.1", port: int = 0) -> FakePOP3:
        server = FakePOP3(script, host, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def issue(
    ca: trustme.CA,
    directory: Path,
    *names: str,
    not_before: Optional[datetime.datetime] = None,
    not_after: Optional[datetime.datetime] = None,
) -> TLSFiles:
    """A server certificate for `names`; Dovecot reads the chain and the key."""
    cert = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
    directory.mkdir(parents=True, exist_ok=True)
    chain, key = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return TLSFiles(chain, key)


@pytest.fixture
def dovecot_factory(tmp_path: Path) -> Iterator[Callable[..., Dovecot]]:
    """Start Dovecot instances (each in its own directory); all stop after the test."""
    servers: list[Dovecot] = []

    def start(**kwargs: object) -> Dovecot:
        workdir = tmp_path / f"dovecot{len(servers)}"
        workdir.mkdir()
        server = Dovecot(workdir, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dovecot(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """A plaintext Dovecot on loopback."""
    return dovecot_factory()


@pytest.fixture
def dovecot_tls(dovecot_factory: Callable[..., Dovecot], ca: trustme.CA, tmp_path: Path) -> Dovecot:
    """Dovecot with a valid certificate for HOSTNAME, STLS on the plain port and POP3S."""
    return dovecot_factory(tls=issue(ca, tmp_path / "cert", HOSTNAME, "127.0.0.1"))
