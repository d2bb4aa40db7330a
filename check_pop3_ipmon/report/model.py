"""What a report shows, read from the database: one ServiceReport a service.

Formats (html.py, export.py) only lay this out; every figure is computed here.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

from check_pop3_ipmon.report.availability import Availability, Observation, availability
from check_pop3_ipmon.report.percentiles import summary
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


@dataclass
class Report:
    since: float
    until: float
    recent_since: float
    services: list[ServiceReport]


def iso(t: Optional[float]) -> Optional[str]:
    """ISO 8601 UTC, whole seconds, 'Z'."""
    if t is None:
        return None
    moment = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d")


_COLUMNS = ", ".join(f'"{phase}"' for phase in PHASES)
# Column names from PHASES; every value is bound.
_SELECT = (
    f"SELECT t, state, hard, {_COLUMNS}, warn, crit, extra, output FROM results"  # noqa: S608
    " WHERE service_id = ? AND t >= ? AND t <= ? ORDER BY t"
)


class _Collector:
    """Values by phase, by day and phase, by address and phase, as rows arrive.

    Month reports read millions of rows: values go into lists indexed like
    PHASES, a day is its number since the epoch; names come at the end.
    """

    def __init__(self) -> None:
        self.phases: list[list[float]] = [[] for _ in PHASES]
        self.days: dict[int, list[list[float]]] = {}
        self.addresses: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def add(
        self, t: int, values: Sequence[Optional[int]], extra: Optional[str]
    ) -> dict[str, float]:
        """Record one result's microsecond columns; returns its phases in seconds."""
        today = self.days.get(t // 86400)
        if today is None:
            today = self.days[t // 86400] = [[] for _ in PHASES]
        phases = {}
        for i, micro in enumerate(values):
            if micro is not None:
                value = micro / 1e6
                self.phases[i].append(value)
                today[i].append(value)
                phases[PHASES[i]] = value
        if extra:
            for label, value in _extra(extra).items():
                split = split_address(label)
                if split is not None:
                    self.addresses[split[0]][split[1]].append(value)
        return phases

    @staticmethod
    def summarise(values: Sequence[list[float]]) -> dict[str, Summary]:
        return {PHASES[i]: summary(found) for i, found in enumerate(values) if found}

    def per_day(self) -> dict[str, dict[str, Summary]]:
        return {day(number * 86400): self.summarise(v) for number, v in sorted(self.days.items())}

    def per_address(self) -> dict[str, dict[str, Summary]]:
        return {
            address: self.summarise([phases.get(phase, []) for phase in PHASES])
            for address, phases in sorted(self.addresses.items())
        }


def _extra(text: str) -> dict[str, float]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def _rows(db: sqlite3.Connection, sid: int, since: float, until: float) -> Iterator[tuple]:  # type: ignore[type-arg]
    yield from db.execute(_SELECT, (sid, int(since), int(until)))


def service_report(
    db: sqlite3.Connection,
    sid: int,
    host: str,
    service: str,
    *,
    since: float,
    until: float,
    recent_since: float,
) -> Optional[ServiceReport]:
    tests: list[Observation] = []
    collector = _Collector()
    recent: list[Sample] = []
    warn = crit = ""
    n = len(PHASES)
    for row in _rows(db, sid, since, until):
        t, state, hard = int(row[0]), int(row[1]), bool(row[2])
        tests.append(Observation(t, state, hard))
        phases = collector.add(t, row[3 : 3 + n], row[n + 5])
        if row[n + 3] is not None or row[n + 4] is not None:
            warn, crit = row[n + 3] or "", row[n + 4] or ""
        if t >= recent_since:
            recent.append(Sample(t, state, hard, phases, row[n + 6] or ""))
    if not tests:
        return None
    before_row = db.execute(
        "SELECT t, state, hard FROM results WHERE service_id = ? AND t < ? ORDER BY t DESC LIMIT 1",
        (sid, int(since)),
    ).fetchone()
    before = (
        Observation(int(before_row[0]), int(before_row[1]), bool(before_row[2]))
        if before_row
        else None
    )
    return ServiceReport(
        host=host,
        service=service,
        tests=len(tests),
        failed_tests=sum(test.state != 0 for test in tests),
        down=availability(tests, since, until, True, before),
        first_failure=availability(tests, since, until, False, before),
        phases=collector.summarise(collector.phases),
        phases_per_day=collector.per_day(),
        addresses=collector.per_address(),
        recent=recent,
        warn=warn,
        crit=crit,
    )


def build(
    db: sqlite3.Connection, since: float, until: float, only: Sequence[tuple[str, str]] = ()
) -> Report:
    recent_since = max(since, until - RECENT_SECONDS)
    services = []
    for sid, host, service in db.execute(
        "SELECT id, host, service FROM services ORDER BY host, service"
    ).fetchall():
        if only and (host, service) not in only:
            continue
        found = service_report(
            db, sid, host, service, since=since, until=until, recent_since=recent_since
        )
        if found is not None:
            services.append(found)
    return Report(since, until, recent_since, services)
