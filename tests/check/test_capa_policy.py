"""CAPA, --require-capa, --forbid-plaintext-auth and --tls-min-version against a real Dovecot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
import trustme

from tests.conftest import HOSTNAME, issue
from tests.support.dovecot import USERS, Dovecot
from tests.support.output import run_plugin

PLAIN_CAPA = "capa: CAPA, TOP, UIDL, RESP-CODES, PIPELINING, AUTH-RESP-CODE, USER, SASL PLAIN LOGIN"
# Dovecot only hides plaintext authentication from a client on another
# address than its own: it listens on 127.0.0.2, the client comes from 127.0.0.1.
OTHER_ADDRESS = "127.0.0.2"


def capa_list(lines: list[str], label: str = "capa") -> list[str]:
    """The CAPA list on `label`'s line (-v also has a "capa: 0.000123s" timing line)."""
    for line in lines:
        if line.startswith(label + ": ") and not re.fullmatch(r"[a-z]+: [0-9.]+s", line):
            return line[len(label) + 2 :].split(", ")
    raise AssertionError(f"no {label} line in {lines}")


def target(server: Dovecot, *extra: str) -> list[str]:
    return ["-H", server.host, "-p", str(server.port), *extra]


def test_capa_is_listed_with_v(dovecot: Dovecot) -> None:
    run = run_plugin(*target(dovecot, "--capa"))
    assert run.code == 0, run.stdout
    assert not any(line.startswith("capa") for line in run.lines)
    assert "capa_time" in run.perfdata
    run = run_plugin(*target(dovecot, "--capa", "-v"))
    assert run.code == 0, run.stdout
    assert PLAIN_CAPA in run.lines
    assert "capa_time" in run.perfdata
    assert not any(line.startswith("capa after TLS") for line in run.lines)


def test_capa_before_and_after_stls(dovecot_tls: Dovecot, ca_file: Path) -> None:
    run = run_plugin(
        *target(dovecot_tls, "--tls", "starttls", "--ca-file", str(ca_file), "--capa", "-v")
    )
    assert run.code == 0, run.stdout
    before, after = capa_list(run.lines), capa_list(run.lines, "capa after TLS")
    assert "STLS" in before
    assert "STLS" not in after and "USER" in after
    assert {"stls_time", "capa_time"} <= set(run.perfdata)


def test_require_capa(dovecot: Dovecot, dovecot_tls: Dovecot, ca_file: Path) -> None:
    present = ["UIDL", "top", "SASL PLAIN", "LOGIN", "USER", "RESP-CODES"]
    args = [arg for name in present for arg in ("--require-capa", name)]
    run = run_plugin(*target(dovecot, *args))
    assert run.code == 0, run.stdout

    args += ["--require-capa", "SASL CRAM-MD5", "--require-capa", "XTND", "--require-capa", "STLS"]
    run = run_plugin(*target(dovecot, *args))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - server does not offer SASL CRAM-MD5, XTND, STLS; greeting in "
    ), run.first

    # STLS is only ever listed before TLS; the rest after it.
    tls = ["--tls", "starttls", "--ca-file", str(ca_file)]
    run = run_plugin(*target(dovecot_tls, *tls, "--require-capa", "STLS", "--require-capa", "USER"))
    assert run.code == 0, run.stdout


def test_require_capa_rejects_a_bad_name(dovecot: Dovecot) -> None:
    run = run_plugin(*target(dovecot, "--require-capa", "UIDL;rm"))
    assert run.code == 3
    assert run.first == "POP3 UNKNOWN - argument --require-capa: not a capability name: 'UIDL;rm'"


@pytest.mark.parametrize("disable_plaintext_auth", [False, True])
def test_forbid_plaintext_auth(
    disable_plaintext_auth: bool, dovecot_factory: Callable[..., Dovecot]
) -> None:
    server = dovecot_factory(host=OTHER_ADDRESS, disable_plaintext_auth=disable_plaintext_auth)
    run = run_plugin(*target(server, "--forbid-plaintext-auth"))
    if disable_plaintext_auth:
        assert run.code == 0, run.stdout
        assert run.first.startswith("POP3 OK - greeting in ")
        return
    assert run.code == 1, run.stdout
    assert run.first.startswith(
        "POP3 WARNING - plaintext authentication offered before TLS: USER, SASL PLAIN, "
        "SASL LOGIN; greeting in "
    ), run.first
    run = run_plugin(*target(server, "--forbid-plaintext-auth", "--policy-state", "critical"))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - plaintext authentication offered before TLS: USER, SASL PLAIN, "
        "SASL LOGIN, reported CRITICAL as asked by --policy-state; greeting in "
    ), run.first


def test_forbid_plaintext_auth_with_stls_then_login(
    dovecot_factory: Callable[..., Dovecot], ca: trustme.CA, tmp_path: Path, ca_file: Path
) -> None:
    """The secure setup: nothing in clear before STLS, a login after it."""
    server = dovecot_factory(
        host=OTHER_ADDRESS,
        disable_plaintext_auth=True,
        tls=issue(ca, tmp_path / "cert", HOSTNAME),
    )
    authfile = tmp_path / "alice.pass"
    authfile.write_text(USERS["alice"])
    authfile.chmod(0o600)
    run = run_plugin(
        *target(server, "--tls", "starttls", "--sni", HOSTNAME, "--ca-file", str(ca_file)),
        "--forbid-plaintext-auth", "--capa", "-v",
        "--login", "-u", "alice", "--authfile", str(authfile),
    )  # fmt: skip
    assert run.code == 0, run.stdout
    assert run.first.endswith("; alice (SASL PLAIN): 0 messages, 0 B"), run.first
    before = capa_list(run.lines)
    assert "USER" not in before and "SASL" in before
    assert "USER" in capa_list(run.lines, "capa after TLS")


def test_forbid_plaintext_auth_needs_a_plain_phase(dovecot_tls: Dovecot) -> None:
    run = run_plugin(*target(dovecot_tls, "-S", "--forbid-plaintext-auth"))
    assert run.code == 3
    assert run.first == (
        "POP3 UNKNOWN - --forbid-plaintext-auth looks at what is offered before TLS: "
        "use it with --tls none or starttls"
    )


def test_tls_min_version(
    dovecot_tls: Dovecot,
    dovecot_factory: Callable[..., Dovecot],
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    tls = ["-S", "--sni", HOSTNAME, "--ca-file", str(ca_file)]
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot_tls.tls_port), *tls,
                     "--tls-min-version", "1.3", "-v")  # fmt: skip
    assert run.code == 0, run.stdout
    assert "(TLSv1.3)" in run.first
    assert any(line.startswith("tls: TLSv1.3 TLS_") for line in run.lines)

    # A server that stops at TLS 1.2, as OpenSSL's system configuration can make it.
    openssl_conf = tmp_path / "openssl-tls12.cnf"
    openssl_conf.write_text(
        "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = tls\n"
        "[tls]\nMaxProtocol = TLSv1.2\n"
    )
    old = dovecot_factory(
        tls=issue(ca, tmp_path / "cert12", HOSTNAME),
        extra_config=f"import_environment = $import_environment OPENSSL_CONF={openssl_conf}\n",
    )
    run = run_plugin("-H", "127.0.0.1", "-p", str(old.tls_port), *tls, "-v")
    assert run.code == 0, run.stdout
    assert "(TLSv1.2)" in run.first
    run = run_plugin("-H", "127.0.0.1", "-p", str(old.tls_port), *tls, "--tls-min-version", "1.2")
    assert run.code == 0, run.stdout
    run = run_plugin("-H", "127.0.0.1", "-p", str(old.tls_port), *tls, "--tls-min-version", "1.3")
    assert run.code == 2, run.stdout
    # OpenSSL 3.0's server closes; others may send a protocol_version alert first.
    assert run.first.startswith("POP3 CRITICAL - "), run.first
    assert run.first.endswith(" during the TLS handshake (with --tls-min-version 1.3)") or (
        run.first.startswith("POP3 CRITICAL - TLS handshake failed: ")
        and run.first.endswith(" (with --tls-min-version 1.3)")
    ), run.first
