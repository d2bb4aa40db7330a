"""Every wait of the check ends within its own deadline (-t), with --timeout-state
(issue 10, item 17).

Before, a backtracking --expect-regex against a hostile greeting (hours of
matching for this pattern) ran past -t until nagiosplugin's SIGALRM backstop
ended it a second later with "UNKNOWN: Timeout: check execution aborted",
whatever --timeout-state said. Now the match runs in a child the deadline
kills.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

from check_pop3_ipmon.check import bounded_match
from tests.check.test_hostile_servers import GUARD, Start, answer_quit, plugin
from tests.support.dovecot import Dovecot
from tests.support.fakepop3 import FakePOP3
from tests.support.output import run_plugin

# (a+)+$ backtracks 2**40 times over 40 'a's followed by something else.
HOSTILE = b"+OK " + b"a" * 40 + b"!\r\n"
BACKTRACKING = r"^\+OK (a+)+$"


def hostile(server: FakePOP3, conn: socket.socket) -> None:
    conn.sendall(HOSTILE)
    answer_quit(server, conn)


def test_a_backtracking_regex_ends_at_the_deadline_with_the_timeout_state(
    fake_pop3: Start,
) -> None:
    server = fake_pop3(hostile)
    run = plugin(server, "--expect-regex", BACKTRACKING, "--timeout-state", "warning", timeout=2)
    assert run.code == 1, run.stdout
    assert run.first.startswith(
        "POP3 WARNING - --expect-regex did not finish matching the greeting within the "
        "deadline (2s), reported WARNING as asked by --timeout-state; greeting in "
    ), run.first
    assert "Timeout: check execution aborted" not in run.stdout
    # The default --timeout-state is CRITICAL, as for any deadline.
    run = plugin(server, "--expect-regex", BACKTRACKING, timeout=2)
    assert run.code == 2, run.stdout
    assert run.first.startswith(
        "POP3 CRITICAL - --expect-regex did not finish matching the greeting within the "
        "deadline (2s); greeting in "
    ), run.first


def test_an_ordinary_regex_still_matches_and_mismatches(fake_pop3: Start) -> None:
    server = fake_pop3(hostile)
    assert plugin(server, "--expect-regex", r"^\+OK a+!$", timeout=5).code == 0
    run = plugin(server, "--expect-regex", "Dovecot", timeout=5)
    assert run.code == 1, run.stdout
    assert run.first.startswith("POP3 WARNING - greeting does not match 'Dovecot'; ")


def test_the_bounded_search_kills_its_worker() -> None:
    pattern = re.compile(BACKTRACKING)
    start = time.monotonic()
    assert bounded_match.search(pattern, HOSTILE.decode().strip(), 0.5) is None
    assert time.monotonic() - start < GUARD  # a guard against a hang, not a timing check
    assert bounded_match.search(pattern, "+OK aaa", 5) is True
    assert bounded_match.search(pattern, "+OK b", 5) is False
    assert bounded_match.search(pattern, "+OK aaa", 0) is None


# -- --ca-file: a FIFO, a pipe that never ends ---------------------------------------------------


def test_a_fifo_nobody_writes_as_ca_file_ends_at_the_deadline(
    fake_pop3: Start, tmp_path: Path
) -> None:
    """Before: OpenSSL's blocking open waited for a writer until nagiosplugin's
    'UNKNOWN: Timeout: check execution aborted'."""
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo, 0o600)
    server = fake_pop3(hostile)
    run = plugin(server, "--tls", "implicit", "--ca-file", str(fifo), timeout=2)
    assert run.code == 2, run.stdout
    assert run.first == "POP3 CRITICAL - no --ca-file data within 2s", run.first
    assert "Timeout: check execution aborted" not in run.stdout


def test_a_ca_file_pipe_that_never_ends_is_the_timeout_state(
    fake_pop3: Start, tmp_path: Path
) -> None:
    """A writer that holds the FIFO open and sends nothing: our deadline ends it."""
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo, 0o600)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer that never writes
    try:
        server = fake_pop3(hostile)
        run = plugin(
            server,
            "--tls",
            "implicit",
            "--ca-file",
            str(fifo),
            "--timeout-state",
            "warning",
            timeout=2,
        )
    finally:
        os.close(writer)
    assert run.code == 1, run.stdout
    assert run.first.startswith(
        "POP3 WARNING - no --ca-file data within 2s, reported WARNING as asked by --timeout-state"
    ), run.first


def test_a_ca_file_through_a_pipe_is_read(
    dovecot_tls: Dovecot, ca_file: Path, tmp_path: Path
) -> None:
    """`--ca-file <(...)`: a pipe with a writer is read as long as the deadline allows."""
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo, 0o600)
    writer = subprocess.Popen(
        ["/bin/sh", "-c", 'sleep 0.5; cat "$1" > "$2"', "sh", str(ca_file), str(fifo)]
    )
    try:
        run = run_plugin("-H", "127.0.0.1", "-p", str(dovecot_tls.tls_port), "--tls", "implicit",
                         "--ca-file", str(fifo), "-t", "10", timeout=30)  # fmt: skip
    finally:
        writer.wait(timeout=30)
    assert run.code == 0, run.stdout
    assert run.first.startswith("POP3 OK - greeting in "), run.first
