"""Server misbehaviour no real server shows, against the installed plugin.

Each case asserts the exact state and first line, perfdata that parses, and
that the plugin came back by itself (its own `time` within the deadline; the
wall-clock guard is generous on purpose: machines here are noisy).
"""

from __future__ import annotations

import socket
import time
from typing import Callable

import pytest

from tests.support.fakepop3 import FakePOP3, Script, greeting_then_quit, reset
from tests.support.output import Run, run_plugin

Start = Callable[[Script], FakePOP3]


def check(server: FakePOP3, *args: str, timeout: float = 2.0) -> Run:
    run = run_plugin("-H", "127.0.0.1", "-p", str(server.port), "-t", str(timeout), *args)
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stderr == ""
    assert run.perfdata["time"].value <= timeout + 0.5
    assert run.elapsed < timeout + 5, "the plugin did not stop at its deadline"
    return run


def silent(server: FakePOP3, conn: socket.socket) -> None:
    time.sleep(10)


def drip(server: FakePOP3, conn: socket.socket) -> None:
    for byte in b"+OK drip-fed greeting that never ends":
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def huge_line(server: FakePOP3, conn: socket.socket) -> None:
    conn.sendall(b"+OK " + b"A" * (1 << 20))
    time.sleep(5)


def reset_at_once(server: FakePOP3, conn: socket.socket) -> None:
    reset(conn)


def close_at_once(server: FakePOP3, conn: socket.socket) -> None:
    conn.close()


def test_never_greets_is_critical_naming_the_phase(fake_pop3: Start) -> None:
    run = check(fake_pop3(silent), timeout=1.0)
    assert run.code == 2
    assert run.first == "POP3 CRITICAL - no greeting within 1s"
    assert {"time", "connect_time"} <= set(run.perfdata)
    assert run.perfdata["time"].max == "1"


def test_timeout_state_is_configurable(fake_pop3: Start) -> None:
    run = check(fake_pop3(silent), "--timeout-state", "unknown", timeout=0.5)
    assert run.code == 3
    assert (
        run.first
        == "POP3 UNKNOWN - no greeting within 0.5s, reported UNKNOWN as asked by --timeout-state"
    )


def test_drip_feed_cannot_hold_the_plugin(fake_pop3: Start) -> None:
    run = check(fake_pop3(drip), timeout=1.5)
    assert run.code == 2
    assert run.first == "POP3 CRITICAL - no greeting within 1.5s"


def test_one_mebibyte_line_is_too_long(fake_pop3: Start) -> None:
    run = check(fake_pop3(huge_line))
    assert run.code == 2
    assert run.first == "POP3 CRITICAL - greeting too long (no end of line within 4096 bytes)"
    run = check(fake_pop3(huge_line), "-m", "512")
    assert run.first == "POP3 CRITICAL - greeting too long (no end of line within 512 bytes)"


def test_reset_before_greeting(fake_pop3: Start) -> None:
    run = check(fake_pop3(reset_at_once))
    assert run.code == 2
    assert run.first == "POP3 CRITICAL - connection reset by the server before the greeting"


def test_close_before_greeting(fake_pop3: Start) -> None:
    run = check(fake_pop3(close_at_once))
    assert run.code == 2
    assert run.first == "POP3 CRITICAL - connection closed by the server before the greeting"


@pytest.mark.parametrize(
    ("greeting", "first"),
    [
        (
            b"-ERR [SYS/TEMP] Server busy\r\n",
            "POP3 CRITICAL - server refuses service: -ERR [SYS/TEMP] Server busy",
        ),
        (
            b"-ERR [IN-USE] mailbox locked\r\n",
            "POP3 CRITICAL - server refuses service: -ERR [IN-USE] mailbox locked",
        ),
        (
            b"220 mail.example.test ESMTP Postfix\r\n",
            "POP3 CRITICAL - not a POP3 greeting (an SMTP or FTP server answers): "
            "'220 mail.example.test ESMTP Postfix'",
        ),
        (b"+ok lower case\r\n", "POP3 CRITICAL - not a POP3 greeting: '+ok lower case'"),
        (b"+OKLAHOMA\r\n", "POP3 CRITICAL - not a POP3 greeting: '+OKLAHOMA'"),
        (
            b"\x00\x1b[31mgarbage|more\x07\r\n",
            "POP3 CRITICAL - not a POP3 greeting: '[31mgarbage more'",
        ),
    ],
)
def test_bad_greetings(fake_pop3: Start, greeting: bytes, first: str) -> None:
    run = check(fake_pop3(greeting_then_quit(greeting)))
    assert run.code == 2
    assert run.first == first
    assert "greeting_time" in run.perfdata


def test_ok_greeting_is_sanitised_and_cut(fake_pop3: Start) -> None:
    greeting = b"+OK " + b"x|\x1b" * 60 + b"\r\n"
    run = check(fake_pop3(greeting_then_quit(greeting)))
    assert run.code == 0
    banner = run.first.split(": ", 1)[1]
    assert len(banner) == 80 and banner.endswith("...")
    assert "|" not in banner and "\x1b" not in banner
    assert "warning: removed illegal characters" not in run.stdout


def test_bare_ok_and_lf_only_are_pop3(fake_pop3: Start) -> None:
    run = check(fake_pop3(greeting_then_quit(b"+OK\n", b"+OK\n")))
    assert run.code == 0
    assert run.first.endswith(": +OK")


def test_quit_reply_missing_is_warning(fake_pop3: Start) -> None:
    run = check(fake_pop3(greeting_then_quit(b"+OK hi\r\n", None)), timeout=1.0)
    assert run.code == 1
    assert run.first.startswith("POP3 WARNING - no reply to QUIT within 1s; greeting in ")
    assert "quit_time" not in run.perfdata


def test_quit_answered_err_is_warning(fake_pop3: Start) -> None:
    run = check(fake_pop3(greeting_then_quit(b"+OK hi\r\n", b"-ERR no\r\n")))
    assert run.code == 1
    assert run.first.startswith("POP3 WARNING - QUIT answered '-ERR no'; greeting in ")


def test_close_instead_of_quit_reply_is_warning(fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(b"+OK hi\r\n")
        server.read_line(conn)

    run = check(fake_pop3(script))
    assert run.code == 1
    assert run.first.startswith(
        "POP3 WARNING - no reply to QUIT: connection closed by the server; greeting in "
    )


def test_plugin_says_quit(fake_pop3: Start) -> None:
    server = fake_pop3(greeting_then_quit(b"+OK hi\r\n"))
    assert check(server).code == 0
    assert server.received == [b"QUIT\r\n"]


def test_slow_greeting_against_thresholds(fake_pop3: Start) -> None:
    server = fake_pop3(greeting_then_quit(b"+OK slow\r\n", delay=0.3))
    run = check(server, "-w", "0.2", "-c", "5")
    assert run.code == 1
    assert run.first.startswith("POP3 WARNING - response time 0.3")
    assert run.perfdata["time"].value >= 0.3
    assert run.perfdata["greeting_time"].value >= 0.3


def test_connect_timeout_on_unroutable_port(fake_pop3: Start) -> None:
    """A listener that never accepts still completes the TCP handshake (backlog),
    so the phase that times out is the greeting, not the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        run = run_plugin("-H", "127.0.0.1", "-p", str(port), "-t", "0.5")
        assert run.code == 2
        assert run.first == "POP3 CRITICAL - no greeting within 0.5s"
    finally:
        listener.close()


@pytest.mark.parametrize(("length", "code"), [(512, 0), (513, 2)])
def test_maxbytes_counts_the_line_with_its_crlf(fake_pop3: Start, length: int, code: int) -> None:
    greeting = b"+OK " + b"x" * (length - 6) + b"\r\n"
    assert len(greeting) == length
    run = check(fake_pop3(greeting_then_quit(greeting)), "-m", "512")
    assert run.code == code, run.stdout
