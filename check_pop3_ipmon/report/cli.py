"""pop3_ipmon_report: ipMonitor's "Store Monitor Statistics", from the engines' perfdata.

    pop3_ipmon_report --db FILE ingest [--check-command NAME] PERFDATA_FILE...
    pop3_ipmon_report --db FILE html -o OUT.html [--service HOST!SERVICE]
                      [--since ISO] [--until ISO] [--period day|week|month]
                      [--timezone ZONE] [--target PERCENT] [--warning-is-down]
    pop3_ipmon_report --db FILE json -o OUT.json [same filters]
    pop3_ipmon_report --db FILE csv -o OUT.csv [same filters]
    pop3_ipmon_report spool FILE --into DIR [--to DIR... | -- COMMAND ARG...]

Exit 0 when everything was done, 1 when a file or the database could not be
read or written (one line on stderr each), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, Optional, TextIO

from check_pop3_ipmon import __version__
from check_pop3_ipmon.report import export, html, model
from check_pop3_ipmon.report.engine_settings import CHECK_COMMANDS
from check_pop3_ipmon.report.ingest import FileReport, Ingester
from check_pop3_ipmon.report.safefile import default_mode, write_replacing
from check_pop3_ipmon.report.spool import spool
from check_pop3_ipmon.report.store import AHEAD_SECONDS, StoreError, connect

PROG = "pop3_ipmon_report"
PERIODS = {"day": 1, "week": 7, "month": 30}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def parse_time(text: str) -> float:
    """ISO 8601 (a date, or a date and time; without a zone: UTC) to a Unix time."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-12-01 or 2026-12-01T08:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def parse_service(text: str) -> tuple[str, str]:
    host, sep, service = text.partition("!")
    if not sep or not host or not service:
        raise argparse.ArgumentTypeError(f"expected HOST!SERVICE, not {text!r}")
    return host, service


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Store the POP3 checks' results from the engines' perfdata files "
        "in an SQLite database and report availability, outages and response times.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--db", type=Path, help="the SQLite database file (all commands but spool)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = commands.add_parser(
        "ingest", help="add perfdata files (each once; a torn last line waits for the next run)"
    )
    ingest.add_argument(
        "--check-command",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a check command whose results count too (always: {', '.join(CHECK_COMMANDS)})",
    )
    ingest.add_argument("files", nargs="+", type=Path, metavar="PERFDATA_FILE")
    hand = commands.add_parser(
        "spool",
        help="Nagios' perfdata processing command: copy the file into the report's spool, "
        "then hand it on to the site's graphing tool",
    )
    hand.add_argument("file", type=Path, metavar="FILE", help="$SERVICEPERFDATAFILE$")
    hand.add_argument("--into", type=Path, required=True, metavar="DIR", help="the report's spool")
    hand.add_argument(
        "--to",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="move the file into this spool directory (npcd, nagflux, Graphios)",
    )
    hand.epilog = (
        "-- COMMAND ARG...: or run this command on the file ({} is the file's path, "
        "else it is appended), e.g. -- process_perfdata.pl --bulk={}"
    )
    for name, what in (("html", "an HTML page"), ("json", "JSON"), ("csv", "CSV")):
        sub = commands.add_parser(name, help=f"write the report as {what}")
        sub.add_argument("-o", "--output", type=Path, required=True, help="file to write")
        sub.add_argument(
            "--service",
            type=parse_service,
            action="append",
            default=[],
            metavar="HOST!SERVICE",
            help="only this service (repeatable)",
        )
        sub.add_argument("--since", type=parse_time, help="window start, ISO 8601 (UTC)")
        sub.add_argument("--until", type=parse_time, help="window end, ISO 8601 (default: now)")
        sub.add_argument(
            "--period",
            choices=tuple(PERIODS),
            default="day",
            help="window length before --until when --since is not given (default day)",
        )
        sub.add_argument(
            "--timezone",
            type=parse_zone,
            default="UTC",
            metavar="ZONE",
            help="days and times in this zone (Europe/Berlin; default UTC)",
        )
        sub.add_argument(
            "--target",
            type=parse_target,
            metavar="PERCENT",
            help="the availability promised (99.9): the headline says if it was met",
        )
        sub.add_argument(
            "--warning-is-down",
            action="store_true",
            help="count WARNING (slow) as down, not as up but degraded",
        )
    return parser


def parse_zone(text: str) -> str:
    try:
        model.zone(text)
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text[:60]!r} (an IANA name: Europe/Berlin, UTC)"
        ) from None
    return text


def parse_target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"not a percentage above 0: {text[:20]!r}")
    return value


class Progress:
    """A line on stderr every second, once an ingest has taken more than one."""

    def __init__(self, stream: TextIO, total_files: int) -> None:
        self.stream = stream
        self.total_files = total_files
        self.started = time.monotonic()
        self.last = self.started
        self.file_number = 0
        self.size = 0
        self.done_before = 0  # bytes of finished files

    def file(self, number: int, size: int) -> None:
        self.file_number, self.size = number, size

    def __call__(self, offset: int) -> None:
        now = time.monotonic()
        if now - self.last < 1.0 or now - self.started < 1.0:
            return
        self.last = now
        percent = 100.0 * offset / self.size if self.size else 100.0
        rate = (self.done_before + offset) / (now - self.started) / 1e6
        print(
            f"{PROG}: file {self.file_number}/{self.total_files}: {percent:.0f}% "
            f"({rate:.1f} MB/s, {now - self.started:.0f}s)",
            file=self.stream,
            flush=True,
        )


def _describe(report: FileReport) -> str:
    if report.already:
        return f"{report.path}: nothing new (ingested before)"
    parts = [f"{report.path}: {report.results} new result(s)"]
    if report.bad_lines:
        parts.append(f"{report.bad_lines} bad line(s)")
    if report.bad_items:
        parts.append(f"{report.bad_items} unreadable perfdata item(s)")
    if report.skipped:
        parts.append(f"{report.skipped} other line(s) skipped")
    if report.ignored:
        parts.append(
            f"{report.ignored} result(s) of {len(report.ignored_services)} service(s) "
            "with other check commands ignored"
        )
    if report.ahead:
        parts.append(
            f"{report.ahead} kept apart (stamped over {AHEAD_SECONDS} s ahead of this clock)"
        )
    if report.out_of_order:
        parts.append(f"{report.out_of_order} kept apart (earlier than a line before them)")
    if report.torn:
        parts.append("an unfinished last line left for the next run")
    return ", ".join(parts)


def ingest(db_path: Path, files: Sequence[Path], commands: Sequence[str] = ()) -> int:
    db = connect(db_path, create=True)
    failed = 0
    progress = Progress(sys.stderr, len(files))
    try:
        ingester = Ingester(db, (*CHECK_COMMANDS, *commands))
        for number, path in enumerate(files, 1):
            try:
                progress.file(number, os.lstat(path).st_size)
                report = ingester.ingest(path, progress)
            except OSError as exc:
                print(f"{PROG}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
                failed += 1
                continue
            except sqlite3.Error as exc:
                db.rollback()
                print(f"{PROG}: {db_path}: {exc} (while ingesting {path})", file=sys.stderr)
                return 1
            progress.done_before += progress.size
            print(_describe(report))
            for example in report.bad_examples:
                print(f"{PROG}: {path}: {example}", file=sys.stderr)
    finally:
        db.close()
    return 1 if failed else 0


def window(args: argparse.Namespace) -> tuple[float, float]:
    until = args.until if args.until is not None else time.time()
    since = args.since if args.since is not None else until - PERIODS[args.period] * 86400
    if since >= until:
        raise StoreError("--since must be before --until")
    return since, until


RENDER = {"html": html.to_html, "json": export.to_json, "csv": export.to_csv}


def render(args: argparse.Namespace) -> int:
    since, until = window(args)
    db = connect(args.db, create=False)
    try:
        report = model.build(
            db,
            since,
            until,
            args.service,
            timezone=args.timezone,
            target=args.target,
            warning_is_down=args.warning_is_down,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{args.db}: {exc}") from None
    finally:
        db.close()
    text = RENDER[args.command](report)
    try:
        # A report is for reading (a web server, a mail job): the umask decides,
        # on the new file before it takes the name.
        write_replacing(args.output, text.encode("utf-8"), default_mode())
    except OSError as exc:
        print(f"{PROG}: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.service and not report.services:
        print(f"{PROG}: no results for the service(s) asked in this window", file=sys.stderr)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    downstream: list[str] = []
    if "spool" in words and "--" in words[words.index("spool") :]:
        cut = words.index("--", words.index("spool"))
        words, downstream = words[:cut], words[cut + 1 :]
        if not downstream:
            parser.error("spool: a command after --")
    args = parser.parse_args(words)
    if downstream and args.command != "spool":
        parser.error("-- COMMAND only after spool")
    if args.command == "spool":
        if downstream and args.to:
            parser.error("spool: --to or a command, not both")
        return spool(args.file, args.into, args.to, downstream)
    if args.db is None:
        parser.error(f"{args.command} needs --db FILE")
    try:
        if args.command == "ingest":
            return ingest(args.db, args.files, args.check_command)
        return render(args)
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())
