"""--login against the fake server, for what Dovecot does not show: RFC 1939's APOP
example, the response codes a busy or locked maildrop gives, an RFC 1939 server
without CAPA, and replies that are not what they should be."""

from __future__ import annotations

import base64
import socket
from typing import Callable, Optional

import pytest

from tests.support.fakepop3 import FakePOP3, Script
from tests.support.output import run_plugin

# RFC 1939 section 7's example: this timestamp and secret give this digest.
RFC_GREETING = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
RFC_APOP = b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
RFC_SECRET = "tanstaaf"  # noqa: S105 (the RFC's example)
QUIT = {b"QUIT": b"+OK dewey POP3 server signing off\r\n"}


def dialogue(greeting: bytes, replies: dict[bytes, bytes]) -> Script:
    """Greet, then answer each command with the reply of the first matching
    prefix ("-ERR unknown command" otherwise) until QUIT or EOF."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(greeting)
        while True:
            line = server.read_line(conn)
            if line is None:
                return
            reply = next(
                (answer for prefix, answer in replies.items() if line.startswith(prefix)),
                b"-ERR unknown command\r\n",
            )
            conn.sendall(reply)
            if line.startswith(b"QUIT"):
                return

    return script


def login(server: FakePOP3, user: str, *args: str) -> list[str]:
    """The plugin's arguments; the password goes in the environment (`env`)."""
    return ["-H", "127.0.0.1", "-p", str(server.port), "--login", "-u", user, *args]


def env(password: str) -> dict[str, Optional[str]]:
    return {"CHECK_POP3_IPMON_PASSWORD": password}


def test_apop_digest_is_rfc_1939s_example(fake_pop3: Callable[[Script], FakePOP3]) -> None:
    server = fake_pop3(
        dialogue(
            RFC_GREETING,
            {
                RFC_APOP: b"+OK mrose's maildrop has 2 messages (320 octets)\r\n",
                b"STAT": b"+OK 2 320\r\n",
                **QUIT,
            },
        )
    )
    run = run_plugin(*login(server, "mrose", "--auth", "apop"), env=env(RFC_SECRET))
    assert run.code == 0, run.stdout
    assert run.first.endswith("<1896.697170952@dbc.mtview.ca.us>; mrose (APOP): 2 messages, 320 B")
    # Only these commands: nothing that could delete or change a message.
    assert server.received == [RFC_APOP, b"STAT\r\n", b"QUIT\r\n"]


def test_apop_without_a_timestamp_is_a_clear_error(
    fake_pop3: Callable[[Script], FakePOP3],
) -> None:
    server = fake_pop3(dialogue(b"+OK POP3 server ready\r\n", QUIT))
    run = run_plugin(*login(server, "mrose", "--auth", "apop"), env=env(RFC_SECRET))
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - APOP needs a timestamp <...@...> in the greeting; the server sent "
        "none; greeting in "
    ), run.first
    assert server.received == []  # not a word, let alone the password


@pytest.mark.parametrize(
    ("method", "replies", "refusal"),
    [
        (
            "user",
            {b"USER": b"+OK\r\n"},
            b"-ERR [IN-USE] Do you have another POP session running?",
        ),
        (
            "plain",
            {b"AUTH PLAIN": b"+ \r\n"},
            b"-ERR [LOGIN-DELAY] wait 15 minutes",
        ),
        ("apop", {}, b"-ERR [SYS/TEMP] Temporary system failure, try again later"),
    ],
)
def test_login_refusals_show_the_response_code(
    method: str,
    replies: dict[bytes, bytes],
    refusal: bytes,
    fake_pop3: Callable[[Script], FakePOP3],
) -> None:
    # The refusal answers the command that carries the password.
    token = base64.b64encode(b"\0alice\0secret")
    last = {"user": b"PASS secret", "plain": token, "apop": b"APOP alice "}[method]
    server = fake_pop3(dialogue(RFC_GREETING, {**replies, last: refusal + b"\r\n", **QUIT}))
    args = login(server, "alice", "--auth", method, "--allow-plaintext-login")
    run = run_plugin(*args, env=env("secret"))
    name = {"user": "USER", "plain": "SASL PLAIN", "apop": "APOP"}[method]
    # "Not now" ([IN-USE], [LOGIN-DELAY]) is no wrong password: --busy-state, WARNING.
    busy = b"[SYS/TEMP]" not in refusal
    assert run.code == (1 if busy else 2), run.stdout
    state, now = ("WARNING", ", refused for now") if busy else ("CRITICAL", "")
    assert run.first.startswith(
        f"POP3 {state} - login as alice failed ({name}){now}: {refusal.decode()}; greeting in "
    ), run.first
    assert b"STAT\r\n" not in server.received


def test_sasl_plain_sends_rfc_4616s_message_in_utf8(
    fake_pop3: Callable[[Script], FakePOP3],
) -> None:
    password = "pässwörd ünd spaces"  # noqa: S105 (a test password)
    token = base64.b64encode(b"\0alice\0" + password.encode("utf-8"))
    server = fake_pop3(
        dialogue(
            b"+OK ready\r\n",
            {
                b"AUTH PLAIN": b"+ \r\n",
                token + b"\r\n": b"+OK welcome\r\n",
                b"STAT": b"+OK 0 0\r\n",
                **QUIT,
            },
        )
    )
    run = run_plugin(
        *login(server, "alice", "--auth", "plain", "--allow-plaintext-login", "-vvv"),
        env=env(password),
    )
    assert run.code == 0, run.stdout
    assert run.first.endswith("+OK ready; alice (SASL PLAIN): 0 messages, 0 B")
    assert server.received == [b"AUTH PLAIN\r\n", token + b"\r\n", b"STAT\r\n", b"QUIT\r\n"]
    assert token.decode() not in run.stdout and password not in run.stdout


def test_stat_reply_that_is_not_one(fake_pop3: Callable[[Script], FakePOP3]) -> None:
    server = fake_pop3(
        dialogue(RFC_GREETING, {RFC_APOP: b"+OK\r\n", b"STAT": b"+OK lots of mail\r\n", **QUIT})
    )
    run = run_plugin(*login(server, "mrose", "--auth", "apop"), env=env(RFC_SECRET))
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - STAT failed: +OK lots of mail; greeting in ")
    assert "messages" not in run.perfdata and "login_time" in run.perfdata


def test_server_without_capa(fake_pop3: Callable[[Script], FakePOP3]) -> None:
    """An RFC 1939 server: CAPA is an unknown command."""
    server = fake_pop3(
        dialogue(
            b"+OK old server\r\n",
            {
                b"USER alice": b"+OK\r\n",
                b"PASS secret": b"+OK\r\n",
                b"STAT": b"+OK 1 10\r\n",
                **QUIT,
            },
        )
    )
    base = ["-H", "127.0.0.1", "-p", str(server.port)]
    run = run_plugin(*base, "--require-capa", "UIDL", "--forbid-plaintext-auth", "-vv")
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - server has no CAPA (it answered '-ERR unknown command'): cannot tell "
        "whether it offers UIDL; --login --probe UIDL tries the command itself; "
        "CAPA refused before TLS: cannot tell whether plaintext authentication is offered; "
    ), run.first
    assert "capa refused: -ERR unknown command" in run.lines
    # Without CAPA, the default login is USER/PASS, which such a server speaks.
    run = run_plugin(*login(server, "alice", "--allow-plaintext-login"), env=env("secret"))
    assert run.code == 0, run.stdout
    assert run.first.endswith("+OK old server; alice (USER): 1 message, 10 B"), run.first


def test_silence_after_the_password_ends_within_the_deadline(
    fake_pop3: Callable[[Script], FakePOP3],
) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(RFC_GREETING)
        if server.read_line(conn) is not None:
            server.read_line(conn, timeout=30)  # APOP: then nothing at all

    server = fake_pop3(script)
    args = login(server, "mrose", "--auth", "apop", "-t", "1.5")
    run = run_plugin(*args, env=env(RFC_SECRET), timeout=10)
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - no login reply within 1.5s; greeting in ")
    assert run.perfdata["time"].value <= 1.5 + 0.5  # its own clock: the deadline held
