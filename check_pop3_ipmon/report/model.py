"""What a report shows, read from the database: one ServiceReport a service.

Formats (html.py, export.py) only lay this out; every figure is computed here.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import itertools
import json
import operator
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional
from zoneinfo import ZoneInfo

from check_pop3_ipmon.report.availability import Availability, Observation, availability
from check_pop3_ipmon.report.percentiles import LEVELS, nearest_rank, summary
from check_pop3_ipmon.report.perfdata import PHASES, split_address

RECENT_SECONDS = 86400
Summary = dict[str, float]


@dataclass
class Sample:
    """One test in the recent-activity window."""

    t: int
    state: int
    hard: bool
    phases: dict[str, float]
    output: str
    downtime: bool = False


@dataclass
class ServiceReport:
    host: str
    service: str
    tests: int
    failed_tests: int
    down: Availability  # from the HARD problem (ipMonitor's Down)
    first_failure: Availability  # from the first failed test
    phases: dict[str, Summary]
    phases_per_day: dict[str, dict[str, Summary]]
    addresses: dict[str, dict[str, Summary]]
    recent: list[Sample] = field(default_factory=list)
    warn: str = ""
    crit: str = ""
    warning_tests: int = 0


@dataclass
class Report:
    since: float
    until: float
    recent_since: float
    services: list[ServiceReport]
    timezone: str = "UTC"
    target: Optional[float] = None  # percent, --target
    warning_is_down: bool = False

    def overall(self) -> Optional[float]:
        """All services' time up over all their time observed (Down, from HARD)."""
        observed = sum(s.down.observed_seconds for s in self.services)
        down = sum(o.seconds for s in self.services for o in s.down.outages)
        return round(100.0 * (observed - down) / observed, 4) if observed > 0 else None

    def below_target(self) -> list[ServiceReport]:
        if self.target is None:
            return []
        return [
            s for s in self.services if s.down.percent is not None and s.down.percent < self.target
        ]


def iso(t: Optional[float]) -> Optional[str]:
    """ISO 8601 UTC, whole seconds, 'Z'."""
    if t is None:
        return None
    moment = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str) -> datetime.tzinfo:
    """UTC, or an IANA zone name (Europe/Berlin); KeyError/ValueError if unknown."""
    return datetime.timezone.utc if name.upper() == "UTC" else ZoneInfo(name)


def day(t: float, tz: datetime.tzinfo = datetime.timezone.utc) -> str:
    return datetime.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d")


def local_time(t: float, tz: datetime.tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.datetime.fromtimestamp(t, tz).strftime(fmt)


# Column names from PHASES; every value is bound.
_WHERE = " FROM results WHERE service_id = ? AND t >= ? AND t <= ? AND apart = 0"
_COUNTS = (
    "SELECT count(*), "
    + ", ".join(f'count("{phase}")' for phase in PHASES)
    + ", count(extra)"
    + _WHERE
)
PhaseColumns = dict[str, Sequence[Optional[int]]]
_MEASURED = functools.partial(operator.is_not, None)  # a C-level test, not a lambda


def _summaries(column: Sequence[Optional[int]], start: int, end: int) -> Optional[Summary]:
    """Percentiles of one microsecond column's rows start:end, or None if none was measured.
    Sorted as integers in C; only the three values picked become seconds."""
    ordered: list[int] = sorted(filter(_MEASURED, column[start:end]))  # type: ignore[arg-type]
    if not ordered:
        return None
    return {f"p{level}": round(nearest_rank(ordered, level) / 1e6, 6) for level in LEVELS}


def _phases(columns: PhaseColumns, start: int, end: int) -> dict[str, Summary]:
    found = {}
    for phase, column in columns.items():
        figures = _summaries(column, start, end)
        if figures is not None:
            found[phase] = figures
    return found


def _next_midnight(t: float, tz: datetime.tzinfo) -> float:
    local = datetime.datetime.fromtimestamp(t, tz).date() + datetime.timedelta(days=1)
    return datetime.datetime(local.year, local.month, local.day, tzinfo=tz).timestamp()


def _per_day(
    times: Sequence[int], columns: PhaseColumns, tz: datetime.tzinfo
) -> dict[str, dict[str, Summary]]:
    """Per day in `tz`; rows come sorted by time, so each day is one slice."""
    out = {}
    start = 0
    while start < len(times):
        end = bisect.bisect_left(times, _next_midnight(times[start], tz), start)
        out[day(times[start], tz)] = _phases(columns, start, end)
        start = end
    return out


def _per_address(extras: Sequence[Optional[str]]) -> dict[str, dict[str, Summary]]:
    """--all-addresses checks' per-address labels ('ip4_127_0_0_1_time', or an
    earlier version's '127.0.0.1_time': the same address)."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for text in extras:
        if text:
            for label, value in _extra(text).items():
                split = split_address(label)
                if split is not None:
                    values[split[0]][split[1]].append(value)
    return {
        address: {phase: summary(phases[phase]) for phase in PHASES if phases.get(phase)}
        for address, phases in sorted(values.items())
    }


def _extra(text: str) -> dict[str, float]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def _recent(
    times: Sequence[int],
    columns: Sequence[Sequence[Any]],
    phases: PhaseColumns,
    first: int,
) -> list[Sample]:
    """The tests from row `first` on; columns: state, hard, downtime, output."""
    states, hards, downtimes, outputs = columns
    return [
        Sample(
            int(times[i]),
            int(states[i]),
            bool(hards[i]),
            {name: v / 1e6 for name, column in phases.items() if (v := column[i]) is not None},
            outputs[i] or "",
            bool(downtimes[i]),
        )
        for i in range(first, len(times))
    ]


def _observations(
    times: Sequence[int],
    states: Sequence[int],
    hards: Sequence[int],
    downtimes: Sequence[int],
) -> list[Observation]:
    """The tests where (state, type, downtime) changes, and the last one: the
    rest repeat the status before them (availability.py), and a month is
    43,000 tests a service (found by C-speed iterators, not a Python step a row)."""
    keys = list(zip(states, hards, downtimes))
    changed = itertools.compress(range(1, len(keys)), map(operator.ne, keys[1:], keys[:-1]))
    picked = [0, *changed]
    if picked[-1] != len(keys) - 1:
        picked.append(len(keys) - 1)
    return [Observation(times[i], keys[i][0], bool(keys[i][1]), bool(keys[i][2])) for i in picked]


def _thresholds(db: sqlite3.Connection, args: tuple[int, int, int]) -> tuple[str, str]:
    """The latest warning and critical thresholds of `time`."""
    row = db.execute(
        "SELECT warn, crit" + _WHERE + " AND (warn IS NOT NULL OR crit IS NOT NULL)"
        " ORDER BY t DESC LIMIT 1",
        args,
    ).fetchone()
    return (row[0] or "", row[1] or "") if row else ("", "")


def service_report(
    db: sqlite3.Connection,
    sid: int,
    host: str,
    service: str,
    *,
    since: float,
    until: float,
    recent_since: float,
    tz: datetime.tzinfo = datetime.timezone.utc,
    warning_is_down: bool = False,
) -> Optional[ServiceReport]:
    # A month of one service is some 43,000 rows: taken whole and turned into
    # columns, the figures come from C-speed slices, not a Python step a row;
    # only the phases measured in the window are read.
    args = (sid, int(since), int(until))
    counts = db.execute(_COUNTS, args).fetchone()
    if not counts[0]:
        return None
    present = [phase for phase, count in zip(PHASES, counts[1:-1]) if count]
    names = "".join(f', "{phase}"' for phase in present)
    rows = db.execute(
        f"SELECT t, state, hard, downtime, output{names}" + _WHERE + " ORDER BY t", args
    ).fetchall()
    columns = list(zip(*rows))
    times: Sequence[int] = columns[0]
    states = columns[1]
    tests = _observations(times, states, columns[2], columns[3])
    phase_columns: PhaseColumns = dict(zip(present, columns[5:]))
    extras = (
        [row[0] for row in db.execute("SELECT extra" + _WHERE + " AND extra IS NOT NULL", args)]
        if counts[-1]
        else []
    )
    before_row = db.execute(
        "SELECT t, state, hard, downtime FROM results WHERE service_id = ? AND t < ?"
        " AND apart = 0 ORDER BY t DESC LIMIT 1",
        (sid, int(since)),
    ).fetchone()
    before = (
        Observation(
            int(before_row[0]), int(before_row[1]), bool(before_row[2]), bool(before_row[3])
        )
        if before_row
        else None
    )
    warn, crit = _thresholds(db, args)
    return ServiceReport(
        host=host,
        service=service,
        tests=len(rows),
        failed_tests=len(rows) - states.count(0),
        down=availability(tests, since, until, True, before, warning_is_down=warning_is_down),
        first_failure=availability(
            tests, since, until, False, before, warning_is_down=warning_is_down
        ),
        phases=_phases(phase_columns, 0, len(rows)),
        phases_per_day=_per_day(times, phase_columns, tz),
        addresses=_per_address(extras),
        recent=_recent(
            times,
            (states, columns[2], columns[3], columns[4]),
            phase_columns,
            bisect.bisect_left(times, recent_since),
        ),
        warn=warn,
        crit=crit,
        warning_tests=states.count(1),
    )


def build(
    db: sqlite3.Connection,
    since: float,
    until: float,
    only: Sequence[tuple[str, str]] = (),
    *,
    timezone: str = "UTC",
    target: Optional[float] = None,
    warning_is_down: bool = False,
) -> Report:
    tz = zone(timezone)
    recent_since = max(since, until - RECENT_SECONDS)
    services = []
    for sid, host, service in db.execute(
        "SELECT id, host, service FROM services ORDER BY host, service"
    ).fetchall():
        if only and (host, service) not in only:
            continue
        found = service_report(
            db,
            sid,
            host,
            service,
            since=since,
            until=until,
            recent_since=recent_since,
            tz=tz,
            warning_is_down=warning_is_down,
        )
        if found is not None:
            services.append(found)
    return Report(since, until, recent_since, services, timezone, target, warning_is_down)
