"""`pop3_ipmon_report spool`, Nagios' one perfdata processing command shared
with the site's graphing tool (issue 19, item 5): the report's copy, then the
file handed on, unchanged and once, even when the copy cannot be made.
test_engines.py runs it from a real Nagios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.report.test_report import T0, line
from tests.support.perfdata_files import BIN

DATA = "".join(line(T0 + 60 * i) for i in range(3)).encode()


def spool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pop3_ipmon_report"), "spool", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    live, ours, theirs = tmp_path / "service-perfdata", tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    live.write_bytes(DATA)
    return live, ours, theirs


def test_copy_then_move_into_the_tools_spool(tmp_path: Path) -> None:
    live, ours, theirs = dirs(tmp_path)
    inode = live.stat().st_ino
    run = spool(str(live), "--into", str(ours), "--to", str(theirs))
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    [copy] = ours.iterdir()
    [handed] = theirs.iterdir()
    assert copy.name.startswith("service-perfdata.") and copy.read_bytes() == DATA
    assert handed.read_bytes() == DATA and handed.stat().st_ino == inode  # the file itself
    assert not live.exists()
    # The next minute's file, in the same second: its own names, nothing replaced.
    live.write_bytes(DATA + DATA)
    assert spool(str(live), "--into", str(ours), "--to", str(theirs)).returncode == 0
    assert sorted(p.read_bytes() for p in ours.iterdir()) == [DATA, DATA + DATA]
    assert sorted(p.read_bytes() for p in theirs.iterdir()) == [DATA, DATA + DATA]


def test_the_tool_gets_the_file_when_the_copy_fails(tmp_path: Path) -> None:
    live, _, theirs = dirs(tmp_path)
    missing = tmp_path / "no-such-dir"
    run = spool(str(live), "--into", str(missing), "--to", str(theirs))
    assert run.returncode == 1
    assert run.stderr.startswith(f"pop3_ipmon_report: spool: cannot copy {live} into {missing}: ")
    [handed] = theirs.iterdir()
    assert handed.read_bytes() == DATA


def test_a_command_gets_the_file(tmp_path: Path) -> None:
    live, ours, theirs = dirs(tmp_path)
    got = theirs / "got"
    copy = f"import shutil, sys, os; shutil.copy(sys.argv[1], {str(got)!r}); os.unlink(sys.argv[1])"
    run = spool(str(live), "--into", str(ours), "--", sys.executable, "-c", copy, "{}")
    assert (run.returncode, run.stderr) == (0, "")
    assert got.read_bytes() == DATA and not live.exists()
    live.write_bytes(DATA)
    run = spool(str(live), "--into", str(ours), "--", sys.executable, "-c", "raise SystemExit(3)")
    assert run.returncode == 1
    assert run.stderr == f"pop3_ipmon_report: spool: {sys.executable} exited 3\n"


def test_alone_it_removes_the_file_unless_the_copy_failed(tmp_path: Path) -> None:
    live, ours, _ = dirs(tmp_path)
    assert spool(str(live), "--into", str(tmp_path / "nowhere")).returncode == 1
    assert live.read_bytes() == DATA  # kept: Nagios appends, the next run copies it all
    assert spool(str(live), "--into", str(ours)).returncode == 0
    assert not live.exists() and [p.read_bytes() for p in ours.iterdir()] == [DATA]


def test_usage_errors(tmp_path: Path) -> None:
    live, ours, theirs = dirs(tmp_path)
    run = spool(str(live), "--into", str(ours), "--to", str(theirs), "--", "/bin/true")
    assert (run.returncode, run.stderr) == (
        2,
        "pop3_ipmon_report: error: spool: --to or a command, not both\n",
    )
    run = spool(str(live), "--into", str(ours), "--")
    assert run.returncode == 2 and "a command after --" in run.stderr
    assert live.read_bytes() == DATA
