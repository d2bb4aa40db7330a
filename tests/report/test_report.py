"""pop3_ipmon_report without an engine: perfdata lines (hostile ones too),
ingesting once, torn lines, the computations, the formats and the errors."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting.definition import parse_text
from check_pop3_ipmon.alerting.generate import icinga2_config, nagios_config
from check_pop3_ipmon.report import cli, engine_settings
from check_pop3_ipmon.report.availability import Observation, availability
from check_pop3_ipmon.report.percentiles import nearest_rank, summary
from check_pop3_ipmon.report.perfdata import BadLine, parse_line
from tests.support.perfdata_files import BIN, iso, json_report, report

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_796_000_000  # 2026-11-30T...Z
# The template before issue 19: the plugin's perfdata before the engine's state.
OLD_TEMPLATE = (
    f"DATATYPE::SERVICEPERFDATA\tTIMET::{T0}\tHOSTNAME::mail1\tSERVICEDESC::POP3\t"
    "SERVICEPERFDATA::time=1s\tSERVICECHECKCOMMAND::check_pop3_ipmon\tSERVICESTATE::OK\t"
    "SERVICESTATETYPE::HARD\tSERVICEOUTPUT::POP3 OK\n"
)


def line(
    t: int,
    state: str = "OK",
    state_type: str = "HARD",
    *,
    perf: str = "time=0.010000s;0.5;1;0;10 greeting_time=0.009000s;;;0",
    output: str = "POP3 OK - greeting",
    host: str = "mail1",
    service: str = "POP3",
    command: str = "check_pop3_ipmon!-p 110",
    downtime: int = 0,
    host_downtime: int = 0,
) -> str:
    """A line as the templates of engine_settings write it."""
    return (
        f"DATATYPE::SERVICEPERFDATA\tTIMET::{t}\tHOSTNAME::{host}\tSERVICEDESC::{service}\t"
        f"SERVICECHECKCOMMAND::{command}\tSERVICESTATE::{state}\t"
        f"SERVICESTATETYPE::{state_type}\tSERVICEDOWNTIME::{downtime}\t"
        f"HOSTDOWNTIME::{host_downtime}\tSERVICEPERFDATA::{perf}\tSERVICEOUTPUT::{output}\n"
    )


# ------------------------------------------------------------------ one line


def test_line_with_every_phase_and_thresholds() -> None:
    perf = (
        "connect_time=0.000182s;;;0 greeting_time=0.005497s;;;0 quit_time=0.000165s;;;0 "
        "resolve_time=0.000021s;;;0 time=0.006135s;0.2;2;0;10 tls_time=1.5e-3s;;;0"
    )
    result = parse_line(line(T0, perf=perf).encode())
    assert result is not None
    assert (result.timet, result.host, result.service, result.state, result.hard) == (
        T0,
        "mail1",
        "POP3",
        0,
        True,
    )
    assert result.phases == {
        "connect_time": 0.000182,
        "greeting_time": 0.005497,
        "quit_time": 0.000165,
        "resolve_time": 0.000021,
        "time": 0.006135,
        "tls_time": 0.0015,
    }
    assert (result.warn, result.crit, result.bad_items) == ("0.2", "2", 0)


def test_pipe_and_tab_in_output_stay_output() -> None:
    result = parse_line(line(T0, "CRITICAL", output="POP3 CRITICAL - x | y=1\tmore").encode())
    assert result is not None
    assert result.output == "POP3 CRITICAL - x | y=1\tmore"
    assert result.phases["time"] == 0.01 and not result.extra


def test_nothing_in_output_or_perfdata_is_a_field() -> None:
    """Issue 19, item 3: a plugin printing the engine's fields changes nothing."""
    forged = "\tSERVICESTATE::OK\tHOSTNAME::mail1\tSERVICEDESC::POP3\tTIMET::1"
    result = parse_line(
        line(
            T0,
            "CRITICAL",
            "SOFT",
            host="h",
            service="disk",
            command="check_disk",
            output="x" + forged,
        ).encode()
    )
    assert result is not None
    assert (result.host, result.service, result.state, result.command) == (
        "h",
        "disk",
        2,
        "check_disk",
    )
    assert result.output == "x" + forged
    # In the perfdata: the state and names stay the engine's; the perfdata up to
    # the marker is read, what follows is the output.
    result = parse_line(
        line(T0, "CRITICAL", perf="time=1s" + forged + "\tSERVICEOUTPUT::y", output="real").encode()
    )
    assert result is not None
    assert (result.host, result.state, result.timet) == ("mail1", 2, T0)
    assert result.phases == {"time": 1.0}
    assert result.bad_items == 4  # the forged fields: unreadable items, nothing more
    assert result.output == "y\tSERVICEOUTPUT::real"


def test_downtime_depth_and_extra_fields_for_graphing_tools() -> None:
    result = parse_line(line(T0, host_downtime=1).encode())
    assert result is not None and result.downtime
    result = parse_line(line(T0, downtime=2).encode())
    assert result is not None and result.downtime
    result = parse_line(line(T0).encode())
    assert result is not None and not result.downtime and result.command == "check_pop3_ipmon"
    # Graphios' and PNP4Nagios' fields between the engine's and the perfdata.
    extra = line(T0).replace(
        "\tSERVICEPERFDATA::", "\tGRAPHITEPREFIX::mail\tHOSTSTATE::UP\tSERVICEPERFDATA::"
    )
    result = parse_line(extra.encode())
    assert result is not None and result.phases["time"] == 0.01


def test_unknown_and_per_address_labels_and_units() -> None:
    perf = (
        "'127.0.0.1_time'=0.02s;;;0;10 '::1_greeting_time'=3ms;;;0 cert_days=88.5 "
        "messages=3;;;0 'odd label'=1 time=250ms;;;0 ip4_127_0_0_2_time=4ms;;;0;10 "
        "ip6_0_0_0_0_0_0_0_1_connect_time=500us;;;0"
    )
    result = parse_line(line(T0, perf=perf).encode())
    assert result is not None
    assert result.phases == {"time": 0.25}
    assert result.extra == {
        "127.0.0.1_time": 0.02,
        "::1_greeting_time": 0.003,
        "ip4_127_0_0_2_time": 0.004,
        "ip6_0_0_0_0_0_0_0_1_connect_time": 0.0005,
        "cert_days": 88.5,
        "messages": 3.0,
        "odd label": 1.0,
    }


@pytest.mark.parametrize(
    "perf",
    [
        "time=abc greeting_time=0.1s",  # not a number
        "time=1e400s greeting_time=0.1s",  # overflows to inf
        "time=-1s greeting_time=0.1s",  # negative time
        "time=99999999s greeting_time=0.1s",  # no POP3 test takes a year
        "time=5parsecs greeting_time=0.1s",  # not a time unit
        "=1 greeting_time=0.1s",  # no label
    ],
)
def test_bad_items_are_left_out_and_counted(perf: str) -> None:
    result = parse_line(line(T0, perf=perf).encode())
    assert result is not None
    assert result.phases == {"greeting_time": 0.1}
    assert result.bad_items == 1


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"garbage without fields\n", "not a perfdata line"),
        (b"TIMET::1\tHOSTNAME::h\n", "not a perfdata line"),
        (b"DATATYPE::SERVICEPERFDATA\tTIMET::1\n", "2 fields, not the template's 11"),
        (line(T0).replace("SERVICESTATE::", "STATE::").encode(), "field 6 is not SERVICESTATE::"),
        (line(T0).replace("\tSERVICEOUTPUT::", "\tOUTPUT::").encode(), "no SERVICEOUTPUT field"),
        (line(T0, downtime="x").encode(), "downtime depth is not a number"),  # type: ignore[arg-type]
        (OLD_TEMPLATE.encode(), "an older template"),
        (line(T0).replace("TIMET::", "TIMET::x").encode(), "TIMET is not a time"),
        (line(T0).replace(f"TIMET::{T0}", "TIMET::1e30").encode(), "TIMET out of range"),
        (line(T0, state="BROKEN").encode(), "unknown service state"),
        (line(T0, state_type="MAYBE").encode(), "unknown state type"),
        (line(T0).replace("HOSTNAME::mail1", "HOSTNAME::").encode(), "no HOSTNAME field"),
    ],
)
def test_bad_lines(raw: bytes, why: str) -> None:
    with pytest.raises(BadLine, match=why):
        parse_line(raw)


def test_other_lines_and_bytes() -> None:
    assert parse_line(b"DATATYPE::HOSTPERFDATA\tTIMET::1\tHOSTNAME::h\n") is None
    assert parse_line(b"\n") is None
    result = parse_line(line(T0, "2", "0", output="bad \xff bytes").encode("latin-1"))
    assert result is not None and (result.state, result.hard) == (2, False)
    assert "\ufffd" in result.output


# ---------------------------------------------------------------- ingesting


def ingest(db: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return report("--db", str(db), "ingest", *map(str, files), check=False)


def test_ingest_once_torn_line_waits_bad_lines_counted(tmp_path: Path) -> None:
    db, pd = tmp_path / "db", tmp_path / "perfdata"
    good = "".join(line(T0 + 60 * i) for i in range(5))
    torn = line(T0 + 300)
    pd.write_text(good + "DATATYPE::SERVICEPERFDATA\tTIMET::soon\n" + torn[:40])
    run = ingest(db, pd)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        f"{pd}: 5 new result(s), 1 bad line(s), an unfinished last line left for the next run\n"
    )
    assert "2 fields, not the template's 11" in run.stderr
    again = ingest(db, pd)
    assert again.stdout == f"{pd}: 0 new result(s), an unfinished last line left for the next run\n"
    # The engine finishes the line; the file is rotated (renamed): only that line is new.
    pd.write_text(good + "DATATYPE::SERVICEPERFDATA\tTIMET::soon\n" + torn)
    rotated = pd.rename(tmp_path / "perfdata.1796000400")
    assert ingest(db, rotated).stdout == f"{rotated}: 1 new result(s)\n"
    assert ingest(db, rotated).stdout == f"{rotated}: nothing new (ingested before)\n"
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (6,)
        assert con.execute("SELECT results, bad_lines FROM files").fetchone() == (6, 1)


def test_a_line_is_one_result_other_commands_ignored(tmp_path: Path) -> None:
    """Icinga 2's template escapes the output's newlines (engine_settings), so a
    line that does not start as a result is bad, never part of one; results of
    other check commands are counted, not stored (issue 19, items 1 and 3)."""
    db, pd = tmp_path / "db", tmp_path / "perfdata"
    pd.write_text(
        line(T0, output="POP3 OK - greeting\\naddress: 127.0.0.1")
        + "connect: 0.1 ms | not perfdata\n"
        + line(T0 + 60, host="h", service="disk /", command="check_disk!10%")
        + line(T0 + 60, command="pop3_ipmon")
        + line(T0 + 60, service="POP3 (site)", command="site_pop3")
    )
    run = ingest(db, pd)
    assert run.stdout == (
        f"{pd}: 2 new result(s), 1 bad line(s), "
        "2 result(s) of 2 service(s) with other check commands ignored\n"
    )
    assert "not a perfdata line" in run.stderr
    pd.write_text(line(T0 + 120, service="POP3 (site)", command="site_pop3"))
    run = report("--db", str(db), "ingest", "--check-command", "site_pop3", str(pd), check=False)
    assert run.stdout == f"{pd}: 1 new result(s)\n"
    with sqlite3.connect(db) as con:
        assert sorted(con.execute("SELECT host, service FROM services")) == [
            ("mail1", "POP3"),
            ("mail1", "POP3 (site)"),
        ]


def test_huge_file_and_overlong_line(tmp_path: Path) -> None:
    """A 4 MB line of garbage and 100,000 results: counted, memory stays small."""
    db, pd = tmp_path / "db", tmp_path / "perfdata"
    with open(pd, "w") as out:
        out.write(line(T0))
        out.write("x" * 4_000_000 + "\n")
        for i in range(1, 100_000):
            out.write(line(T0 + i))
    peak = tmp_path / "peak"
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            str(ROOT / "tests" / "support" / "maxrss.py"),
            str(peak),
            str(BIN / "pop3_ipmon_report"),
            "--db",
            str(db),
            "ingest",
            str(pd),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{pd}: 100000 new result(s), 1 bad line(s)\n"
    assert "line too long" in run.stderr
    assert int(peak.read_text()) < 80_000  # KiB: the file is never read whole


def test_two_ingests_at_once_take_turns(tmp_path: Path) -> None:
    """Overlapping cron runs on the same files: every result once."""
    db = tmp_path / "db"
    files = []
    for number in range(3):
        path = tmp_path / f"perfdata.{number}"
        path.write_text(
            # Times in the past: none is ahead of the ingest's clock.
            "".join(
                line(T0 - 60 * 30_000 + 60 * i, host=f"h{i % 7}") for i in range(number, 30_000, 3)
            )
        )
        files.append(str(path))
    argv = [str(BIN / "pop3_ipmon_report"), "--db", str(db), "ingest"]
    runs = [
        subprocess.Popen([*argv, *order], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for order in (files, files[::-1])
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (30_000,)
        assert con.execute("SELECT sum(results) FROM files").fetchone() == (30_000,)
        assert con.execute("SELECT count(*) FROM services").fetchone() == (7,)


def test_unreadable_file_and_bad_database(tmp_path: Path) -> None:
    pd = tmp_path / "perfdata"
    pd.write_text(line(T0))
    run = ingest(tmp_path / "db", tmp_path, pd)
    assert run.returncode == 1
    assert run.stderr == (
        f"pop3_ipmon_report: cannot read {tmp_path}: not a regular file, not read\n"
    )
    assert run.stdout == f"{pd}: 1 new result(s)\n"
    notdb = tmp_path / "not.db"
    notdb.write_text("hello, not SQLite " * 100)
    run = ingest(notdb, pd)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"pop3_ipmon_report: {notdb}: file is not a database\n"
    run = report("--db", str(tmp_path / "none.db"), "json", "-o", "x.json", check=False)
    assert run.returncode == 1
    assert run.stderr.endswith("none.db: no such database (ingest perfdata into it first)\n")
    run = report(
        "--db", str(tmp_path / "db"), "html", "-o", str(tmp_path / "no/x.html"), check=False
    )
    assert (run.returncode, run.stderr.count("\n")) == (1, 1)
    assert run.stderr.startswith(f"pop3_ipmon_report: cannot write {tmp_path / 'no/x.html'}:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["json", "-o", "x", "--since", "yesterday"], "not an ISO 8601 time: 'yesterday'"),
        (["json", "-o", "x", "--service", "nohost"], "expected HOST!SERVICE, not 'nohost'"),
        (["json", "-o", "x", "--since", "2026-12-02", "--until", "2026-12-01"], "--since must be"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    pd = tmp_path / "pd"
    pd.write_text(line(T0))
    ingest(tmp_path / "db", pd)
    run = report("--db", str(tmp_path / "db"), *args, check=False)
    assert run.returncode in (1, 2)
    assert message in run.stderr and run.stderr.count("\n") == 1, run.stderr


def test_progress_after_one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.5, 101.2, 101.4, 102.3])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    progress = cli.Progress(out, 2)
    progress.file(1, 1000)
    progress(100)  # 0.5 s: silent
    progress(400)  # 1.2 s: a line
    progress(500)  # 0.2 s after the last line: silent
    progress(1000)  # 1.1 s after it: a line
    assert out.getvalue().splitlines() == [
        "pop3_ipmon_report: file 1/2: 40% (0.0 MB/s, 1s)",
        "pop3_ipmon_report: file 1/2: 100% (0.0 MB/s, 2s)",
    ]


# ---------------------------------------------------------------- figures


def timeline(states: str, start: int = T0, step: int = 60) -> list[Observation]:
    """'.' OK, 's' SOFT failure, 'H' HARD failure, 'w' HARD WARNING, 'm' OK and
    'M' HARD failure in downtime: one test every `step` s."""
    codes = {".": 0, "s": 2, "H": 2, "w": 1, "m": 0, "M": 2}
    return [
        Observation(start + i * step, codes[c], c != "s", c in "mM") for i, c in enumerate(states)
    ]


def test_downtime_is_maintenance_and_warning_degraded() -> None:
    """Issue 19, item 2: an outage in downtime is not counted, WARNING is up."""
    tests = timeline("...HHMMMMH..www....")  # 19 tests, 1080 s
    down = availability(tests, T0, T0 + 3600, hard_only=True)
    assert down.maintenance_seconds == 240
    assert down.observed_seconds == 1080 - 240
    assert [(o.start - T0, o.end - T0) for o in down.outages] == [(180, 300), (540, 600)]
    assert down.percent == pytest.approx(100 * (1 - 180 / 840), abs=1e-4)
    assert down.degraded_seconds == 180
    assert down.degraded_percent == pytest.approx(100 * 180 / 840, abs=1e-4)
    strict = availability(tests, T0, T0 + 3600, hard_only=True, warning_is_down=True)
    assert [(o.start - T0, o.end - T0) for o in strict.outages][-1] == (720, 900)
    assert strict.percent == pytest.approx(100 * (1 - 360 / 840), abs=1e-4)
    assert strict.degraded_seconds == 0


def test_availability_hard_and_first_failure() -> None:
    tests = timeline("....ssHHH.....ss.....")  # 21 tests, 1200 s observed
    down = availability(tests, T0, T0 + 3600, hard_only=True)
    first = availability(tests, T0, T0 + 3600, hard_only=False)
    assert down.observed_seconds == 1200
    assert [(o.start - T0, o.end - T0, o.seconds) for o in down.outages] == [(360, 540, 180)]
    assert [(o.start - T0, o.end - T0) for o in first.outages] == [(240, 540), (840, 960)]
    assert down.percent == pytest.approx(100 * (1 - 180 / 1200), abs=1e-4)
    assert first.percent == pytest.approx(100 * (1 - 420 / 1200), abs=1e-4)
    assert (down.mttr_seconds, down.mtbf_seconds) == (180, 1020)
    assert (first.mttr_seconds, first.mtbf_seconds) == (210, 390)


def test_outage_carried_into_the_window_and_still_going() -> None:
    tests = timeline("HH...HH", start=T0 + 60)
    before = Observation(T0 - 30, 2, True)
    down = availability(tests, T0, T0 + 3600, hard_only=True, before=before)
    assert [(o.start - T0, None if o.end is None else o.end - T0) for o in down.outages] == [
        (0, 180),
        (360, None),
    ]
    assert down.outages[1].seconds == 60  # up to the last test
    assert down.mtbf_seconds == (420 - 240) / 1  # only the outage that began in the window
    assert availability([], T0, T0 + 60, True).percent is None


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert summary(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert nearest_rank([3.0], 99) == 3.0
    assert summary([0.3, 0.1, 0.2]) == {"p50": 0.2, "p95": 0.3, "p99": 0.3}


# ---------------------------------------------------------------- formats


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two services over two days: one with an outage and per-address figures,
    the first day in an earlier version's labels ('192.0.2.1_time', 20 ms), the
    second in today's (ip4_192_0_2_1_time, 10 ms)."""
    pd = tmp_path / "perfdata"
    with open(pd, "w") as out:
        for i in range(48 * 60 // 5):
            t = T0 + i * 300
            failing = 100 <= i < 110
            state = "CRITICAL" if failing else "OK"
            kind = "SOFT" if i in (100, 101) else "HARD"
            perf = (
                "time=0.000400s;;;0;10"
                if failing
                else f"time={0.01 + (i % 10) / 1000:.6f}s;0.5;1;0;10 greeting_time=0.008s "
                + ("'192.0.2.1_time'=0.02s" if i < 288 else "ip4_192_0_2_1_time=0.01s")
                + " '=evil'=1"
            )
            out.write(line(t, state, kind, perf=perf, output="POP3 CRITICAL - <b>refused</b>"))
            out.write(line(t, host="=cmd|' /C calc'!A0", service="<script>x</script>"))
    database = tmp_path / "db"
    assert ingest(database, pd).returncode == 0
    return database


def test_json_shape(db: Path, tmp_path: Path) -> None:
    data = json_report(db, tmp_path / "r.json", "--since", iso(T0), "--until", iso(T0 + 2 * 86400))
    assert [(s["host"], s["service"]) for s in data["services"]] == [
        ("=cmd|' /C calc'!A0", "<script>x</script>"),
        ("mail1", "POP3"),
    ]
    mail = data["services"][1]
    assert mail["outages"] == [
        {"start": iso(T0 + 102 * 300), "end": iso(T0 + 110 * 300), "seconds": 2400}
    ]
    assert mail["outages_from_first_failure"][0]["start"] == iso(T0 + 100 * 300)
    assert mail["availability_percent"] == pytest.approx(100 * (1 - 2400 / (575 * 300)), abs=1e-4)
    assert mail["availability_from_first_failure_percent"] == pytest.approx(
        100 * (1 - 3000 / (575 * 300)), abs=1e-4
    )
    assert mail["phases"]["time"] == {"p50": 0.014, "p95": 0.019, "p99": 0.019}
    assert mail["phases"]["greeting_time"] == {"p50": 0.008, "p95": 0.008, "p99": 0.008}
    assert set(mail["phases_per_day"]) == {"2026-11-30", "2026-12-01", "2026-12-02"}
    # One address from both label forms: 288 results of 10 ms, 278 of 20 ms.
    assert mail["addresses"] == {"192.0.2.1": {"time": {"p50": 0.01, "p95": 0.02, "p99": 0.02}}}
    only = json_report(db, tmp_path / "o.json", "--service", "mail1!POP3", "--since", iso(T0))
    assert [s["service"] for s in only["services"]] == ["POP3"]


def test_csv_and_html_escape_hostile_names(db: Path, tmp_path: Path) -> None:
    report("--db", str(db), "csv", "-o", str(tmp_path / "r.csv"), "--since", iso(T0))
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert {row["host"] for row in rows} == {"'=cmd|' /C calc'!A0", "mail1"}
    assert [row["record"] for row in rows if row["host"] == "mail1"][:3] == [
        "service",
        "outage",
        "outage_first_failure",
    ]
    # --until: the recent-tests list covers the 24 h before it, and the outage
    # must be in that list whatever day the test runs.
    until = iso(T0 + 24 * 3600)
    report(
        "--db",
        str(db),
        "html",
        "-o",
        str(tmp_path / "r.html"),
        "--since",
        iso(T0),
        "--until",
        until,
    )
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;refused&lt;/b&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("<svg") == 2
    assert oct(os.stat(tmp_path / "r.html").st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- engine settings


def test_contrib_files_hold_the_generated_settings() -> None:
    nagios = (ROOT / "contrib" / "nagios" / "pop3_ipmon_perfdata.cfg").read_text()
    for setting in engine_settings.nagios_main():
        assert f"#   {setting}\n" in nagios
    assert "\n".join(engine_settings.nagios_command()) in nagios
    icinga = (ROOT / "contrib" / "icinga2" / "pop3_ipmon_perfdata.conf").read_text()
    assert "\n".join(engine_settings.icinga2_writer()) in icinga
    assert "service_perfdata_file_template=DATATYPE::SERVICEPERFDATA\\tTIMET::$TIMET$" in nagios


def test_generator_points_at_the_one_writer() -> None:
    """Issue 19, item 5: one PerfdataWriter a site, in pop3_ipmon_perfdata.conf;
    the generated files (there may be several) only point at it."""
    definition = "[POP3]\nname = n\nhost = h\nstore_statistics = {}\n"
    on, off = (parse_text(definition.format(flag)) for flag in ("yes", "no"))
    assert "object PerfdataWriter" not in icinga2_config(on)
    assert "include contrib/icinga2/pop3_ipmon_perfdata.conf once" in icinga2_config(on)
    assert "pop3_ipmon_perfdata.conf" not in icinga2_config(off)
    assert "#   service_perfdata_file_processing_command=pop3-ipmon-process-perfdata" in (
        nagios_config(on)
    )
    assert "service_perfdata_file" not in nagios_config(off)
    assert json.dumps(engine_settings.ICINGA2_TEMPLATE)  # a plain string for the DSL


SCHEMA_1 = """
CREATE TABLE services (id INTEGER PRIMARY KEY, host TEXT NOT NULL, service TEXT NOT NULL,
    UNIQUE (host, service));
CREATE TABLE results (service_id INTEGER NOT NULL REFERENCES services(id), t INTEGER NOT NULL,
    seq INTEGER NOT NULL, state INTEGER NOT NULL, hard INTEGER NOT NULL, "time" INTEGER,
    resolve_time INTEGER, connect_time INTEGER, tls_time INTEGER, stls_time INTEGER,
    greeting_time INTEGER, capa_time INTEGER, login_time INTEGER, stat_time INTEGER,
    quit_time INTEGER, warn TEXT, crit TEXT, extra TEXT, output TEXT,
    PRIMARY KEY (service_id, t, seq)) WITHOUT ROWID;
CREATE TABLE files (fingerprint TEXT PRIMARY KEY, path TEXT NOT NULL, offset INTEGER NOT NULL,
    results INTEGER NOT NULL, bad_lines INTEGER NOT NULL, ingested_at INTEGER NOT NULL);
INSERT INTO services VALUES (1, 'mail1', 'POP3');
INSERT INTO results (service_id, t, seq, state, hard, "time") VALUES (1, 1795999940, 1, 0, 1, 9000);
PRAGMA user_version = 1;
"""


def test_schema_1_is_upgraded_by_ingest_and_unknown_ones_refused(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(SCHEMA_1)
    run = report("--db", str(db), "json", "-o", str(tmp_path / "r.json"), check=False)
    assert (run.returncode, run.stderr) == (
        1,
        f"pop3_ipmon_report: {db}: an older database (schema 1): ingest once to upgrade it\n",
    )
    pd = tmp_path / "pd"
    pd.write_text(line(T0, downtime=1) + line(T0 + 60))
    assert ingest(db, pd).stdout == f"{pd}: 2 new result(s)\n"
    data = json_report(db, tmp_path / "r.json", "--since", iso(T0 - 60), "--until", iso(T0 + 60))
    [service] = data["services"]
    assert service["tests"] == 3  # the one from schema 1 kept
    assert service["maintenance_seconds"] == 60
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (2,)
        con.execute("PRAGMA user_version = 7")
    for argv in (["ingest", str(pd)], ["json", "-o", str(tmp_path / "r.json")]):
        run = report("--db", str(db), *argv, check=False)
        assert (run.returncode, run.stderr) == (
            1,
            f"pop3_ipmon_report: {db}: not a pop3_ipmon_report database (user_version 7)\n",
        )


def test_page_for_a_manager(db: Path, tmp_path: Path) -> None:
    """Issue 19, item 6: a headline against --target, plain names, days and
    times in --timezone, only the failed checks listed."""
    page = tmp_path / "r.html"
    window = ["--since", iso(T0), "--until", iso(T0 + 24 * 3600)]
    report(
        "--db",
        str(db),
        "html",
        "-o",
        str(page),
        "--target",
        "99.9",
        *window,
        "--timezone",
        "Europe/Berlin",
    )
    text = page.read_text()
    overall = 100 * (1 - 2400 / (2 * 86400))  # one outage over both services' day
    assert f'<p class="headline">Availability {overall:.3f} %' in text
    assert "(target 99.9 %: missed)" in text
    assert "1 of 2 service(s) met the target; below it: " in text
    assert "<th>Mean time to recover</th>" in text and "MTTR" not in text
    # 08:30 UTC is 09:30 in Berlin (UTC+1 in December).
    start = T0 + 102 * 300
    berlin = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 3600))
    assert f"<td>{berlin}</td>" in text
    assert "(Europe/Berlin)" in text
    # Ten failed checks, each one row; no passing check listed.
    assert "failed checks in the last 24 hours: 10</summary>" in text
    assert text.count('<tr class="s2">') == 10 and 'class="s0"' not in text
    run = report("--db", str(db), "html", "-o", str(page), "--timezone", "Mars/Base", check=False)
    assert run.returncode == 2 and "unknown time zone 'Mars/Base'" in run.stderr
