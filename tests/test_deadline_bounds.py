"""Every wait of the check ends within its own deadline (-t), with --timeout-state
(issue 10, item 17).

Before, a backtracking --expect-regex against a hostile greeting (hours of
matching for this pattern) ran past -t until nagiosplugin's SIGALRM backstop
ended it a second later with "UNKNOWN: Timeout: check execution aborted",
whatever --timeout-state said. Now the match runs in a child the deadline
kills.
"""

from __future__ import annotations

import re
import socket
import time

from check_pop3_ipmon import bounded_match
from tests.support.fakepop3 import FakePOP3
from tests.test_hostile import GUARD, Start, answer_quit, plugin

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
