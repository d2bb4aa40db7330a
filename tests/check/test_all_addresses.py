"""--all-addresses: every address of a name, at once, the worst state reported.

The name resolves through nss_wrapper (tests/support/hosts.py says why) to
loopback addresses where a real Dovecot listens on some and nothing on others.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path
from typing import Callable

import pytest

from tests.support.dovecot import USERS, Dovecot
from tests.support.fakepop3 import FakePOP3, greeting_then_quit
from tests.support.hosts import hosts_env
from tests.support.output import run_plugin

POOL = "pool.example.test"


@pytest.fixture
def pool(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """Dovecot on 127.0.0.1 and 127.0.0.2 (one port); alice has one message of 100 B."""
    server = dovecot_factory(also_listen=["127.0.0.2"], auth_mechanisms="plain login apop")
    server.add_message("alice", b"Subject: x\r\n\r\n" + b"x" * 84 + b"\r\n")
    return server


def test_every_address_is_tested_and_summed_up(pool: Dovecot, tmp_path: Path) -> None:
    env = hosts_env(tmp_path / "hosts", {POOL: ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"]})
    port = str(pool.port)
    run = run_plugin("-H", POOL, "-p", port, "--all-addresses", "-4", "-v", env=env)
    assert run.code == 2, run.stdout
    assert (
        run.first == "POP3 CRITICAL - 3 addresses: 2 OK, 1 CRITICAL (127.0.0.3: connection refused)"
    )
    perf = run.perfdata
    # Letters, digits and "_" only: Graphite and InfluxDB keep each as one name.
    assert all(re.fullmatch(r"[a-z0-9_]+", label) for label in perf), sorted(perf)
    for ip in ("ip4_127_0_0_1", "ip4_127_0_0_2"):
        assert {f"{ip}_time", f"{ip}_connect_time", f"{ip}_greeting_time"} <= set(perf)
        assert perf[f"{ip}_time"].max == "10"
    assert "ip4_127_0_0_3_time" in perf and "ip4_127_0_0_3_greeting_time" not in perf
    assert {"time", "resolve_time"} <= set(perf)
    assert perf["time"].value >= max(
        perf[f"{ip}_time"].value for ip in ("ip4_127_0_0_1", "ip4_127_0_0_2")
    )
    results = [line for line in run.lines if line.startswith("127.0.0.")]
    assert [line.split(" - ")[0] for line in results] == [
        "127.0.0.1: OK",
        "127.0.0.2: OK",
        "127.0.0.3: CRITICAL",
    ]
    assert f"from 127.0.0.1:{port}: +OK Dovecot ready. <" in results[0]
    assert results[2] == "127.0.0.3: CRITICAL - connection refused"
    assert f"  address: 127.0.0.2:{port}" in run.lines

    run = run_plugin("-H", POOL, "-p", port, "--all-addresses", "-6", env=env)
    assert run.code == 2, run.stdout
    assert run.first == "POP3 CRITICAL - 1 address: 1 CRITICAL (::1: connection refused)"
    assert set(run.perfdata) == {"time", "resolve_time", "ip6_0_0_0_0_0_0_0_1_time"}

    run = run_plugin("-H", POOL, "-p", port, "--all-addresses", env=env)
    assert run.first == (
        "POP3 CRITICAL - 4 addresses: 2 OK, 2 CRITICAL "
        "(127.0.0.3: connection refused; ::1: connection refused)"
    )
    # Without the option, the first address that answers is the test.
    run = run_plugin("-H", POOL, "-p", port, env=env)
    assert run.code == 0, run.stdout
    assert f"from 127.0.0.1:{port}:" in run.first


def test_login_and_thresholds_per_address(pool: Dovecot, tmp_path: Path) -> None:
    env = hosts_env(tmp_path / "hosts", {POOL: ["127.0.0.1", "127.0.0.2"]})
    authfile = tmp_path / "alice.pass"
    authfile.write_text(USERS["alice"])
    authfile.chmod(0o600)
    args = ["-H", POOL, "-p", str(pool.port), "--all-addresses", "--login", "-u", "alice",
            "--auth", "apop", "--authfile", str(authfile)]  # fmt: skip
    run = run_plugin(*args, env=env)
    assert run.code == 0, run.stdout
    assert run.first == "POP3 OK - 2 addresses: 2 OK"
    for ip in ("ip4_127_0_0_1", "ip4_127_0_0_2"):
        assert run.perfdata[f"{ip}_messages"].value == 1
        assert (
            run.perfdata[f"{ip}_mailbox_size"].value,
            run.perfdata[f"{ip}_mailbox_size"].uom,
        ) == (
            100,
            "B",
        )
        assert f"{ip}_login_time" in run.perfdata

    run = run_plugin(*args, "--messages-warn", "0", env=env)
    assert run.code == 1, run.stdout
    assert run.first == (
        "POP3 WARNING - 2 addresses: 2 WARNING (127.0.0.1: 1 message (outside warning range 0); "
        "127.0.0.2: 1 message (outside warning range 0))"
    )
    assert run.perfdata["ip4_127_0_0_2_messages"].warn == "0"


def test_addresses_are_tested_at_once(fake_pop3: Callable[..., FakePOP3], tmp_path: Path) -> None:
    """Each server greets only once both have a client: tested one after the
    other, the first would wait out the deadline."""
    both = threading.Barrier(2, timeout=20)
    answer = greeting_then_quit(b"+OK ready\r\n")

    def script(server: FakePOP3, conn: socket.socket) -> None:
        try:
            both.wait()
        except threading.BrokenBarrierError:
            return
        answer(server, conn)

    first: FakePOP3 = fake_pop3(script, "127.0.0.1")
    fake_pop3(script, "127.0.0.2", first.port)
    env = hosts_env(tmp_path / "hosts", {POOL: ["127.0.0.1", "127.0.0.2"]})
    run = run_plugin("-H", POOL, "-p", str(first.port), "--all-addresses", "-t", "5", env=env)
    assert run.code == 0, run.stdout
    assert run.first == "POP3 OK - 2 addresses: 2 OK"


def test_name_that_does_not_resolve(tmp_path: Path) -> None:
    env = hosts_env(tmp_path / "hosts", {POOL: ["127.0.0.1"]})
    run = run_plugin("-H", "nothere.example.test", "-p", "110", "--all-addresses", env=env)
    assert run.code == 2, run.stdout
    assert run.first.startswith("POP3 CRITICAL - cannot resolve nothere.example.test: ")
    assert "time" in run.perfdata
