"""Hostile servers: every way a server can misbehave gives the right state, one
clean line, perfdata that parses and no traceback, within the timeout.

Complements test_fake_server.py (silence, drip-fed greeting, long lines,
resets, garbage, -ERR, 220, no QUIT reply) with what takes more staging:
segmentation, TLS stalls and cuts, STLS cut short, floods, blackholed
addresses. Times are read from the plugin's own `time` perfdata; the wall
clock is only a generous guard against a hang (no timed assertions).
"""

from __future__ import annotations

import re
import select
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import trustme

from check_pop3_ipmon.check import connection, session
from tests.conftest import HOSTNAME
from tests.support import faketls
from tests.support.blackhole import Blackhole
from tests.support.fakepop3 import FakePOP3, Script, reset
from tests.support.hosts import hosts_env
from tests.support.output import Run, run_plugin, run_plugin_rusage

Start = Callable[[Script], FakePOP3]

STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
STATUS = re.compile(r"POP3 (OK|WARNING|CRITICAL|UNKNOWN) - \S")
# C0, DEL, C1 and the Unicode line separators: none may reach a status line.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
GREETING = b"+OK fake ready\r\n"
GUARD = 15.0  # seconds of wall clock past the timeout before we call it a hang


def clean(run: Run, timeout: float) -> None:
    """What every hostile case must show, whatever its state."""
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert run.stderr == ""
    assert run.lines, "no output"
    first = run.lines[0]
    match = STATUS.match(first)
    assert match, first
    assert STATES.index(match[1]) == run.code, (run.code, first)
    assert not CONTROL.search(first), repr(first)
    status, _, perf = first.partition(" | ")
    assert "|" not in status and "|" not in perf, repr(first)
    assert run.perfdata["time"].value <= timeout + 0.5, run.stdout


def greeted(first: str, port: int, banner: str = "+OK fake ready") -> bool:
    return bool(
        re.search(
            rf"; greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{port}"
            rf"(?: \(TLSv1\.[23]\))?: {re.escape(banner)}$",
            first,
        )
    )


def plugin(server: FakePOP3, *args: str, timeout: float = 1.0) -> Run:
    run = run_plugin(
        "-H",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-t",
        f"{timeout:g}",
        *args,
        timeout=timeout + GUARD,
    )
    clean(run, timeout)
    return run


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    return faketls.server_context(ca, HOSTNAME, "127.0.0.1")


@pytest.fixture
def tls_args(ca_file: Path) -> list[str]:
    return ["--sni", HOSTNAME, "--ca-file", str(ca_file)]


def answer_quit(server: FakePOP3, conn: socket.socket) -> None:
    if server.read_line(conn) is not None:
        conn.sendall(b"+OK bye\r\n")


def capa_stls(server: FakePOP3, conn: socket.socket) -> None:
    """Greet, answer CAPA with STLS, read the STLS command (not answered)."""
    conn.sendall(GREETING)
    assert server.read_line(conn) == b"CAPA\r\n"
    conn.sendall(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")
    assert server.read_line(conn) == b"STLS\r\n"


# -- segmentation ------------------------------------------------------------


def test_greeting_in_one_byte_segments(fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        send = faketls.dribble(conn, 0.002)
        send(b"+OK split into segments")
        time.sleep(0.05)  # a CR alone must not end the line
        send(b"\r")
        time.sleep(0.05)
        send(b"\n")
        answer_quit(server, conn)

    server = fake_pop3(script)
    run = plugin(server, timeout=5)
    assert run.code == 0, run.stdout
    assert re.fullmatch(
        rf"POP3 OK - greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{server.port}: "
        r"\+OK split into segments",
        run.first,
    ), run.first
    assert server.received == [b"QUIT\r\n"]


def test_stls_exchange_and_handshake_in_small_segments(
    fake_pop3: Start, server_tls: ssl.SSLContext, tls_args: list[str]
) -> None:
    """CAPA's end marker and the server's TLS flight cut into pieces still make a check."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        send = faketls.dribble(conn, 0.001)
        send(GREETING)
        assert server.read_line(conn) == b"CAPA\r\n"
        send(b"+OK Capability list follows\r\nUSER\r\nSTLS\r\n..not the end\r\n.")
        time.sleep(0.05)
        send(b"\r\n")
        assert server.read_line(conn) == b"STLS\r\n"
        send(b"+OK Begin TLS negotiation\r\n")
        tls = faketls.ServerTLS(conn, server_tls)
        tls.handshake(faketls.dribble(conn, 0, piece=7))
        if tls.read_line() == b"QUIT\r\n":
            tls.write(b"+OK bye\r\n", send)

    server = fake_pop3(script)
    run = plugin(server, "--tls", "starttls", *tls_args, "-vv", timeout=10)
    assert run.code == 0, run.stdout
    assert re.fullmatch(
        rf"POP3 OK - greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{server.port} "
        r"\(TLSv1\.3\): \+OK fake ready",
        run.first,
    ), run.first
    assert "capa: USER, STLS, .not the end" in run.lines
    assert {"stls_time", "tls_time", "cert_days", "quit_time"} <= set(run.perfdata)


# -- dribbling: each piece comes before any per-read timeout would fire -------


def test_dribbled_capa_reply_is_bounded_by_the_deadline(fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        server.read_line(conn)
        faketls.dribble(conn, 0.3)(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")

    server = fake_pop3(script)
    run = plugin(server, "--tls", "starttls", "--insecure")
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - no CAPA reply within 1s; greeting in ")
    assert greeted(run.first, server.port)


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_dribbled_tls_handshake_is_bounded_by_the_deadline(
    mode: str, fake_pop3: Start, server_tls: ssl.SSLContext, tls_args: list[str]
) -> None:
    """The server's flight in 100-byte pieces 0.3 s apart: no single read waits long."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        if mode == "starttls":
            capa_stls(server, conn)
            conn.sendall(b"+OK go ahead\r\n")
        faketls.ServerTLS(conn, server_tls).handshake(faketls.dribble(conn, 0.3, piece=100))

    server = fake_pop3(script)
    run = plugin(server, "--tls", mode, *tls_args)
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - no TLS handshake within 1s")
    assert (
        "greeting_time" not in run.perfdata if mode == "implicit" else "stls_time" in run.perfdata
    )


def test_dribbled_quit_reply_warns_within_the_deadline(fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        server.read_line(conn)
        faketls.dribble(conn, 0.3)(b"+OK bye\r\n")

    server = fake_pop3(script)
    run = plugin(server)
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - no reply to QUIT within 1s; greeting in ")
    assert greeted(run.first, server.port)
    assert "quit_time" not in run.perfdata


# -- TLS handshakes that stall or are cut ---------------------------------


def _silent_after_hello(conn: socket.socket, context: ssl.SSLContext) -> None:
    faketls.read_record(conn)
    time.sleep(30)


def _half_a_flight(conn: socket.socket, context: ssl.SSLContext) -> None:
    tls = faketls.ServerTLS(conn, context)
    tls.feed(faketls.read_record(conn))
    flight = tls.first_flight()
    conn.sendall(flight[: len(flight) // 2])
    time.sleep(30)


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
@pytest.mark.parametrize("stall", [_silent_after_hello, _half_a_flight], ids=["hello", "half"])
def test_tls_handshake_stalls_halfway(
    mode: str,
    stall: Callable[[socket.socket, ssl.SSLContext], None],
    fake_pop3: Start,
    server_tls: ssl.SSLContext,
    tls_args: list[str],
) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        if mode == "starttls":
            capa_stls(server, conn)
            conn.sendall(b"+OK go ahead\r\n")
        stall(conn, server_tls)

    server = fake_pop3(script)
    run = plugin(server, "--tls", mode, *tls_args)
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - no TLS handshake within 1s"), run.first
    assert {"connect_time", "time"} <= set(run.perfdata)
    assert "tls_time" not in run.perfdata
    if mode == "starttls":
        assert greeted(run.first, server.port)


def _close(conn: socket.socket, context: ssl.SSLContext) -> None:
    conn.close()


def _close_after_hello(conn: socket.socket, context: ssl.SSLContext) -> None:
    faketls.read_record(conn)
    conn.close()


def _reset_after_hello(conn: socket.socket, context: ssl.SSLContext) -> None:
    faketls.read_record(conn)
    reset(conn)


def _close_mid_flight(conn: socket.socket, context: ssl.SSLContext) -> None:
    tls = faketls.ServerTLS(conn, context)
    tls.feed(faketls.read_record(conn))
    flight = tls.first_flight()
    conn.sendall(flight[: len(flight) // 2])
    time.sleep(0.1)
    conn.close()


CUTS = {
    "close": (_close, "connection closed by the server during the TLS handshake"),
    "hello-close": (_close_after_hello, "connection closed by the server during the TLS handshake"),
    "hello-reset": (_reset_after_hello, "connection reset by the server during the TLS handshake"),
    "mid-flight": (_close_mid_flight, "connection closed by the server during the TLS handshake"),
}


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
@pytest.mark.parametrize("cut", CUTS)
def test_server_cuts_the_tls_handshake(
    mode: str, cut: str, fake_pop3: Start, server_tls: ssl.SSLContext, tls_args: list[str]
) -> None:
    action, message = CUTS[cut]

    def script(server: FakePOP3, conn: socket.socket) -> None:
        if mode == "starttls":
            capa_stls(server, conn)
            conn.sendall(b"+OK go ahead\r\n")
        action(conn, server_tls)

    server = fake_pop3(script)
    run = plugin(server, "--tls", mode, *tls_args, timeout=5)
    assert run.code == 2, run.stdout
    if mode == "implicit":
        assert run.first == f"POP3 CRITICAL - {message}", run.first
    else:
        assert run.first.startswith(f"POP3 CRITICAL - {message}; greeting in "), run.first
        assert greeted(run.first, server.port)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda conn: conn.close(), "connection closed by the server before STLS completed"),
        (reset, "connection reset by the server before STLS completed"),
    ],
    ids=["close", "reset"],
)
def test_server_closes_instead_of_answering_stls(
    cut: Callable[[socket.socket], None], message: str, fake_pop3: Start
) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        capa_stls(server, conn)
        cut(conn)

    server = fake_pop3(script)
    run = plugin(server, "--tls", "starttls", "--insecure", timeout=5)
    assert run.code == 2, run.stdout
    assert run.first.startswith(f"POP3 CRITICAL - {message}; greeting in "), run.first
    assert "tls_time" not in run.perfdata


# -- +OK, then a reset before the QUIT exchange completes -----------------


@pytest.mark.parametrize("when", ["at-once", "after-quit"])
def test_ok_then_reset_before_quit_warns(when: str, fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        if when == "after-quit":
            server.read_line(conn)
        reset(conn)

    server = fake_pop3(script)
    run = plugin(server, timeout=5)
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - no reply to QUIT: connection reset by the server;")
    assert greeted(run.first, server.port)
    assert "greeting_time" in run.perfdata and "quit_time" not in run.perfdata


def test_tls_ok_then_reset_before_quit_warns(
    fake_pop3: Start, server_tls: ssl.SSLContext, tls_args: list[str]
) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        tls = faketls.ServerTLS(conn, server_tls)
        tls.handshake(conn.sendall)
        tls.write(GREETING, conn.sendall)
        tls.read_line()
        reset(conn)

    server = fake_pop3(script)
    run = plugin(server, "-S", *tls_args, timeout=5)
    assert run.code == 1, run.stdout
    # OpenSSL reports a reset under TLS as a reset or as an unexpected EOF.
    assert re.match(
        r"POP3 WARNING - no reply to QUIT: connection (reset|closed) by the server;", run.first
    ), run.first
    assert greeted(run.first, server.port)


_POLL = select.poll


class _SlowPoll:
    """select.poll() that lets 50 ms pass first, as a busy machine might."""

    def __init__(self) -> None:
        self._poll = _POLL()

    def register(self, fd: Any, events: int) -> None:
        self._poll.register(fd, events)

    def unregister(self, fd: Any) -> None:
        self._poll.unregister(fd)

    def poll(self, timeout: int) -> list[tuple[int, int]]:
        time.sleep(0.05)
        return self._poll.poll(timeout)


RESET_AFTER_ACCEPT = {
    "nothing-sent": (b"", "connection reset by the server before the greeting", None),
    "greeting-sent": (GREETING, None, "no reply to QUIT: connection reset by the server"),
    "tls": (b"", "connection reset by the server during the TLS handshake", None),
}


@pytest.mark.parametrize("case", RESET_AFTER_ACCEPT)
def test_reset_right_after_accept_is_not_a_failed_connect(
    case: str, fake_pop3: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the reset lands before the client looks at its connect, SO_ERROR says
    ECONNRESET: the server did accept, and what it sent first is still there to
    read. Neither 'cannot connect' (one check in twenty said so on loopback) nor
    a greeting thrown away."""
    sent, failure, quit_problem = RESET_AFTER_ACCEPT[case]
    tls = session.TLS_IMPLICIT if case == "tls" else session.TLS_NONE
    monkeypatch.setattr(connection.select, "poll", _SlowPoll)

    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(sent)
        reset(conn)

    server = fake_pop3(script)
    result = session.probe(session.Settings("127.0.0.1", server.port, 5.0, tls=tls, insecure=True))
    assert result.failure == (session.Failure(session.CLOSED, failure) if failure else None)
    assert result.quit_problem == quit_problem
    assert (result.greeting is not None) == bool(sent)
    assert "connect" in result.timings
    assert result.address == f"127.0.0.1:{server.port}"


def test_reset_just_before_the_tls_handshake(
    fake_pop3: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset between the connect and wrap_socket(): the ssl module reads from
    the socket it finds unconnected, and that error must read as a reset."""
    original = ssl.SSLContext.wrap_socket

    def slow_wrap(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        time.sleep(0.1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", slow_wrap)

    def script(server: FakePOP3, conn: socket.socket) -> None:
        time.sleep(0.02)
        reset(conn)

    server = fake_pop3(script)
    settings = session.Settings("127.0.0.1", server.port, 5.0, tls=session.TLS_IMPLICIT)
    result = session.probe(settings)
    assert result.failure == session.Failure(
        session.CLOSED, "connection reset by the server during the TLS handshake"
    )


# -- invalid UTF-8 ---------------------------------------------------------

BAD_UTF8 = b"+OK caf\xc3\xa9 \xc3\x28 \xff\xfe \xed\xa0\x80 end\xc3"


NO_LOCALE: dict[str, str | None] = {
    name: None
    for name in ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING", "PYTHONUTF8")
}


@pytest.mark.parametrize("env", [None, NO_LOCALE], ids=["inherited", "no-locale"])
def test_greeting_with_invalid_utf8(env: dict[str, str | None] | None, fake_pop3: Start) -> None:
    """Invalid sequences become U+FFFD; the output stays valid UTF-8 even with no locale set."""
    server = fake_pop3(
        lambda server, conn: (conn.sendall(BAD_UTF8 + b"\r\n"), answer_quit(server, conn)) and None
    )
    run = run_plugin("-H", "127.0.0.1", "-p", str(server.port), "-t", "5", timeout=GUARD, env=env)
    clean(run, 5)
    assert run.code == 0, run.stdout
    assert run.first.endswith(": +OK café \ufffd( \ufffd\ufffd \ufffd\ufffd\ufffd end\ufffd"), (
        run.first
    )


def test_err_greeting_with_invalid_utf8(fake_pop3: Start) -> None:
    server = fake_pop3(lambda server, conn: conn.sendall(b"-ERR [IN-USE] \xff\xfe busy\r\n"))
    run = plugin(server, timeout=5)
    assert run.code == 2, run.stdout
    assert run.first == "POP3 CRITICAL - server refuses service: -ERR [IN-USE] \ufffd\ufffd busy"


# -- floods: the plugin reads a bounded amount and memory stays small -----

FLOOD_CHUNK = 1 << 16
FLOOD_LIMIT = 256 << 20  # stop sending after this much, should a client keep reading
MAX_RSS_KIB = 64 << 10  # the plugin needs about 20 MiB; a flood read whole would blow this


def flood(conn: socket.socket, chunk: bytes) -> None:
    sent = 0
    while sent < FLOOD_LIMIT:
        conn.sendall(chunk)
        sent += len(chunk)


@pytest.mark.parametrize(
    ("after_greeting", "args", "expected"),
    [
        (b"x" * FLOOD_CHUNK, [], "POP3 WARNING - QUIT reply too long; greeting in "),
        (
            b"-ERR flood\r\n" * (FLOOD_CHUNK // 12),
            [],
            "POP3 WARNING - QUIT answered '-ERR flood'; greeting in ",
        ),
        (
            b"A" * 500 + b"\r\n" + b"x" * FLOOD_CHUNK,
            ["-m", "1048576"],
            "POP3 WARNING - QUIT answered 'AAAA",
        ),
    ],
    ids=["no-newline", "lines", "long-line"],
)
def test_greeting_then_flood(
    after_greeting: bytes, args: list[str], expected: str, fake_pop3: Start
) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        flood(conn, after_greeting)

    server = fake_pop3(script)
    run, max_rss = run_plugin_rusage(
        "-H", "127.0.0.1", "-p", str(server.port), "-t", "5", *args, timeout=GUARD
    )
    clean(run, 5)
    assert run.code == 1, run.stdout
    assert run.first.startswith(expected), run.first
    assert len(run.first) < 300
    assert max_rss < MAX_RSS_KIB, f"peak memory {max_rss} KiB"


def test_capa_flood_is_cut_at_a_line_count(fake_pop3: Start) -> None:
    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall(GREETING)
        server.read_line(conn)
        conn.sendall(b"+OK\r\n")
        flood(conn, b"X-CAPABILITY\r\n" * (FLOOD_CHUNK // 14))

    server = fake_pop3(script)
    run, max_rss = run_plugin_rusage(
        "-H",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-t",
        "5",
        "--tls",
        "starttls",
        "--insecure",
        timeout=GUARD,
    )
    clean(run, 5)
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - CAPA reply too long (over 200 lines); greeting in "
    )
    assert max_rss < MAX_RSS_KIB, f"peak memory {max_rss} KiB"


# -- blackholed addresses: every connect() hangs --------------------------


@pytest.fixture
def blackholes() -> Iterator[Callable[..., Blackhole]]:
    made: list[Blackhole] = []

    def make(*hosts: str, port: int = 0) -> Blackhole:
        hole = Blackhole(hosts, port)
        made.append(hole)
        return hole

    yield make
    for hole in made:
        hole.close()


def test_blackholed_literal_address(blackholes: Callable[..., Blackhole]) -> None:
    hole = blackholes("127.0.0.2")
    run = run_plugin("-H", "127.0.0.2", "-p", str(hole.port), "-t", "1", timeout=GUARD)
    clean(run, 1)
    assert run.code == 2, run.stdout
    assert run.first == "POP3 CRITICAL - no connection within 1s", run.first
    assert "connect_time" not in run.perfdata
    run = run_plugin(
        "-H", "127.0.0.2", "-p", str(hole.port), "-t", "1", "--timeout-state", "warn", timeout=GUARD
    )
    clean(run, 1)
    assert run.code == 1, run.stdout


BLACKHOLED = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "::1"]


def test_name_with_many_addresses_all_blackholed(
    blackholes: Callable[..., Blackhole], tmp_path: Path
) -> None:
    hole = blackholes(*BLACKHOLED)
    env = hosts_env(tmp_path / "hosts", {"pop.blackhole.test": BLACKHOLED})
    run = run_plugin(
        "-H",
        "pop.blackhole.test",
        "-p",
        str(hole.port),
        "-t",
        "2",
        "-v",
        env=env,
        timeout=2 + GUARD,
    )
    clean(run, 2)
    assert run.code == 2, run.stdout
    assert run.first == "POP3 CRITICAL - no connection within 2s (6 addresses tried)", run.first
    assert {"resolve_time", "time"} <= set(run.perfdata)
    port = hole.port
    tried = ", ".join(f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in BLACKHOLED)
    assert sorted(
        next(line for line in run.lines if line.startswith("addresses tried: "))[
            len("addresses tried: ") :
        ].split(", ")
    ) == sorted(tried.split(", ")), run.stdout


def test_name_whose_first_addresses_are_blackholed_reaches_the_one_that_answers(
    blackholes: Callable[..., Blackhole], fake_pop3: Start, tmp_path: Path
) -> None:
    server = fake_pop3(
        lambda server, conn: (conn.sendall(GREETING), answer_quit(server, conn)) and None,
        host="127.0.0.7",
    )
    hole = blackholes(*BLACKHOLED[:3], port=server.port)
    env = hosts_env(tmp_path / "hosts", {"pop.partly.test": [*BLACKHOLED[:3], "127.0.0.7"]})
    run = run_plugin(
        "-H",
        "pop.partly.test",
        "-p",
        str(hole.port),
        "-t",
        "5",
        "-4",
        env=env,
        timeout=5 + GUARD,
    )
    clean(run, 5)
    assert run.code == 0, run.stdout
    assert f"from 127.0.0.7:{server.port}: +OK fake ready" in run.first
    assert server.received == [b"QUIT\r\n"]


# -- what reaches the status line ------------------------------------------


def test_bidi_and_zero_width_characters_are_dropped_from_the_banner(fake_pop3: Start) -> None:
    """A banner must not reorder or hide the text around it (Trojan Source)."""

    def script(server: FakePOP3, conn: socket.socket) -> None:
        conn.sendall("+OK \u202eLACITIRC\u202c ready\u200b!\ufeff\r\n".encode())
        answer_quit(server, conn)

    server = fake_pop3(script)
    run = plugin(server, timeout=5)
    assert run.code == 0, run.stdout
    assert run.first.endswith(f"127.0.0.1:{server.port}: +OK LACITIRC ready !"), run.first


def test_expect_pattern_with_a_pipe_keeps_one_clean_line(fake_pop3: Start) -> None:
    """nagiosplugin would delete the '|' of an alternation and add a warning line."""
    server = fake_pop3(lambda server, conn: (conn.sendall(GREETING), answer_quit(server, conn)))
    run = plugin(server, "--expect-regex", "Dovecot|Courier", timeout=5)
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - greeting does not match the --expect-regex text; ")
    assert greeted(run.first, server.port)
    assert len(run.lines) == 1, run.stdout
    assert plugin(server, "--expect-regex", "fake|Courier", timeout=5).code == 0
    # -e is a plain string, '|' included.
    run = plugin(server, "-e", "Dovecot|Courier", timeout=5)
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - greeting does not contain the -e text; ")
    assert len(run.lines) == 1, run.stdout


@pytest.mark.parametrize("name", ["", ".example.test", "a" * 64 + ".example.test", "a..b"])
def test_server_name_the_ssl_module_cannot_send_is_a_usage_error(name: str) -> None:
    run = run_plugin("-H", "127.0.0.1", "-p", "1", "-S", "--sni", name, timeout=GUARD)
    assert run.code == 3, run.stdout
    assert run.first == f"POP3 UNKNOWN - argument --sni: not a server name: {name!r}", run.first
    assert "Traceback" not in run.stdout + run.stderr
