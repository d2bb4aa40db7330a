"""Perfdata files into the database, each once.

A file is known by its first complete line (the engine's first result in
it: a time, a host, a service), not by its name, since rotation renames
files and a file may be handed over from another directory. The database
keeps how many bytes of it were read; a run reads on from there, so
ingesting a rotated file again adds nothing, and the file the engine is
still writing can be ingested as it grows. A last line without its newline
(the engine is halfway through writing it) is left for the next run.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from check_pop3_ipmon.report.perfdata import MAX_LINE, PHASES, BadLine, Result, parse_line

BATCH = 5000
_FIELD_START = re.compile(rb"[A-Z][A-Z0-9_]*::")
MAX_BAD_SHOWN = 5

# Column names from PHASES; every value is bound.
_INSERT = (
    "INSERT OR IGNORE INTO results (service_id, t, seq, state, hard, "  # noqa: S608
    + ", ".join(f'"{phase}"' for phase in PHASES)
    + ", warn, crit, extra, output) VALUES ("
    + ", ".join("?" * (len(PHASES) + 9))
    + ")"
)


@dataclass
class FileReport:
    path: Path
    results: int = 0
    bad_lines: int = 0
    bad_items: int = 0
    skipped: int = 0  # host perfdata, blank lines
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


def _row(service_id: int, seq: int, result: Result) -> tuple[object, ...]:
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
    )


class Ingester:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
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
        self.db.execute("BEGIN IMMEDIATE")
        # The rows and the new offset in one transaction: all or nothing
        # (the connection commits on success, rolls back on any exception).
        with self.db:
            return self._ingest(path, progress)

    def _ingest(self, path: Path, progress: Optional[Progress]) -> FileReport:
        report = FileReport(path)
        with open(path, "rb") as handle:
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
        in_output = False  # after a result, lines without a KEY:: field are its long output
        for end, line in _lines(handle, report):
            if not line:
                self._bad(report, end, "line too long")
                in_output = False
                continue
            try:
                result = parse_line(line)
            except BadLine as exc:
                # Icinga 2 writes $service.output$ with the plugin's long output,
                # newlines and all: those lines belong to the result before.
                if in_output and not _FIELD_START.match(line):
                    report.skipped += 1
                    continue
                report.bad_lines += 1
                self._bad(report, end, str(exc))
                in_output = False
                continue
            if result is None:
                report.skipped += 1
                continue
            in_output = True
            report.results += 1
            report.bad_items += result.bad_items
            batch.append(_row(self.service_id(result.host, result.service), end, result))
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
