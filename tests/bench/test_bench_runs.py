"""Every bench env's program, run the way tox runs it, in a short mode: the
benchmarks cannot rot between the runs someone makes for the figures
(issue 20: `tox -e bench` had stopped in its capacity section, the Icinga 2
harness lacking PluginDir, and nothing noticed). Only that each runs to the
end and prints its table is asserted, never a figure: figures are the
benchmarks' business (bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.integration import find_program, require_root

pytestmark = pytest.mark.engines

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(*argv: str) -> str:
    # Generous: a machine shared with other test runs.
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc.stdout


def test_bench_runs_every_section_with_icinga2_capacity() -> None:
    require_root("Icinga 2 in the capacity section")
    find_program("icinga2", "icinga2-bin")
    find_program("dovecot", "dovecot-pop3d")
    out = run_bench(
        str(BENCH / "bench.py"),
        "--quick",
        "--reps",
        "4",
        "--engine-seconds",
        "3",
        "--services",
        "2",
    )
    assert "\n3. Capacity in Icinga 2 (2 services per command" in out, out
    capacity = out.split("\n3. Capacity in Icinga 2", 1)[1].split("\n\n", 1)[0]
    assert "no check results" not in capacity, capacity
    assert " check_pop3_ipmon" in capacity, capacity
    assert out.rstrip().splitlines()[-1].startswith("ran "), out


def test_bench_report_runs_and_prints_its_figures() -> None:
    out = run_bench(str(BENCH / "report_scale.py"), "--quick")
    assert "2 days x 1440 tests x 10 services, one file a day\n" in out, out
    assert "render html  month, one service: " in out, out


def test_bench_alerting_runs_its_mass_outage_in_nagios() -> None:
    require_root("Nagios 4 in the mass outage")
    find_program("nagios4", "nagios4-core")
    find_program("icinga2", "icinga2-bin")  # its Icinga 2 part (bench/alerting_icinga2.py)
    out = run_bench(str(BENCH / "alerting_scale.py"), "--quick")
    assert "handler cost per failure (5 failures of one service, Nagios path):\n" in out, out
    assert "alert 1 (PROBLEM 1): 20/20" in out, out
    assert "  handler runs logged: " in out, out
    # Issue 18, item 6: the three setups side by side, then the outage under load.
    table = out.split("cost per result: CPU ms per service per check interval", 1)[1]
    for row in ("check_pop3_ipmon, plain Nagios", "check_pop3_ipmon, ipMonitor's alerting"):
        assert f"\n  {row} " in table, table
    assert "the ocsp_command alone: steady state " in table, table
    assert "handler runs logged: 5 of 5 failures" in table, table
    assert "\nunder load: " in out and out.count("alert 1 (PROBLEM 1): 20/20") == 2, out
    assert "Icinga 2, engine CPU per check result (10 services each, " in out, out
    assert "  plain check_pop (ITL pop) " in out, out
    assert "Icinga 2 mass outage, one node: 20 services, F=1, M=2, Down 10 s, " in out, out
    assert "  PROBLEM 1: 20/20 sent, " in out, out
    assert "  PROBLEM past alert 2 (Lost must stop them): " in out, out
