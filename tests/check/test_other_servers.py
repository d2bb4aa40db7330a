"""The check against Debian 12's other POP3 servers, run from their packages.

popa3d and solid-pop3d greet and answer QUIT as RFC 1939 servers, and answer
CAPA -ERR (they predate RFC 2449): --require-capa must say the server has no
CAPA rather than that UIDL is missing. solid-pop3d's greeting carries an APOP
timestamp, which it sends to every user. Logins there go through PAM and the
system's users, which a test must not touch: the login paths they need
(APOP fallback, --probe) are tested against Dovecot in test_servers_ways.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.other_pop3 import InetdServer
from tests.support.output import run_plugin

GREETINGS = {"popa3d": r"\+OK", "solid-pop3d": r"\+OK Solid POP3 server ready <[^>]+@[^>]+>"}


@pytest.fixture(params=sorted(GREETINGS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InetdServer]:
    with InetdServer(request.param, tmp_path) as running:
        yield running


def test_greeting_and_quit(server: InetdServer) -> None:
    run = run_plugin("-H", server.host, "-p", str(server.port), "-vvv")
    assert run.code == 0, run.stdout
    assert re.fullmatch(
        rf"POP3 OK - greeting in \d+\.\d{{3}}s from 127\.0\.0\.1:{server.port}: "
        + GREETINGS[server.name],
        run.first,
    ), run.first
    assert "C: QUIT" in run.lines


def test_require_capa_says_the_server_has_no_capa(server: InetdServer) -> None:
    run = run_plugin("-H", server.host, "-p", str(server.port), "--require-capa", "UIDL")
    assert run.code == 2, run.stdout
    assert re.match(
        r"POP3 CRITICAL - server has no CAPA \(it answered '-ERR[^']*'\): cannot tell whether "
        r"it offers UIDL; --login --probe UIDL tries the command itself; greeting in ",
        run.first,
    ), run.first
