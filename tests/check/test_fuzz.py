"""Property-based fuzzing: response parsing, and whole checks against arbitrary servers.

A server here sends an arbitrary byte stream, cut into arbitrary chunks with
small delays between them, then closes, resets or holds the connection. For
plaintext the outcome follows from the bytes alone, so a small model predicts
the state and the test compares; with TLS asked for, no such stream can make a
handshake, so nothing may come out better than CRITICAL. Every run must also
keep the plugin's contract: exit code = state, one clean first line, perfdata
that parses, nothing on stderr, no exception, the deadline kept.

The default run is short for CI. FUZZ_EXAMPLES=N asks for N examples per
property (e.g. FUZZ_EXAMPLES=20000 with pytest --hypothesis-show-statistics).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
import struct
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

import nagiosplugin
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from check_pop3_ipmon.check import run as check_run
from check_pop3_ipmon.check.protocol import parse_status_line, sanitise
from check_pop3_ipmon.check.session import RESPONSE_LIMIT
from tests.support.fakepop3 import FakePOP3
from tests.support.output import Run, run_plugin

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def examples(default: int, scale: float = 1.0) -> settings:
    """`default` examples, or FUZZ_EXAMPLES (times `scale`) when asked for."""
    count = max(1, int(FUZZ_EXAMPLES * scale)) if FUZZ_EXAMPLES else default
    return settings(
        max_examples=count,
        deadline=None,  # a check takes its time; the deadline is asserted below
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# What must never reach a status line: control characters (Cc), line and
# paragraph separators, bidirectional and zero-width format characters, '|'.
BIDI_AND_INVISIBLE = set("\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e")
BIDI_AND_INVISIBLE |= {chr(c) for c in range(0x2060, 0x2070)} | {"\ufeff"}


def unclean(text: str) -> list[str]:
    return [
        ch
        for ch in text
        if ch == "|" or ch in BIDI_AND_INVISIBLE or unicodedata.category(ch) in ("Cc", "Zl", "Zp")
    ]


# -- parsing -------------------------------------------------------------

STATUS_PREFIXES = [b"+OK", b"-ERR", b"+ok", b"+OKAY", b"-ERRORS", b"220", b"+", b"-", b""]
lines = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda prefix, sep, code, rest: prefix + sep + code + rest,
        st.sampled_from(STATUS_PREFIXES),
        st.sampled_from([b" ", b"", b"\t", b"  "]),
        st.sampled_from([b"", b"[SYS/TEMP] ", b"[IN-USE]", b"[", b"[]", b"[A B]x", b"[\xff]"]),
        st.binary(max_size=100),
    ),
)


@examples(500)
@given(lines)
def test_parse_status_line_never_raises_and_is_strict(raw: bytes) -> None:
    response = parse_status_line(raw)
    line = raw.decode("utf-8", "replace")
    assert response.line == line
    assert response.ok == (line == "+OK" or line.startswith("+OK "))
    assert response.err == (line == "-ERR" or line.startswith("-ERR "))
    if response.status:
        assert response.text == line[len(response.status) + 1 :]
    else:
        assert (response.status, response.text, response.code) == ("", line, None)
    if response.code is not None:
        assert response.text.startswith(f"[{response.code}]")
        assert "]" not in response.code


texts = st.one_of(
    st.text(max_size=300),
    st.builds(lambda raw: raw.decode("utf-8", "replace"), st.binary(max_size=300)),
    st.text(
        alphabet=st.sampled_from("ab |\x00\x1b\x7f\x85\u2028\u202e\u200b\ufeff\t\r\n"), max_size=120
    ),
)


@examples(500)
@given(texts, st.integers(min_value=4, max_value=200))
def test_sanitise_gives_one_short_clean_line(text: str, width: int) -> None:
    clean = sanitise(text, width)
    assert not unclean(clean), repr(clean)
    assert len(clean) <= width
    assert clean == clean.strip() and "  " not in clean
    assert sanitise(clean, width) == clean  # idempotent: nothing left to remove
    words = "".join(
        " " if ch == "|" or ch in BIDI_AND_INVISIBLE or unicodedata.category(ch) == "Cc" else ch
        for ch in text
    ).split()
    if len(" ".join(words)) <= width:
        assert clean == " ".join(words)  # nothing lost but what had to go
    else:
        assert clean.endswith("...")


# -- whole checks against an arbitrary server ------------------------------


@dataclass(frozen=True)
class Plan:
    """What the server does: send `chunks` with `delays` after each, then `ending`."""

    chunks: tuple[bytes, ...]
    delays: tuple[float, ...]
    ending: str

    @property
    def stream(self) -> bytes:
        return b"".join(self.chunks)


def serve(server: FakePOP3, conn: socket.socket) -> None:
    plan: Plan = server.plan  # type: ignore[attr-defined]
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for chunk, delay in zip(plan.chunks, plan.delays):
        conn.sendall(chunk)
        if delay:
            time.sleep(delay)
    if plan.ending == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return  # FakePOP3 closes it: with linger 0, that is a RST
    if plan.ending == "close":
        # Half-close and read on: a full close would answer the QUIT with a
        # RST, and whether the client still reads its buffer would be a race.
        conn.shutdown(socket.SHUT_WR)
    conn.settimeout(30)
    while conn.recv(4096):
        pass


@pytest.fixture(scope="module")
def stream_server() -> Iterator[FakePOP3]:
    server = FakePOP3(serve)
    yield server
    server.close()


def greeting_line(prefix: bytes, text: bytes, ending: bytes) -> bytes:
    return prefix + text + ending


line_endings = st.sampled_from([b"\r\n", b"\n", b"\r", b"", b"\r\r\n"])
# Line text: mostly without a line feed, so that the line ending drawn is the one
# that counts; printable, UTF-8 and raw bytes.
line_text = st.one_of(
    st.binary(max_size=80).map(lambda raw: raw.replace(b"\n", b"")),
    st.text(max_size=60).map(lambda text: text.replace("\n", "").encode()),
    st.binary(max_size=80),
)
structured = st.builds(
    lambda greeting, reply, tail: greeting + reply + tail,
    st.builds(
        greeting_line,
        st.sampled_from(
            [b"+OK ", b"+OK ", b"+OK", b"-ERR ", b"+ok ", b"220 ", b"", b"+OK [", b"\x00"]
        ),
        line_text,
        line_endings,
    ),
    st.builds(
        greeting_line,
        st.sampled_from([b"+OK ", b"+OK", b"-ERR ", b"", b"+OKAY"]),
        line_text,
        line_endings,
    ),
    st.binary(max_size=40),
)
streams = st.one_of(structured, structured, st.binary(max_size=600))


@st.composite
def plans(draw: st.DrawFn, max_delay: float = 0.005) -> Plan:
    stream = draw(streams)
    cuts = sorted(draw(st.sets(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    chunks = tuple(stream[a:b] for a, b in zip(bounds, bounds[1:]) if b > a)
    delay = st.sampled_from([0.0, 0.0, 0.001, max_delay])
    delays = tuple(draw(delay) for _ in chunks)
    # A held connection costs a whole (short) deadline: draw it less often.
    return Plan(chunks, delays, draw(st.sampled_from(["close", "reset", "close", "hold", "reset"])))


def read_line(data: bytes, limit: int) -> tuple[str, bytes, bytes]:
    """As Connection.read_line over a whole stream: (what, line, rest)."""
    end = data.find(b"\n", 0, limit)
    if end >= 0:
        line = data[:end]
        return "line", line[:-1] if line.endswith(b"\r") else line, data[end + 1 :]
    return ("too-long" if len(data) >= limit else "eof"), b"", b""


def model(plan: Plan, maxbytes: int) -> tuple[int, Optional[bytes]]:
    """The state a plaintext check must give for this server, and the greeting line."""
    what, greeting, rest = read_line(plan.stream, maxbytes)
    if what != "line" or not parse_status_line(greeting).ok:
        return 2, None
    what, reply, _ = read_line(rest, RESPONSE_LIMIT)
    return (0 if what == "line" and parse_status_line(reply).ok else 1), greeting


def run_in_process(argv: list[str]) -> Run:
    """check_run.main() as the console script runs it, minus the interpreter's start."""
    nagiosplugin.Runtime.instance = None  # a singleton per process (pitfall 8)
    # nagiosplugin 1.3.2 binds sys.stdout when imported; None means the current one.
    saved_stdout = nagiosplugin.Runtime.stdout
    nagiosplugin.Runtime.stdout = None
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                check_run.main(argv)
                code = -1  # main() must exit
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        nagiosplugin.Runtime.stdout = saved_stdout
    elapsed = time.monotonic() - start
    runtime = nagiosplugin.Runtime.instance
    if runtime is not None and runtime.logchan is not None:
        logging.getLogger("nagiosplugin").removeHandler(runtime.logchan)
    return Run(code, out.getvalue(), err.getvalue(), elapsed)


STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def contract(run: Run, timeout: float) -> None:
    """What every check must keep, whatever the server did."""
    note(run.stdout)
    assert run.code in (0, 1, 2, 3), run.code
    assert "Traceback" not in run.stdout and run.stderr == "", run.stderr
    assert run.stdout.endswith("\n")
    first = run.lines[0]
    assert first.startswith(f"POP3 {STATES[run.code]} - "), first
    status, _, _ = first.partition(" | ")
    assert not unclean(status), repr(status)
    assert first.count("|") <= 1
    perf = run.perfdata  # parses, or fails here
    assert 0 <= perf["time"].value <= timeout + 0.5, perf["time"]
    assert run.elapsed < timeout + 10, "no return near the deadline"


def timed_out(run: Run, timeout: float) -> bool:
    """A timeout the machine's noise can explain: the whole deadline was used."""
    return f"within {timeout:g}s" in run.first and run.perfdata["time"].value >= timeout


def check_plan(
    server: FakePOP3, plan: Plan, maxbytes: int, in_process: bool = True
) -> tuple[Run, int]:
    server.plan = plan  # type: ignore[attr-defined]
    # A held connection ends only at the deadline: keep those short.
    timeout = 0.2 + sum(plan.delays) if plan.ending == "hold" else 5.0
    argv = ["-H", "127.0.0.1", "-p", str(server.port), "-t", f"{timeout:.3f}", "-m", str(maxbytes)]
    run = run_in_process(argv) if in_process else run_plugin(*argv, timeout=timeout + 15)
    contract(run, float(f"{timeout:.3f}"))
    expected, greeting = model(plan, maxbytes)
    event(f"expected {STATES[expected]}, ending {plan.ending}")
    if run.code != expected and timed_out(run, float(f"{timeout:.3f}")):
        event("deadline passed before the data arrived (noise)")
        return run, expected
    if plan.ending == "reset" and expected == 0 and run.code == 1:
        # The RST may beat our QUIT: the send fails though the reply is buffered.
        assert "no reply to QUIT: connection reset by the server" in run.first, run.first
        return run, expected
    assert run.code == expected, (plan, run.stdout)
    if greeting is not None and run.code == 0:
        banner = sanitise(greeting.decode("utf-8", "replace"))
        assert run.first.endswith(f"127.0.0.1:{server.port}: {banner}"), run.first
    return run, expected


MAXBYTES = st.sampled_from([16, 64, 512, 4096])


@examples(80)
@given(plans(), MAXBYTES)
def test_any_server_stream_gives_the_modelled_state(
    stream_server: FakePOP3, plan: Plan, maxbytes: int
) -> None:
    check_plan(stream_server, plan, maxbytes)


@examples(4, scale=0.01)
@given(plans(), MAXBYTES)
def test_any_server_stream_through_the_console_script(
    stream_server: FakePOP3, plan: Plan, maxbytes: int
) -> None:
    check_plan(stream_server, plan, maxbytes, in_process=False)


@examples(30, scale=0.25)
@given(plans(), st.sampled_from(["starttls", "implicit"]))
def test_no_server_stream_passes_for_tls(stream_server: FakePOP3, plan: Plan, mode: str) -> None:
    """Bytes that are not a TLS handshake can never give OK or WARNING when TLS is asked for."""
    stream_server.plan = plan  # type: ignore[attr-defined]
    timeout = 0.2 + sum(plan.delays) if plan.ending == "hold" else 5.0
    run = run_in_process(
        [
            "-H",
            "127.0.0.1",
            "-p",
            str(stream_server.port),
            "-t",
            f"{timeout:.3f}",
            "--tls",
            mode,
            "--insecure",
        ]
    )
    contract(run, float(f"{timeout:.3f}"))
    assert run.code == 2, run.stdout
    # What stopped it, without the numbers and quoted text that differ each time.
    event(re.sub(r" within .*|: .*|[0-9.]+s", "", run.first.split(" - ", 1)[1].split(";")[0]))
