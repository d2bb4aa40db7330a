"""The system CA store without parsing its bundle: same trust, read lazily.

The locations come from SSL_CERT_FILE / SSL_CERT_DIR here, the way OpenSSL
reads them, so that a test can hold CAs of its own (the machine's store is
never touched). A verified check goes through a real Dovecot.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest
import trustme

from check_pop3_ipmon.check import castore, tls
from tests.conftest import HOSTNAME, issue
from tests.support.dovecot import Dovecot
from tests.support.integration import find_program
from tests.support.output import run_plugin


def hashed_directory(path: Path, *cas: trustme.CA) -> Path:
    """A CA directory as update-ca-certificates leaves one: a file per CA, hash
    links by `openssl rehash`, and the bundle of the same CAs beside them."""
    path.mkdir()
    for index, ca in enumerate(cas):
        ca.cert_pem.write_to_path(str(path / f"ca{index}.pem"))
    subprocess.run([find_program("openssl", "openssl"), "rehash", str(path)], check=True)
    (path / "bundle.crt").write_bytes(b"".join(ca.cert_pem.bytes() for ca in cas))
    return path


@pytest.fixture
def store_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("SSL_CERT_URI", raising=False)
    yield monkeypatch


def loaded(context: ssl.SSLContext) -> int:
    """Certificates parsed into the context before any handshake."""
    return context.cert_store_stats()["x509"]


def test_a_bundle_in_its_hashed_directory_is_not_parsed(
    store_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = hashed_directory(tmp_path / "certs", trustme.CA(), trustme.CA())
    store_env.setenv("SSL_CERT_DIR", str(directory))
    store_env.setenv("SSL_CERT_FILE", str(directory / "bundle.crt"))
    assert castore.bundled_in(str(directory / "bundle.crt"), str(directory))
    assert loaded(castore.system_context()) == 0
    # What create_default_context() does with the same locations: all parsed.
    assert loaded(ssl.create_default_context()) == 2


def test_a_bundle_with_more_than_the_directory_links_is_parsed(
    store_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = hashed_directory(tmp_path / "certs", trustme.CA())
    bundle = directory / "bundle.crt"
    bundle.write_bytes(bundle.read_bytes() + trustme.CA().cert_pem.bytes())
    store_env.setenv("SSL_CERT_DIR", str(directory))
    store_env.setenv("SSL_CERT_FILE", str(bundle))
    assert not castore.bundled_in(str(bundle), str(directory))
    assert loaded(castore.system_context()) == 2


def test_a_file_outside_the_directory_is_parsed(
    store_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = hashed_directory(tmp_path / "certs", trustme.CA())
    elsewhere = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(elsewhere))
    store_env.setenv("SSL_CERT_DIR", str(directory))
    store_env.setenv("SSL_CERT_FILE", str(elsewhere))
    assert loaded(castore.system_context()) == 1


def test_a_missing_file_is_skipped_as_openssl_skips_it(
    store_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store_env.setenv("SSL_CERT_DIR", str(tmp_path))
    store_env.setenv("SSL_CERT_FILE", str(tmp_path / "absent.pem"))
    assert loaded(castore.system_context()) == 0


def test_an_empty_directory_setting_leaves_openssl_its_defaults(
    store_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    store_env.setenv("SSL_CERT_DIR", "")
    store_env.setenv("SSL_CERT_FILE", str(bundle))
    assert loaded(castore.system_context()) == 1


def test_as_strict_as_create_default_context() -> None:
    ours, stock = castore.system_context(), ssl.create_default_context()
    assert ours.verify_mode == stock.verify_mode == ssl.CERT_REQUIRED
    assert ours.check_hostname and stock.check_hostname
    assert ours.verify_flags == stock.verify_flags
    assert ours.options == stock.options
    assert ours.minimum_version == stock.minimum_version
    assert ours.get_ciphers() == stock.get_ciphers()


def test_insecure_reads_no_ca_store() -> None:
    assert loaded(tls.make_context(None, insecure=True, min_version=None)) == 0


def test_debian_system_store_is_searched_not_parsed(store_env: pytest.MonkeyPatch) -> None:
    """On this machine's own store, when it has Debian's layout."""
    store_env.delenv("SSL_CERT_FILE", raising=False)
    store_env.delenv("SSL_CERT_DIR", raising=False)
    paths = ssl.get_default_verify_paths()
    if not castore.bundled_in(paths.openssl_cafile, paths.openssl_capath):
        pytest.skip(f"{paths.openssl_cafile} is not the bundle of {paths.openssl_capath}")
    assert loaded(castore.system_context()) == 0
    assert loaded(ssl.create_default_context()) > 0


@pytest.fixture
def two_servers(
    dovecot_factory: Callable[..., Dovecot], tmp_path: Path
) -> tuple[trustme.CA, trustme.CA, Dovecot, Dovecot]:
    """Dovecots with certificates from two CAs."""
    first, second = trustme.CA(), trustme.CA()
    servers = [
        dovecot_factory(tls=issue(ca, tmp_path / f"cert{index}", HOSTNAME))
        for index, ca in enumerate((first, second))
    ]
    return first, second, servers[0], servers[1]


def verified(server: Dovecot, env: dict[str, Optional[str]]) -> tuple[int, str]:
    run = run_plugin(
        "-H", "127.0.0.1", "-p", str(server.tls_port), "-S", "--sni", HOSTNAME, env=env
    )
    return run.code, run.first


def test_hashed_directory_verifies_and_refuses_like_the_bundle(
    two_servers: tuple[trustme.CA, trustme.CA, Dovecot, Dovecot], tmp_path: Path
) -> None:
    """Only the first CA is in the store: its server passes, the other's fails,
    whether OpenSSL searches the directory or (the bundle elsewhere) parses it."""
    first, _second, trusted, stranger = two_servers
    directory = hashed_directory(tmp_path / "certs", first)
    outside = tmp_path / "outside.pem"
    outside.write_bytes((directory / "bundle.crt").read_bytes())
    empty = tmp_path / "empty"
    empty.mkdir()
    in_directory = str(directory / "bundle.crt")
    envs: list[dict[str, Optional[str]]] = [
        {"SSL_CERT_DIR": str(directory), "SSL_CERT_FILE": in_directory, "SSL_CERT_URI": None},
        {"SSL_CERT_DIR": str(empty), "SSL_CERT_FILE": str(outside), "SSL_CERT_URI": None},
    ]
    for env in envs:
        code, first_line = verified(trusted, env)
        assert code == 0, (env, first_line)
        assert "(TLSv1." in first_line and "NOT verified" not in first_line
        code, first_line = verified(stranger, env)
        assert code == 2, (env, first_line)
        assert first_line.startswith(
            "POP3 CRITICAL - certificate verification failed: "
            "unable to get local issuer certificate"
        ), first_line
