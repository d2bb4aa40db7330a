"""Perfdata files into the database, each once.

A file is known by its first complete line (the engine's first result in
it: a time, a host, a service), not by its name, since rotation renames
files and a file may be handed over from another directory. The database
keeps how many bytes of it were read; a run reads on from there, so
ingesting a rotated file again adds nothing, and the file the engine is
still writing can be ingested as it grows. A last line without its newline
(the engine is halfway through writing it) is left for the next run.

Only the results of the check commands asked for (those of an ipMonitor
POP3 monitor, engine_settings.CHECK_COMMANDS, by default) are kept; the
others are counted. A result stamped more than AHEAD_SECONDS after this
run's clock (an engine with a wrong clock), or earlier than a line before it
in its file (a clock stepped back), is stored apart: counted, not reported.
A file is opened before the write lock is taken, and only if it is a
regular file (safefile.py): nothing makes ingest wait while it holds it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from check_pop3_ipmon.report.engine_settings import CHECK_COMMANDS
from check_pop3_ipmon.report.perfdata import MAX_LINE, PHASES, BadLine, Result, parse_line
from check_pop3_ipmon.report.safefile import open_regular
from check_pop3_ipmon.report.store import AHEAD_SECONDS, APART_AHEAD, APART_ORDER

BATCH = 5000
MAX_BAD_SHOWN = 5

# Column names from PHASES; every value is bound.
_INSERT = (
    "INSERT OR IGNORE INTO results (service_id, t, seq, state, hard, "  # noqa: S608
    + ", ".join(f'"{phase}"' for phase in PHASES)
    + ", warn, crit, extra, output, downtime, apart) VALUES ("
    + ", ".join("?" * (len(PHASES) + 11))
    + ")"
)


@dataclass
class FileReport:
    path: Path
    results: int = 0
    bad_lines: int = 0
    bad_items: int = 0
    skipped: int = 0  # host perfdata, blank lines
    ignored: int = 0  # results of other check commands
    ignored_services: set[tuple[str, str]] = field(default_factory=set)
    ahead: int = 0  # kept apart: stamped ahead of this run's clock
    out_of_order: int = 0  # kept apart: earlier than a line before it
    torn: bool = False  # a last line without its newline, left for the next run
    already: bool = False  # nothing new since the last run
    bad_examples: list[str] = field(default_factory=list)


Progress = Callable[[int], None]  # bytes read so far in the current file


def _lines(handle: BinaryIO, report: FileReport) -> Iterator[tuple[int, bytes]]:
    """(end offset, line) for each complete line; over-long lines are bad, not kept."""
    offset = handle.tell()
    while True:
        line = handle.readline(MAX_LINE)
        if not line:
            return
        if line.endswith(b"\n"):
            offset += len(line)
            yield offset, line
            continue
        if len(line) < MAX_LINE:
            report.torn = True  # end of file in the middle of a line
            return
        # A line longer than any result: skip to its end without keeping it.
        skipped = len(line)
        while not line.endswith(b"\n"):
            line = handle.readline(MAX_LINE)
            if not line:
                report.torn = True
                return
            skipped += len(line)
        offset += skipped
        report.bad_lines += 1
        yield offset, b""


def _row(service_id: int, seq: int, result: Result, apart: int) -> tuple[object, ...]:
    """`seq` (where the line ends in its file) keeps two results of one second apart."""
    phases = [
        round(result.phases[phase] * 1e6) if phase in result.phases else None for phase in PHASES
    ]
    return (
        service_id,
        result.timet,
        seq,
        result.state,
        int(result.hard),
        *phases,
        result.warn or None,
        result.crit or None,
        json.dumps(result.extra, separators=(",", ":")) if result.extra else None,
        result.output if result.state != 0 else None,
        int(result.downtime),
        apart,
    )


MAX_IGNORED_NAMED = 1000  # services of other commands remembered for the summary


class Ingester:
    def __init__(
        self,
        db: sqlite3.Connection,
        commands: Sequence[str] = CHECK_COMMANDS,
        now: Optional[float] = None,
    ) -> None:
        self.db = db
        self.commands = frozenset(commands)
        self.latest = (time.time() if now is None else now) + AHEAD_SECONDS
        self.services: dict[tuple[str, str], int] = {
            (host, service): sid
            for sid, host, service in db.execute("SELECT id, host, service FROM services")
        }

    def service_id(self, host: str, service: str) -> int:
        key = (host, service)
        sid = self.services.get(key)
        if sid is None:
            # Another ingest (an overlapping cron run) may have added it meanwhile.
            self.db.execute(
                "INSERT OR IGNORE INTO services (host, service) VALUES (?, ?)", (host, service)
            )
            row = self.db.execute(
                "SELECT id FROM services WHERE host = ? AND service = ?", (host, service)
            ).fetchone()
            sid = self.services[key] = int(row[0])
        return sid

    def ingest(self, path: Path, progress: Optional[Progress] = None) -> FileReport:
        """Read `path` on from where the last run stopped. OSError goes to the caller.

        One write transaction a file, taken before its offset is read: two
        ingests at once (overlapping cron runs) take turns, and the second
        reads on from where the first stopped.
        """
        with open_regular(path) as handle:
            self.db.execute("BEGIN IMMEDIATE")
            # The rows and the new offset in one transaction: all or nothing
            # (the connection commits on success, rolls back on any exception).
            with self.db:
                return self._ingest(path, handle, progress)

    def _ingest(self, path: Path, handle: BinaryIO, progress: Optional[Progress]) -> FileReport:
        report = FileReport(path)
        first = handle.readline(MAX_LINE)
        if not first.endswith(b"\n"):
            report.torn = bool(first)
            report.already = not first
            return report
        fingerprint = hashlib.sha256(first).hexdigest()
        row = self.db.execute(
            "SELECT offset FROM files WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        start = int(row[0]) if row else 0
        handle.seek(start)
        if handle.read(1) == b"":
            report.already = True
            return report
        handle.seek(start)
        end = self._read(handle, report, progress)
        if end > start:
            self.db.execute(
                "INSERT INTO files (fingerprint, path, offset, results, bad_lines, ingested_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET"
                " path = excluded.path, offset = excluded.offset,"
                " results = results + excluded.results,"
                " bad_lines = bad_lines + excluded.bad_lines,"
                " ingested_at = excluded.ingested_at",
                (
                    fingerprint,
                    str(path),
                    end,
                    report.results,
                    report.bad_lines,
                    int(time.time()),
                ),
            )
        else:
            report.already = not report.torn
        return report

    def _read(self, handle: BinaryIO, report: FileReport, progress: Optional[Progress]) -> int:
        batch: list[tuple[object, ...]] = []
        end = handle.tell()
        newest = 0  # the latest TIMET of the file so far (this run's part of it)
        for end, line in _lines(handle, report):
            if not line:
                self._bad(report, end, "line too long")
                continue
            try:
                result = parse_line(line)
            except BadLine as exc:
                report.bad_lines += 1
                self._bad(report, end, str(exc))
                continue
            if result is None:
                report.skipped += 1
                continue
            if result.command not in self.commands:
                report.ignored += 1
                if len(report.ignored_services) < MAX_IGNORED_NAMED:
                    report.ignored_services.add((result.host[:60], result.service[:60]))
                continue
            apart = 0
            if result.timet > self.latest:
                apart, report.ahead = APART_AHEAD, report.ahead + 1
            elif result.timet < newest:
                apart, report.out_of_order = APART_ORDER, report.out_of_order + 1
            else:
                newest = result.timet
                report.results += 1
            report.bad_items += result.bad_items
            batch.append(_row(self.service_id(result.host, result.service), end, result, apart))
            if len(batch) >= BATCH:
                self.db.executemany(_INSERT, batch)
                batch.clear()
                if progress is not None:
                    progress(end)
        if batch:
            self.db.executemany(_INSERT, batch)
        return end

    @staticmethod
    def _bad(report: FileReport, offset: int, why: str) -> None:
        if len(report.bad_examples) < MAX_BAD_SHOWN:
            report.bad_examples.append(f"line ending at byte {offset}: {why}")
