"""POP3 servers as they are: a timestamp without an APOP secret, a maildrop in
use, a LOGIN-DELAY, upper-case options; against a real Dovecot where it can
show the behaviour."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Callable, Optional

import pytest

from tests.support.dovecot import USERS, Dovecot
from tests.support.fakepop3 import FakePOP3, Script
from tests.support.output import run_plugin

PASSWORD = USERS["alice"]
# Failed logins answer at once (tests/check/test_login.py's reason).
NO_PENALTY = """\
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""


@pytest.fixture
def authfile(tmp_path: Path) -> Path:
    path = tmp_path / "alice.pass"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def login_args(server: Dovecot, authfile: Path, *extra: str) -> list[str]:
    where = ["-H", server.host, "-p", str(server.port)]
    return [*where, "--login", "-u", "alice", "--authfile", str(authfile), *extra]


@pytest.fixture
def no_apop_secret(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """Greets with a timestamp, but keeps alice's password hashed: APOP cannot work."""
    return dovecot_factory(
        auth_mechanisms="plain login apop",
        no_apop_secret=("alice",),
        extra_config=NO_PENALTY,
    )


def test_a_timestamp_without_an_apop_secret_falls_back_to_user_pass(
    no_apop_secret: Dovecot, authfile: Path
) -> None:
    """As `--login -u U --authfile F --allow-plaintext-login` against GNU mailutils:
    the next best method, what the check picks without a timestamp (this
    Dovecot offers SASL PLAIN; mailutils only USER)."""
    run = run_plugin(*login_args(no_apop_secret, authfile, "--allow-plaintext-login", "-vvv"))
    assert run.code == 0, run.stdout
    assert run.first.endswith("; alice (SASL PLAIN): 0 messages, 0 B"), run.first
    assert "C: APOP alice ********" in run.lines and "C: AUTH PLAIN" in run.lines
    assert PASSWORD not in run.stdout + run.stderr


def test_no_fallback_when_apop_was_asked_for(no_apop_secret: Dovecot, authfile: Path) -> None:
    run = run_plugin(*login_args(no_apop_secret, authfile, "--auth", "apop", "-vvv"))
    assert run.code == 2, run.stdout
    assert re.fullmatch(r"POP3 CRITICAL - login as alice failed \(APOP\): -ERR .*", run.first)
    assert "C: AUTH PLAIN" not in run.lines and "C: USER alice" not in run.lines


def test_both_refusals_are_said_when_the_fallback_fails_too(
    no_apop_secret: Dovecot, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    run = run_plugin(*login_args(no_apop_secret, wrong, "--allow-plaintext-login"))
    assert run.code == 2, run.stdout
    assert re.fullmatch(
        r"POP3 CRITICAL - login as alice failed \(APOP: -ERR [^;]+; then SASL PLAIN: -ERR [^)]+\)",
        run.first.split("; greeting in ")[0],
    ), run.first


def _capa_login_delay(delay: int, refusal: bytes = b"") -> Script:
    """Cyrus' answers with `popminpoll`: CAPA LOGIN-DELAY, and [LOGIN-DELAY] on a
    login too soon; or [IN-USE]. Scripted: Dovecot's pop3_lock_session waits for
    the lock past any check's timeout instead of answering [IN-USE] at once."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(b"+OK cyrus.example Cyrus POP3 server ready\r\n")
        while True:
            line = server.read_line(conn)
            if line is None:
                return
            word = line.split(b" ", 1)[0].strip().upper()
            if word == b"CAPA":
                conn.sendall(b"+OK\r\nUSER\r\nUIDL\r\nLOGIN-DELAY %d\r\n.\r\n" % delay)
            elif word == b"USER":
                conn.sendall(b"+OK name is a valid mailbox\r\n")
            elif word == b"PASS":
                conn.sendall(refusal or b"+OK Mailbox locked and ready\r\n")
            elif word == b"STAT":
                conn.sendall(b"+OK 0 0\r\n")
            elif word == b"QUIT":
                conn.sendall(b"+OK\r\n")
                return

    return script


DELAYED = b"-ERR [LOGIN-DELAY] Minimum time between mail checks violated\r\n"
IN_USE = b"-ERR [IN-USE] Mailbox is locked by another session\r\n"


@pytest.mark.parametrize(
    "case",
    [
        (None, DELAYED, 1, "login as alice failed (USER), refused for now: -ERR [LOGIN-DELAY] "),
        (None, IN_USE, 1, "login as alice failed (USER), refused for now: -ERR [IN-USE] "),
        ("120", b"", 0, "greeting in "),
        (
            "60",
            b"",
            1,
            "CAPA LOGIN-DELAY 90s is longer than --check-interval 60s: logins in between "
            "are refused",
        ),
    ],
)
def test_login_delay(
    fake_pop3: Callable[[Script], FakePOP3],
    authfile: Path,
    case: tuple[Optional[str], bytes, int, str],
) -> None:
    interval, refusal, code, first = case
    server = fake_pop3(_capa_login_delay(90, refusal))
    args = ["-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", "alice"]
    args += ["--authfile", str(authfile), "--allow-plaintext-login"]
    if interval is not None:
        args += ["--check-interval", interval]
    run = run_plugin(*args)
    assert run.code == code, run.stdout
    assert run.first.startswith(f"POP3 {('OK', 'WARNING')[code]} - {first}"), run.first


def test_busy_state_changes_the_state_and_says_so(
    fake_pop3: Callable[[Script], FakePOP3], authfile: Path
) -> None:
    server = fake_pop3(_capa_login_delay(90, IN_USE))
    args = ["-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", "alice"]
    args += ["--authfile", str(authfile), "--allow-plaintext-login", "--busy-state", "critical"]
    run = run_plugin(*args)
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - login as alice failed (USER), refused for now: -ERR [IN-USE] Mailbox "
        "is locked by another session, reported CRITICAL as asked by --busy-state"
    ), run.first


def _no_capa(refuse_top: bool = False) -> Script:
    """popa3d's and solid-pop3d's ways: CAPA is an unknown command, UIDL and TOP work."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(b"+OK\r\n")
        while True:
            line = server.read_line(conn)
            if line is None:
                return
            command = line.strip().upper()
            if command == b"CAPA":
                conn.sendall(b"-ERR Unknown or unsupported command\r\n")
            elif command.startswith((b"USER", b"PASS")):
                conn.sendall(b"+OK\r\n")
            elif command == b"STAT":
                conn.sendall(b"+OK 1 120\r\n")
            elif command == b"UIDL 1":
                conn.sendall(b"+OK 1 4a5b6c\r\n")
            elif command == b"TOP 1 0" and not refuse_top:
                conn.sendall(b"+OK\r\nSubject: hello\r\n..dot-stuffed\r\n\r\n.\r\n")
            elif command == b"QUIT":
                conn.sendall(b"+OK\r\n")
                return
            else:
                conn.sendall(b"-ERR Unknown or unsupported command\r\n")

    return script


def test_require_capa_on_a_server_without_capa_says_so_and_the_probe_decides(
    fake_pop3: Callable[[Script], FakePOP3], authfile: Path
) -> None:
    server = fake_pop3(_no_capa())
    where = ["-H", "127.0.0.1", "-p", str(server.port)]
    run = run_plugin(*where, "--require-capa", "UIDL")
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - server has no CAPA (it answered '-ERR Unknown or unsupported "
        "command'): cannot tell whether it offers UIDL; --login --probe UIDL tries the command "
        "itself; greeting in "
    ), run.first
    login = [*where, "--login", "-u", "alice", "--authfile", str(authfile)]
    login += ["--allow-plaintext-login", "--auth", "user"]
    run = run_plugin(*login, "--require-capa", "UIDL", "--probe", "uidl", "--probe", "TOP", "-vvv")
    assert run.code == 0, run.stdout
    assert run.first.endswith("; alice (USER): 1 message, 120 B"), run.first
    assert "C: UIDL 1" in run.lines and "C: TOP 1 0" in run.lines
    refusing = fake_pop3(_no_capa(refuse_top=True))
    login[login.index(str(server.port))] = str(refusing.port)
    run = run_plugin(*login, "--probe", "TOP")
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - --probe refused (TOP: -ERR Unknown or unsupported command); "
    ), run.first


def test_probe_against_dovecot(dovecot: Dovecot, authfile: Path) -> None:
    args = login_args(dovecot, authfile, "--auth", "user", "--allow-plaintext-login")
    run = run_plugin(*args, "--probe", "UIDL", "--probe", "TOP")
    # An empty mailbox: UIDL lists nothing, TOP has nothing to show.
    assert run.code == 3, run.stdout
    assert run.first.startswith("POP3 UNKNOWN - --probe TOP needs a message: the mailbox is empty")
    dovecot.add_message("alice", b"Subject: first\r\n\r\nbody\r\n")
    run = run_plugin(*args, "--probe", "UIDL", "--probe", "TOP", "-vvv")
    assert run.code == 0, run.stdout
    assert "C: UIDL 1" in run.lines and "C: TOP 1 0" in run.lines
    run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot.port), "--probe", "UIDL")
    assert (run.code, run.lines[0]) == (3, "POP3 UNKNOWN - --probe needs --login")
