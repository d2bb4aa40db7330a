"""tox -e demo (the README's Quick start): it runs the installed check for real
and leaves nothing behind in the temporary directory unless asked to keep
its report (issue 20: it left a directory in /tmp on every run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run_demo.py"


def run_demo(tmp: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(
        [sys.executable, str(DEMO), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_demo_shows_the_states_and_removes_its_directory(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_demo(tmp)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    assert "\n(exit 0)\n" in proc.stdout and "\n(exit 1)\n" in proc.stdout
    assert "\n(exit 2)\n" in proc.stdout
    assert proc.stdout.endswith(
        "report: removed with the demo's temporary directory; to open it, run\n"
        "        tox -e demo -- --keep DIR  (then DIR/report.html)\n"
    )
    assert list(tmp.iterdir()) == []


def test_demo_keeps_its_report_where_asked(tmp_path: Path) -> None:
    tmp, keep = tmp_path / "tmp", tmp_path / "kept"
    tmp.mkdir()
    proc = run_demo(tmp, "--keep", str(keep))
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    assert proc.stdout.endswith(
        f"report: {keep / 'report.html'} (kept, with its database and perfdata, as --keep asked)\n"
    )
    assert {path.name for path in keep.iterdir()} >= {
        "report.html",
        "report.json",
        "service-perfdata",
        "statistics.sqlite",
    }
    assert list(tmp.iterdir()) == []
