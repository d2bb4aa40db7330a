"""--login against a real Dovecot: each method, failures, STAT, thresholds, secrecy."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import HOSTNAME
from tests.support.dovecot import USERS, Dovecot
from tests.support.fakepop3 import FakePOP3, Script, greeting_then_quit
from tests.support.output import run_plugin

PASSWORD = USERS["alice"]
# CRLF line endings: Dovecot's STAT then counts exactly these octets.
MESSAGES = [
    b"Subject: first\r\n\r\n" + b"a" * 80 + b"\r\n",
    b"Subject: second\r\n\r\n" + b"b" * 180 + b"\r\n",
    b"Subject: third\r\n\r\n" + b"c" * 280 + b"\r\n",
]
MAILBOX_SIZE = sum(len(body) for body in MESSAGES)
# Failed logins answer at once and do not slow the next one down (Dovecot's
# per-IP auth penalty would, as it would for a monitoring server).
NO_PENALTY = """\
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""
METHODS = {"user": "USER", "plain": "SASL PLAIN", "apop": "APOP"}
NO_PASSWORD_ENV = {"CHECK_POP3_IPMON_PASSWORD": None}


def write_secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def authfile(tmp_path: Path) -> Path:
    return write_secret(tmp_path / "alice.pass", PASSWORD + "\n")


@pytest.fixture
def mailbox(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """Plaintext Dovecot offering USER, SASL PLAIN and APOP; alice has MESSAGES."""
    server = dovecot_factory(auth_mechanisms="plain login apop", extra_config=NO_PENALTY)
    for body in MESSAGES:
        server.add_message("alice", body)
    return server


def login_args(server: Dovecot, authfile: Path, *extra: str) -> list[str]:
    return [
        "-H",
        server.host,
        "-p",
        str(server.port),
        "--login",
        "-u",
        "alice",
        "--authfile",
        str(authfile),
        *extra,
    ]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_logs_in_and_reads_the_mailbox(
    method: str, mailbox: Dovecot, authfile: Path
) -> None:
    args = login_args(mailbox, authfile, "--auth", method, "--allow-plaintext-login", "-vvv")
    run = run_plugin(*args)
    assert run.code == 0, run.stdout
    assert re.fullmatch(
        rf"POP3 OK - greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{mailbox.port}: "
        rf"\+OK Dovecot ready\. <[^>]+@[^>]+>; alice \({METHODS[method]}\): "
        rf"3 messages, {MAILBOX_SIZE} B",
        run.first,
    ), run.first
    perf = run.perfdata
    assert (perf["messages"].value, perf["messages"].uom, perf["messages"].min) == (3, "", "0")
    assert (perf["mailbox_size"].value, perf["mailbox_size"].uom) == (MAILBOX_SIZE, "B")
    assert {"login_time", "stat_time", "quit_time"} <= set(perf)
    assert f"login: alice with {METHODS[method]}" in run.lines
    assert f"mailbox: 3 messages, {MAILBOX_SIZE} bytes" in run.lines
    # -vvv shows the transcript, but never the password or what reveals it.
    greeting = next(line for line in run.lines if line.startswith("S: +OK Dovecot ready. <"))
    timestamp = greeting[greeting.index("<") :]
    secrets = [
        PASSWORD,
        base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode(),
        hashlib.md5((timestamp + PASSWORD).encode(), usedforsecurity=False).hexdigest(),
    ]
    for secret in secrets:
        assert secret not in run.stdout + run.stderr
    masked = {"user": "C: PASS ********", "plain": "C: ********", "apop": "C: APOP alice ********"}
    assert masked[method] in run.lines
    assert "C: STAT" in run.lines and "C: QUIT" in run.lines


@pytest.mark.parametrize(
    ("given", "shown"), [("USER", "USER"), ("Apop", "APOP"), ("PLAIN", "SASL PLAIN")]
)
def test_auth_takes_any_case(given: str, shown: str, mailbox: Dovecot, authfile: Path) -> None:
    """RFC 1939 writes the commands in upper case; an administrator may too."""
    run = run_plugin(*login_args(mailbox, authfile, "--auth", given, "--allow-plaintext-login"))
    assert run.code == 0, run.stdout
    assert run.first.endswith(f"; alice ({shown}): 3 messages, {MAILBOX_SIZE} B"), run.first


def test_default_method_is_the_best_offered(
    mailbox: Dovecot, dovecot_tls: Dovecot, authfile: Path, ca_file: Path
) -> None:
    # Without TLS only APOP keeps the password off the wire.
    run = run_plugin(*login_args(mailbox, authfile, "--allow-plaintext-login"))
    assert run.code == 0, run.stdout
    assert run.first.endswith(f"; alice (APOP): 3 messages, {MAILBOX_SIZE} B")
    # Under TLS, SASL PLAIN (this server has no APOP).
    tls_args = ["--tls", "starttls", "--sni", HOSTNAME, "--ca-file", str(ca_file)]
    run = run_plugin(*login_args(dovecot_tls, authfile, *tls_args))
    assert run.code == 0, run.stdout
    assert run.first.endswith("; alice (SASL PLAIN): 0 messages, 0 B"), run.first
    run = run_plugin(*login_args(dovecot_tls, authfile, *tls_args, "--auth", "user"))
    assert run.code == 0, run.stdout
    assert run.first.endswith("; alice (USER): 0 messages, 0 B"), run.first


@pytest.mark.parametrize("method", sorted(METHODS))
def test_wrong_password_is_critical_with_the_server_reply(
    method: str, mailbox: Dovecot, tmp_path: Path
) -> None:
    wrong = write_secret(tmp_path / "wrong.pass", "not-the-password\n")
    args = login_args(mailbox, wrong, "--auth", method, "--allow-plaintext-login")
    run = run_plugin(*args)
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        f"POP3 CRITICAL - login as alice failed ({METHODS[method]}): "
        "-ERR [AUTH] Authentication failed.; greeting in "
    ), run.first
    assert "login_time" in run.perfdata
    assert "messages" not in run.perfdata


def test_plaintext_login_without_tls_is_refused_before_connecting(
    fake_pop3: Callable[[Script], FakePOP3], authfile: Path
) -> None:
    server = fake_pop3(greeting_then_quit(b"+OK ready\r\n"))
    args = ["-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", "alice"]
    for auth in ([], ["--auth", "user"], ["--auth", "plain"]):
        run = run_plugin(*args, "--authfile", str(authfile), *auth)
        assert run.code == 3, run.stdout
        assert run.first == (
            "POP3 UNKNOWN - --login without TLS would send the password in clear: use "
            "--tls starttls, --tls implicit, --auth apop, or --allow-plaintext-login"
        )
    assert server.connections == 0


def test_thresholds_on_messages_and_size(mailbox: Dovecot, authfile: Path) -> None:
    base = login_args(mailbox, authfile, "--auth", "apop")
    run = run_plugin(*base, "--messages-warn", "2", "--messages-crit", "10")
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - 3 messages (outside warning range 2); greeting")
    assert (run.perfdata["messages"].warn, run.perfdata["messages"].crit) == ("2", "10")

    run = run_plugin(*base, "--size-warn", "100", "--size-crit", str(MAILBOX_SIZE - 1))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        f"POP3 CRITICAL - mailbox {MAILBOX_SIZE} B (outside critical range {MAILBOX_SIZE - 1}); "
    ), run.first
    size = run.perfdata["mailbox_size"]
    assert (size.warn, size.crit) == ("100", str(MAILBOX_SIZE - 1))

    run = run_plugin(*base, "--messages-warn", "3", "--size-crit", str(MAILBOX_SIZE))
    assert run.code == 0, run.stdout


def test_the_check_changes_nothing_in_the_mailbox(mailbox: Dovecot, authfile: Path) -> None:
    maildir = mailbox.workdir / "home" / "alice" / "Maildir"
    for _ in range(2):
        run = run_plugin(*login_args(mailbox, authfile, "--auth", "apop"))
        assert run.code == 0, run.stdout
        assert run.perfdata["messages"].value == 3
        assert run.perfdata["mailbox_size"].value == MAILBOX_SIZE
    kept = sorted(path.read_bytes() for sub in ("cur", "new") for path in (maildir / sub).iterdir())
    assert kept == sorted(MESSAGES)


def test_authfile_readable_by_others_is_refused(
    fake_pop3: Callable[[Script], FakePOP3], tmp_path: Path
) -> None:
    server = fake_pop3(greeting_then_quit(b"+OK ready\r\n"))
    for mode in (0o640, 0o604):
        path = write_secret(tmp_path / f"shared{mode:o}.pass", PASSWORD + "\n", mode)
        run = run_plugin(
            "-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", "alice", "--auth", "apop",
            "--authfile", str(path),
        )  # fmt: skip
        assert run.code == 3, run.stdout
        assert run.first == (
            f"POP3 UNKNOWN - --authfile {path} is readable by group or others "
            f"(mode {mode:04o}): refused; chmod 600 it"
        )
    run = run_plugin(
        "-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", "alice", "--auth", "apop",
        "--authfile", str(tmp_path / "absent"),
    )  # fmt: skip
    assert run.code == 3
    assert run.first == (
        f"POP3 UNKNOWN - cannot read --authfile {tmp_path / 'absent'}: No such file or directory"
    )
    assert server.connections == 0


def test_password_from_the_environment(mailbox: Dovecot) -> None:
    args = ["-H", "127.0.0.1", "-p", str(mailbox.port), "--login", "-u", "alice", "--auth", "apop"]
    run = run_plugin(*args, env={"CHECK_POP3_IPMON_PASSWORD": PASSWORD})
    assert run.code == 0, run.stdout
    assert PASSWORD not in run.stdout
    run = run_plugin(
        *args,
        "--password-env",
        "NAGIOS__SERVICEPOP3PASSWORD",
        env={"NAGIOS__SERVICEPOP3PASSWORD": PASSWORD, **NO_PASSWORD_ENV},
    )
    assert run.code == 0, run.stdout
    run = run_plugin(*args, env=NO_PASSWORD_ENV)
    assert run.code == 3
    assert run.first == (
        "POP3 UNKNOWN - --login needs a password: --authfile FILE or the environment "
        "variable CHECK_POP3_IPMON_PASSWORD"
    )
    # A password passed to --password-env by mistake is not echoed.
    run = run_plugin(*args, "--password-env", "Hunter2", env=NO_PASSWORD_ENV)
    assert run.code == 3
    assert run.first == (
        "POP3 UNKNOWN - --login needs a password: --authfile FILE or the --password-env variable"
    )
    assert "Hunter2" not in run.stdout + run.stderr


def test_no_method_offered_before_tls(
    dovecot_factory: Callable[..., Dovecot], authfile: Path
) -> None:
    # Dovecot hides USER and PLAIN on an insecure connection (from another address).
    server = dovecot_factory(host="127.0.0.2", disable_plaintext_auth=True)
    run = run_plugin(*login_args(server, authfile, "--allow-plaintext-login"))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - no login method offered without TLS: CAPA lists neither USER nor "
        "SASL PLAIN and the greeting has no APOP timestamp; greeting in "
    ), run.first
    run = run_plugin(*login_args(server, authfile, "--allow-plaintext-login", "--auth", "user"))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - login as alice failed (USER): -ERR [AUTH] Plaintext authentication "
        "disallowed on non-secure (SSL/TLS) connections.; greeting in "
    ), run.first
