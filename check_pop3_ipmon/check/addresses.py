"""Every address of a name, tested at once within the one deadline (--all-addresses).

A round-robin pool or a dual-stack name is one service to its users but many
servers: one session per address, each in its own thread, all sharing one
Deadline, so the whole test takes about as long as the slowest address and
never longer than -t. Threads rather than processes or asyncio: each session
spends its time waiting in poll(), and the session code stays as it is.
Free of nagiosplugin, like the session: pool.py is the glue.
"""

from __future__ import annotations

import threading

from check_pop3_ipmon.check import session
from check_pop3_ipmon.check.failures import TOO_MANY
from check_pop3_ipmon.check.record import Record, field
from check_pop3_ipmon.check.session import Failure, ProbeResult, Settings
from check_pop3_ipmon.core.deadline import Deadline, DeadlineExpired

# dataclasses and typing would cost --all-addresses 9 ms of start-up (see record.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# More threads than this is no longer a pool but a misconfigured name.
MAX_ADDRESSES = 64


class PoolResult(Record):
    settings: Settings
    results: list[tuple[str, ProbeResult]] = field(default_factory=list)  # (IP, result)
    resolve_time: Optional[float] = None
    total: float = 0.0
    failure: Optional[Failure] = None  # the name, not an address, failed


def targets(infos: list[tuple[Any, ...]]) -> list[tuple[str, int, tuple[Any, ...]]]:
    """(IP, family, sockaddr) for each distinct address, in the resolver's order."""
    seen: set[str] = set()
    found = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.add(ip)
            found.append((ip, family, sockaddr))
    return found


def probe_all(settings: Settings) -> PoolResult:
    deadline = Deadline(settings.timeout)
    pool = PoolResult(settings)
    try:
        try:
            infos = session.resolve(settings.host, settings.port, settings.family, deadline)
        except DeadlineExpired:
            pool.failure = Failure(session.TIMEOUT, f"no DNS answer within {settings.timeout:g}s")
            return pool
        except (OSError, UnicodeError) as exc:
            pool.failure = Failure(session.RESOLVE, session.cannot_resolve(settings.host, exc))
            return pool
        pool.resolve_time = deadline.elapsed()
        found = targets(infos)
        if len(found) > MAX_ADDRESSES:
            pool.failure = Failure(
                TOO_MANY,
                f"{settings.host} has {len(found)} addresses; --all-addresses tests at most "
                f"{MAX_ADDRESSES}",
            )
            return pool
        pool.results = _run_all(settings, deadline, found)
        return pool
    finally:
        pool.total = deadline.elapsed()


def _run_all(
    settings: Settings, deadline: Deadline, found: list[tuple[str, int, tuple[Any, ...]]]
) -> list[tuple[str, ProbeResult]]:
    results: list[Optional[ProbeResult]] = [None] * len(found)
    errors: list[BaseException] = []

    def run(index: int, family: int, sockaddr: tuple[Any, ...]) -> None:
        try:
            results[index] = session.probe(settings, deadline, (family, sockaddr))
        except BaseException as exc:
            # Not swallowed: raised again in the main thread below, so a bug
            # ends as nagiosplugin's UNKNOWN there instead of a missing result.
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(index, family, sockaddr), name=ip, daemon=True)
        for index, (ip, family, sockaddr) in enumerate(found)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Every wait in a session is bounded by the deadline; the margin only
        # covers the last poll() returning.
        thread.join(max(deadline.remaining(), 0.0) + 0.5)
    if errors:
        raise errors[0]
    out = []
    for (ip, _family, _sockaddr), result in zip(found, results):
        if result is None:  # cannot happen while every wait honours the deadline
            late = ProbeResult(settings)
            late.total = deadline.elapsed()
            late.failure = Failure(session.TIMEOUT, f"no result within {settings.timeout:g}s")
            out.append((ip, late))
        else:
            out.append((ip, result))
    return out
