"""pop3_ipmon_report as root in directories others may write (issue 19, item 4).

Each test stages what an attacker (or a broken engine) can leave in the
perfdata or output directories, and checks that the report neither follows
it, nor waits on it, nor takes its word for the time: a real FIFO, symbolic
links for a perfdata file, the database and the page, a symbolic link
renamed over the page while it is written, and results stamped by a clock a
day ahead (libfaketime sets the ingest's clock).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from check_pop3_ipmon.report import cli
from tests.report.test_report import T0, line
from tests.support.integration import find_program
from tests.support.perfdata_files import BIN, iso, json_report, report


def ingest(db: Path, *files: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pop3_ipmon_report"), "--db", str(db), "ingest", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Before: ingest blocked in open() on the FIFO while holding the write
    lock, and every later run failed with "database is locked"."""
    db, fifo, good = tmp_path / "db", tmp_path / "service-perfdata.1", tmp_path / "pd"
    os.mkfifo(fifo)
    good.write_text(line(T0))
    run = ingest(db, fifo, good, timeout=20)
    assert run.returncode == 1
    assert run.stderr == f"pop3_ipmon_report: cannot read {fifo}: not a regular file, not read\n"
    assert run.stdout == f"{good}: 1 new result(s)\n"
    # The FIFO as the database: refused at once too.
    run = subprocess.run(
        [str(BIN / "pop3_ipmon_report"), "--db", str(fifo), "json", "-o", str(tmp_path / "j")],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (run.returncode, run.stderr) == (1, f"pop3_ipmon_report: {fifo}: not a regular file\n")
    good.write_text(line(T0) + line(T0 + 60))
    assert ingest(db, good, timeout=20).stdout == f"{good}: 1 new result(s)\n"


def test_a_symlinked_perfdata_file_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(line(T0, output="root's secret"))
    link = tmp_path / "service-perfdata.2"
    link.symlink_to(secret)
    run = ingest(tmp_path / "db", link)
    assert run.returncode == 1
    assert run.stderr == f"pop3_ipmon_report: cannot read {link}: a symbolic link, not read\n"
    with sqlite3.connect(tmp_path / "db") as con:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (0,)


def test_a_symlinked_database_is_refused(tmp_path: Path) -> None:
    """Before: root created the link's target, or switched another program's
    SQLite database to WAL for good."""
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    pd = tmp_path / "pd"
    pd.write_text(line(T0))
    link = tmp_path / "stats.sqlite"
    link.symlink_to(other)
    run = ingest(link, pd)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"pop3_ipmon_report: {link}: a symbolic link, refused\n"
    with sqlite3.connect(other) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert con.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
    dangling = tmp_path / "new.sqlite"
    dangling.symlink_to(tmp_path / "created-by-root")
    assert ingest(dangling, pd).returncode == 1
    assert not (tmp_path / "created-by-root").exists()
    render = report("--db", str(link), "html", "-o", str(tmp_path / "r.html"), check=False)
    assert (render.returncode, render.stderr) == (
        1,
        f"pop3_ipmon_report: {link}: a symbolic link, refused\n",
    )


def _db(tmp_path: Path) -> Path:
    pd, db = tmp_path / "pd", tmp_path / "stats.sqlite"
    pd.write_text("".join(line(T0 + 60 * i) for i in range(10)))
    assert ingest(db, pd).returncode == 0
    return db


def test_a_symlinked_page_is_refused(tmp_path: Path) -> None:
    db = _db(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    victim.chmod(0o600)
    page = tmp_path / "index.html"
    page.symlink_to(victim)
    run = report("--db", str(db), "html", "-o", str(page), check=False)
    assert run.returncode == 1
    assert run.stderr == f"pop3_ipmon_report: cannot write {page}: a symbolic link, refused\n"
    assert victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert page.is_symlink()


RACER = textwrap.dedent(
    """\
    import os, sys
    victim, page, stop = sys.argv[1:]
    temp = page + ".racer"
    while not os.path.exists(stop):
        try:
            # The moment a new page has taken the name: a link over it.
            if not os.path.islink(page) and os.path.exists(page):
                os.symlink(victim, temp)
                os.rename(temp, page)
        except OSError:
            pass
    """
)


def test_a_link_renamed_over_the_page_meanwhile_changes_nothing(tmp_path: Path) -> None:
    """Before: the mode was set by name after the rename; a link renamed over
    the page in between made root's 0600 file readable by all."""
    db = _db(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("root's")
    victim.chmod(0o600)
    page, stop = tmp_path / "index.html", tmp_path / "stop"
    racer = subprocess.Popen([sys.executable, "-c", RACER, str(victim), str(page), str(stop)])
    argv = ["--db", str(db), "html", "-o", str(page), "--since", iso(T0), "--until", iso(T0 + 900)]
    try:
        deadline = time.monotonic() + 20
        rounds = 0
        while time.monotonic() < deadline and rounds < 400:
            rounds += 1
            if page.is_symlink():
                page.unlink()  # the racer's last link: the next page takes a free name
            cli.main(argv)
            assert stat.S_IMODE(victim.stat().st_mode) == 0o600, f"round {rounds}"
            assert victim.read_text() == "root's"
    finally:
        stop.touch()
        racer.wait(timeout=20)
    print(f"{rounds} rounds against the racer")


def test_results_from_a_clock_ahead_or_stepped_back_are_kept_apart(tmp_path: Path) -> None:
    """The ingest's clock is an hour after T0 (libfaketime); an engine whose clock
    is a day ahead wrote the last ten lines. Before: they were taken, and the
    report counted a day of OK after the real outage."""
    faketime = find_program("faketime", "faketime")
    pd, db = tmp_path / "pd", tmp_path / "db"
    lines = [
        line(T0 + 60 * i, "CRITICAL" if 20 <= i < 40 else "OK", output="POP3 CRITICAL - refused")
        for i in range(60)
    ]
    lines.insert(50, line(T0 + 60 * 10))  # a clock stepped back: before a line above
    lines += [line(T0 + 86400 + 60 * i) for i in range(10)]
    pd.write_text("".join(lines))
    clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(T0 + 3600))
    run = subprocess.run(
        [faketime, clock, str(BIN / "pop3_ipmon_report"), "--db", str(db), "ingest", str(pd)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TZ": "UTC"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        f"{pd}: 60 new result(s), 10 kept apart (stamped over 300 s ahead of this clock), "
        "1 kept apart (earlier than a line before them)\n"
    )
    data = json_report(db, tmp_path / "r.json", "--since", iso(T0), "--until", iso(T0 + 2 * 86400))
    [service] = data["services"]
    assert service["tests"] == 60
    assert service["observed_seconds"] == 59 * 60
    assert service["outages"] == [
        {"start": iso(T0 + 20 * 60), "end": iso(T0 + 40 * 60), "seconds": 1200}
    ]
    assert service["availability_percent"] == pytest.approx(100 * (1 - 1200 / 3540), abs=1e-3)
