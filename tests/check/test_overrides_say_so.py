"""A state that an option changed says so in the status line (-r, -M, --timeout-state, ...).

check_pop prints a bare "connect to address ... refused" with exit 0 for
`-r ok`; an OK here still says what happened and which option made it OK.
"""

from __future__ import annotations

import pytest

from tests.support.integration import free_port
from tests.support.output import run_plugin


@pytest.mark.parametrize(
    ("state", "code", "suffix"),
    [
        ("ok", 0, ", reported OK as asked by -r"),
        ("warn", 1, ", reported WARNING as asked by -r"),
        ("unknown", 3, ", reported UNKNOWN as asked by -r"),
        ("crit", 2, ""),  # the default: nothing was overridden
    ],
)
def test_refused_connection(state: str, code: int, suffix: str) -> None:
    port = free_port()
    run = run_plugin("-H", "127.0.0.1", "-p", str(port), "-r", state)
    assert run.code == code, run.stdout
    name = ("OK", "WARNING", "CRITICAL", "UNKNOWN")[code]
    assert run.first == f"POP3 {name} - connection refused by 127.0.0.1:{port}{suffix}"
    assert "time" in run.perfdata


def test_refused_connection_on_every_address() -> None:
    port = free_port()
    run = run_plugin("-H", "127.0.0.1", "-p", str(port), "-r", "ok", "--all-addresses")
    assert run.code == 0, run.stdout
    assert run.first == (
        "POP3 OK - 1 address: 1 OK (127.0.0.1: connection refused, reported OK as asked by -r)"
    )
