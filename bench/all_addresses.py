"""--all-addresses against a name with 4 addresses: the wall time is the slowest, not the sum.

The name resolves through nss_wrapper (tests/support/hosts.py) to 127.0.0.2-5.
Twice: a real Dovecot listening on all four, and fake servers that delay their
greeting by a different known amount on each address (where a sum and a
maximum cannot be confused).
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Mapping
from pathlib import Path

from common import median_ms, spawn

from tests.support.dovecot import Dovecot
from tests.support.fakepop3 import FakePOP3
from tests.support.hosts import hosts_env
from tests.support.integration import free_port

NAME = "pool.bench.test"
ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
DELAYS_S = [0.05, 0.10, 0.15, 0.20]


def _fake_servers() -> list[FakePOP3]:
    """One fake server per address, all on one port, each greeting after its delay."""
    for _ in range(20):
        port = free_port(ADDRESSES[0])
        servers: list[FakePOP3] = []
        try:
            for address, delay in zip(ADDRESSES, DELAYS_S):

                def script(server: FakePOP3, conn: socket.socket, delay: float = delay) -> None:
                    time.sleep(delay)
                    conn.sendall(b"+OK delayed greeting\r\n")
                    if server.read_line(conn) is not None:
                        conn.sendall(b"+OK bye\r\n")

                servers.append(FakePOP3(script, address, port))
            return servers
        except OSError:
            for server in servers:
                server.close()
    raise RuntimeError("no port free on all four addresses")


def _compare(
    plugin: str, port: int, env: Mapping[str, str], reps: int
) -> tuple[float, list[float]]:
    """(median wall of --all-addresses, median wall of each address alone), ms."""
    pool: list[float] = []
    alone: dict[str, list[float]] = {address: [] for address in ADDRESSES}
    argv = [plugin, "-H", NAME, "-p", str(port), "--all-addresses"]
    for _ in range(reps):
        sample = spawn(argv, env)
        if sample.code != 0:
            raise RuntimeError(f"--all-addresses exited {sample.code}: {sample.stdout!r}")
        pool.append(sample.wall)
        for address in ADDRESSES:
            alone[address].append(spawn([plugin, "-H", address, "-p", str(port)], env).wall)
    return median_ms(pool), [median_ms(alone[address]) for address in ADDRESSES]


def all_addresses(plugin: str, env: Mapping[str, str], workdir: Path, reps: int) -> list[str]:
    reps = max(5, reps)
    resolving = {**env, **hosts_env(workdir / "hosts", {NAME: ADDRESSES})}
    lines = [
        f"4. --all-addresses against {NAME} -> {', '.join(ADDRESSES)} (nss_wrapper), "
        f"{reps} runs, medians, ms wall",
        f"   {'servers':44} {'all 4':>8} {'slowest':>8} {'sum':>8}  each alone",
    ]
    server_dir = workdir / "dovecot-pool"
    server_dir.mkdir()
    dovecot = Dovecot(server_dir, host=ADDRESSES[0], also_listen=ADDRESSES[1:])
    dovecot.start()
    try:
        pool, alone = _compare(plugin, dovecot.port, resolving, reps)
    finally:
        dovecot.stop()
    lines.append(_row("Dovecot on all four", pool, alone))
    servers = _fake_servers()
    try:
        pool, alone = _compare(plugin, servers[0].port, resolving, reps)
    finally:
        for server in servers:
            server.close()
    delays = "/".join(f"{d * 1000:.0f}" for d in DELAYS_S)
    lines.append(_row(f"fake, greeting after {delays} ms", pool, alone))
    lines.append(
        "   all 4 in one check costs about the slowest address alone (one interpreter, "
        "sessions in parallel), not the sum"
    )
    return lines


def _row(label: str, pool: float, alone: list[float]) -> str:
    each = " ".join(f"{ms:.0f}" for ms in alone)
    return (
        f"   {label:44} {pool:8.1f} {max(alone):8.1f} {sum(alone):8.1f}  {each}"
        f" (median of the four {statistics.median(alone):.0f})"
    )
