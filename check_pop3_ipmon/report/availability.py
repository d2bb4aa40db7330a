"""Availability, outages, MTTR and MTBF from a service's test results.

A result's state holds from its test until the next test. Two readings of
"down", side by side:

- Down (ipMonitor's, the engines' HARD problem): from the first test whose
  problem state is HARD until the next passing test;
- from the first failed test: from the first non-OK test, SOFT or HARD,
  until the next passing test.

Every non-OK state is a failed test (ipMonitor knows no "warning"-but-up).
The window observed is from its start (or the first test, if later) to its
end (or the last test, if earlier): a time without results counts neither
way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Optional


class Observation(NamedTuple):
    t: int
    state: int
    hard: bool


@dataclass
class Outage:
    start: float
    end: Optional[float]  # None: still down at the end of the window
    seconds: float


@dataclass
class Availability:
    observed_seconds: float
    percent: Optional[float]  # None when nothing was observed
    outages: list[Outage]
    mttr_seconds: Optional[float]  # mean length of the outages that ended
    mtbf_seconds: Optional[float]  # time up / outages that began in the window


def _is_down(test: Observation, hard_only: bool) -> bool:
    return test.state != 0 and (test.hard or not hard_only)


def outages(
    tests: Sequence[Observation],
    since: float,
    until: float,
    hard_only: bool,
    before: Optional[Observation],
) -> tuple[float, float, list[Outage]]:
    """(observed start, observed end, outages clipped to them).

    `before` is the last test before the window: its state is the state at
    the window's start.
    """
    if not tests:
        return since, since, []
    start = since if before is not None else max(since, tests[0].t)
    end = min(until, tests[-1].t)
    found: list[Outage] = []
    down_since: Optional[float] = None
    if before is not None and _is_down(before, hard_only):
        down_since = start
    for test in tests:
        if down_since is None and _is_down(test, hard_only):
            down_since = max(start, test.t)
        elif down_since is not None and test.state == 0:
            stop = min(end, test.t)
            found.append(Outage(down_since, stop, max(0.0, stop - down_since)))
            down_since = None
    if down_since is not None:
        found.append(Outage(down_since, None, max(0.0, end - down_since)))
    return start, max(start, end), found


def availability(
    tests: Sequence[Observation],
    since: float,
    until: float,
    hard_only: bool,
    before: Optional[Observation] = None,
) -> Availability:
    start, end, found = outages(tests, since, until, hard_only, before)
    observed = end - start
    down = sum(outage.seconds for outage in found)
    ended = [outage.seconds for outage in found if outage.end is not None]
    carried = before is not None and _is_down(before, hard_only)
    began = found[1:] if carried else found
    return Availability(
        observed_seconds=observed,
        percent=round(100.0 * (observed - down) / observed, 4) if observed > 0 else None,
        outages=found,
        mttr_seconds=sum(ended) / len(ended) if ended else None,
        mtbf_seconds=(observed - down) / len(began) if began else None,
    )
