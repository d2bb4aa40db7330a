"""Benchmark: pop3_ipmon_report at the scale issue 14 names.

Not a test: it prints figures. A month of one-minute tests of 100 services
(30 x 1440 x 100 = 4,320,000 results), written as the engines write them,
one rotated file a day per 24 h (each file ingested, then deleted, so the
disk holds one day at a time), through the installed console script:

    tox -e bench-report            # or, with the package installed:
    python bench/report_scale.py [--days 30] [--services 100] [--keep DIR]

Prints the ingest rate (results/s, MB/s), the database size (and bytes a
result), a second ingest of a file already read (must add nothing), and the
time to render the month as HTML, JSON and CSV, for all services and one.
Outages: every service is down for 10 to 40 minutes on three days, HARD after
three failed tests, so the figures include outage and availability work.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

# The month ends at the last midnight (UTC): ingest keeps apart results stamped
# ahead of its clock. The same made-up tests every run (seeded), so figures
# stay comparable.
START = 0  # set in main()
PROG = str(Path(sys.executable).parent / "pop3_ipmon_report")


def day_file(path: Path, day: int, services: int, rng: random.Random) -> int:
    """One day of one-minute results for `services` services; returns the line count."""
    outages = {
        s: [(rng.randrange(1440), rng.randrange(10, 40))] if (day + s) % 10 in (0, 3, 7) else []
        for s in range(services)
    }
    lines = 0
    with open(path, "w") as out:
        for minute in range(1440):
            t = START + day * 86400 + minute * 60
            for s in range(services):
                down_for = next(
                    (
                        minute - begin
                        for begin, length in outages[s]
                        if 0 <= minute - begin < length
                    ),
                    None,
                )
                if down_for is None:
                    greeting = rng.lognormvariate(-4.6, 0.5)
                    perf = (
                        f"connect_time={rng.uniform(0.0001, 0.0004):.6f}s;;;0 "
                        f"greeting_time={greeting:.6f}s;;;0 quit_time=0.000190s;;;0 "
                        f"resolve_time=0.000021s;;;0 time={greeting + 0.0006:.6f}s;2;5;0;10"
                    )
                    state, kind = "OK", "HARD"
                    output = f"POP3 OK - greeting in {greeting:.3f}s from 192.0.2.{s % 250}:110"
                else:
                    perf = "resolve_time=0.000021s;;;0 time=0.000410s;2;5;0;10"
                    state, kind = "CRITICAL", "HARD" if down_for >= 2 else "SOFT"
                    output = f"POP3 CRITICAL - connection refused by 192.0.2.{s % 250}:110"
                # The template of report/engine_settings.py.
                out.write(
                    f"DATATYPE::SERVICEPERFDATA\tTIMET::{t}\tHOSTNAME::mail{s:03d}\t"
                    f"SERVICEDESC::POP3\tSERVICECHECKCOMMAND::check_pop3_ipmon!-p 110\t"
                    f"SERVICESTATE::{state}\tSERVICESTATETYPE::{kind}\tSERVICEDOWNTIME::0\t"
                    f"HOSTDOWNTIME::0\tSERVICEPERFDATA::{perf}\tSERVICEOUTPUT::{output}\n"
                )
                lines += 1
    return lines


def run(*args: str) -> float:
    """Wall seconds of one pop3_ipmon_report run (its progress lines not shown)."""
    started = time.monotonic()
    done = subprocess.run([PROG, *args], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode:
        sys.exit(f"pop3_ipmon_report {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return seconds


def chromium(page: Path, work: Path) -> Optional[float]:
    """Headless Chromium opens the page and prints it to PDF: the time a reader
    waits, and the export a manager may want (--print-to-pdf)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium: not installed (Debian: apt-get install chromium), page not rendered")
        return None
    pdf = work / "report.pdf"
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={work / 'chromium-profile'}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        page.as_uri(),
    ]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    if done.returncode or not pdf.exists():
        print(f"chromium: exit {done.returncode}: {done.stderr[-500:]}")
        return None
    print(
        f"chromium (headless) opens the month page and prints it: {seconds:6.1f} s, "
        f"PDF {pdf.stat().st_size / 1e6:.1f} MB"
    )
    return seconds


def renders(work: Path, db: Path, days: int) -> None:
    """The month as HTML (then in Chromium), JSON and CSV; one service; the last day."""
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + days * 86400))
    window = ["--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START)), "--until", until]
    html_seconds, html_size = 0.0, 0
    for fmt in ("html", "json", "csv"):
        out = work / f"report.{fmt}"
        seconds = run("--db", str(db), fmt, "-o", str(out), *window)
        megabytes = out.stat().st_size / 1e6
        print(f"render {fmt:4s} month, all services: {seconds:6.1f} s, {megabytes:.1f} MB")
        if fmt == "html":
            html_seconds, html_size = seconds, out.stat().st_size
    print(
        f"month page: {html_size / 1e6:.2f} MB (target < 2 MB), "
        f"written in {html_seconds:.1f} s (target < 5 s)"
    )
    chromium(work / "report.html", work)
    seconds = run(
        "--db", str(db), "html", "-o", str(work / "one.html"), "--service", "mail042!POP3", *window
    )
    print(f"render html  month, one service:  {seconds:6.1f} s")
    day = ["--until", until]  # default window: the last 24 hours
    seconds = run("--db", str(db), "html", "-o", str(work / "day.html"), *day)
    print(f"render html  last day, all services: {seconds:6.1f} s")


def main() -> int:
    global START  # noqa: PLW0603 - one place for the month's start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="leave the database and reports here")
    parser.add_argument("--quick", action="store_true", help="CI's short run: 2 days, 10 services")
    args = parser.parse_args()
    if args.quick:  # tests/test_bench.py: the code path, not the figures
        args.days, args.services = 2, 10
    START = int(time.time()) // 86400 * 86400 - args.days * 86400
    work = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "stats.sqlite"
    if db.exists():
        sys.exit(f"{db} exists: give an empty --keep directory")
    rng = random.Random(14)  # noqa: S311 - made-up timings, the same every run
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print(f"{args.days} days x 1440 tests x {args.services} services, one file a day")
    total_lines = total_bytes = 0
    ingest_seconds = 0.0
    for day in range(args.days):
        path = work / f"service-perfdata.{START + (day + 1) * 86400}"
        total_lines += day_file(path, day, args.services, rng)
        total_bytes += path.stat().st_size
        ingest_seconds += run("--db", str(db), "ingest", str(path))
        if day == 0:
            again = run("--db", str(db), "ingest", str(path))
            print(f"  ingesting day 1 again (nothing new): {again:.2f} s")
        path.unlink()
    size = sum(p.stat().st_size for p in work.glob("stats.sqlite*"))
    rate, mb_rate = total_lines / ingest_seconds, total_bytes / 1e6 / ingest_seconds
    print(
        f"ingest: {total_lines:,} results, {total_bytes / 1e6:,.0f} MB in {ingest_seconds:.1f} s"
        f" = {rate:,.0f} results/s, {mb_rate:.1f} MB/s"
    )
    print(f"database: {size / 1e6:,.0f} MB ({size / total_lines:.0f} bytes a result)")
    renders(work, db, args.days)
    if args.keep is None:
        # Only the directory mkdtemp made above.
        if not work.name.startswith("report-bench-") or work.parent != Path(tempfile.gettempdir()):
            sys.exit(f"not removing {work}: not this run's temporary directory")
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
