"""Availability, outages, MTTR and MTBF from a service's test results.

A result's state holds from its test until the next test. Two readings of
"down", side by side:

- Down (ipMonitor's, the engines' HARD problem): from the first test whose
  problem state is HARD until the next test that is not a failure;
- from the first failed test: from the first failure, SOFT or HARD.

A failure is CRITICAL or UNKNOWN; WARNING (answering, but slower than the
threshold) is up but degraded, with its own figure, unless
`warning_is_down`. A result taken in scheduled downtime (the service's or
its host's) starts maintenance: its time counts neither way, and an outage
going on ends where maintenance begins (ipMonitor's maintenance window).
The window observed is from its start (or the first test, if later) to its
end (or the last test, if earlier), less maintenance: a time without
results counts neither way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Optional

UP, DEGRADED, DOWN, MAINTENANCE = "up", "degraded", "down", "maintenance"


class Observation(NamedTuple):
    t: int
    state: int
    hard: bool
    downtime: bool = False


@dataclass
class Outage:
    start: float
    end: Optional[float]  # None: still down at the end of the window
    seconds: float


@dataclass
class Availability:
    observed_seconds: float  # less maintenance
    percent: Optional[float]  # None when nothing was observed
    outages: list[Outage]
    mttr_seconds: Optional[float]  # mean length of the outages that ended
    mtbf_seconds: Optional[float]  # time up / outages that began in the window
    maintenance_seconds: float = 0.0
    degraded_seconds: float = 0.0
    degraded_percent: Optional[float] = None


def _status(test: Observation, down: bool, hard_only: bool, warning_is_down: bool) -> str:
    if test.downtime:
        return MAINTENANCE
    failure = test.state in (2, 3) or (test.state == 1 and warning_is_down)
    if failure and (down or test.hard or not hard_only):
        return DOWN
    # A failure not yet confirmed (SOFT) is up, as a SOFT CRITICAL is.
    return DEGRADED if test.state == 1 and not warning_is_down else UP


def availability(
    tests: Sequence[Observation],
    since: float,
    until: float,
    hard_only: bool,
    before: Optional[Observation] = None,
    *,
    warning_is_down: bool = False,
) -> Availability:
    """`before` is the last test before the window: its state is the state at
    the window's start."""
    if not tests:
        return Availability(0.0, None, [], None, None)
    start = since if before is not None else max(since, tests[0].t)
    end = max(start, min(until, tests[-1].t))
    spent = {UP: 0.0, DEGRADED: 0.0, DOWN: 0.0, MAINTENANCE: 0.0}
    found: list[Outage] = []
    status, at = UP, start
    carried = False
    if before is not None:
        status = _status(before, False, hard_only, warning_is_down)
        carried = status == DOWN
    outage_start: Optional[float] = start if carried else None
    for test in tests:
        t = min(max(float(test.t), start), end)
        spent[status] += t - at
        new = _status(test, status == DOWN, hard_only, warning_is_down)
        if new == DOWN and status != DOWN:
            outage_start = t
        elif status == DOWN and new != DOWN and outage_start is not None:
            found.append(Outage(outage_start, t, t - outage_start))
            outage_start = None
        status, at = new, t
    spent[status] += end - at
    if outage_start is not None:
        found.append(Outage(outage_start, None, end - outage_start))
    observed = end - start - spent[MAINTENANCE]
    down = spent[DOWN]
    ended = [outage.seconds for outage in found if outage.end is not None]
    began = found[1:] if carried else found
    return Availability(
        observed_seconds=observed,
        percent=round(100.0 * (observed - down) / observed, 4) if observed > 0 else None,
        outages=found,
        mttr_seconds=sum(ended) / len(ended) if ended else None,
        mtbf_seconds=(observed - down) / len(began) if began else None,
        maintenance_seconds=spent[MAINTENANCE],
        degraded_seconds=spent[DEGRADED],
        degraded_percent=round(100.0 * spent[DEGRADED] / observed, 4) if observed > 0 else None,
    )
