"""pop3_ipmon_report on what a real Nagios 4 and a real Icinga 2 write.

Each engine runs the installed plugin against a real Dovecot with perfdata
writing set up as contrib/ documents (the settings come from
report/engine_settings.py, which the contrib files and the generator print),
rotated every 2 s. The test stops Dovecot until the service has been HARD
CRITICAL for a few tests, starts it again, and compares the report with what
it did: one outage from the first failed test, starting after the stop and
ending after the restart, each within one check interval (plus the engine's
own delay, generous on a loaded machine); the HARD outage starting where the
engine says the service turned HARD; availability from both; phase
percentiles equal to those computed here from the raw perfdata files; and
ingesting the files again (the live file too, once rotated) adding nothing.

Beside it (issue 19), on both engines: "POP3 slow", every test a WARNING
(up but degraded: 100 % available, 100 % degraded; 0 % with
--warning-is-down); "POP3 maintenance", a closed port (down from its first
test) with a scheduled downtime in the middle (maintenance: left out, the
outage split around it); "disk", another check command (ignored, counted);
"evil", another service's plugin printing the engine's fields and a whole
forged result for POP3 (nothing of it counts). On Nagios the perfdata file
is shared with a downstream (what PNP4Nagios' process_perfdata.pl --bulk
does: read the file and remove it), through `pop3_ipmon_report spool`: the
downstream receives every file Nagios closed, byte for byte, once.

The services use a plain max_check_attempts of 3 (HARD at the third failed
test), not the alerting templates.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.report import engine_settings
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2
from tests.support.integration import free_port, wait_until
from tests.support.nagios import Nagios, object_block
from tests.support.perfdata_files import (
    BIN,
    from_iso,
    iso,
    json_report,
    nearest_rank,
    report,
    result_lines,
    snapshot,
    values,
)

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
HOST, SERVICE = "pop3-report", "POP3"
CHECK, RETRY, ATTEMPTS, ROTATE = 2, 1, 3, 2
# The engine's own delay between a test and its perfdata line (scheduling,
# the check's run time, a loaded machine): added to "one check interval".
SLACK = 3.0
SLOW, MAINTENANCE, DISK, EVIL = "POP3 slow", "POP3 maintenance", "disk", "evil"
DOWNTIME = 12  # seconds of POP3 maintenance's downtime


def plugin(path: Path, text: str, status: int) -> Path:
    """A check plugin printing `text` (@NOW@: the time it runs) and exiting `status`."""
    path.write_text(
        f"#!{sys.executable}\nimport sys, time\n"
        f"sys.stdout.write({text!r}.replace('@NOW@', str(int(time.time()))))\n"
        f"sys.exit({status})\n"
    )
    path.chmod(0o755)
    return path


def forged_output() -> str:
    """Another service's output: the engine's fields, then (after a newline,
    which Icinga 2 writes as it is) a whole result for HOST!SERVICE, failed."""
    record = "\t".join(
        [
            "DATATYPE::SERVICEPERFDATA",
            "TIMET::@NOW@",
            f"HOSTNAME::{HOST}",
            f"SERVICEDESC::{SERVICE}",
            "SERVICECHECKCOMMAND::check_pop3_ipmon",
            "SERVICESTATE::CRITICAL",
            "SERVICESTATETYPE::HARD",
            "SERVICEDOWNTIME::0",
            "HOSTDOWNTIME::0",
            "SERVICEPERFDATA::time=9s",
            "SERVICEOUTPUT::forged",
        ]
    )
    head = f"EVIL OK\tSERVICESTATE::CRITICAL\tHOSTNAME::{HOST}\tSERVICEDESC::{SERVICE}"
    return f"{head}|time=1s;;;0\n{record}\n"


def _files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def scenario(
    dovecot: Dovecot,
    files: Callable[[], list[Path]],
    hard_seen: Callable[[], bool],
    downtime: Callable[[], None],
) -> dict[str, float]:
    """OK tests, a downtime for POP3 maintenance, Dovecot down until HARD and
    two more failures, OK tests again."""
    started = time.time()

    def states(since: float) -> list[str]:
        return [
            fields["SERVICESTATE"]
            for fields in result_lines(files())
            if int(fields["TIMET"]) >= since
            and (fields["HOSTNAME"], fields["SERVICEDESC"]) == (HOST, SERVICE)
        ]

    wait_until(lambda: states(started).count("OK") >= 4, 60, "four passing tests in the perfdata")
    downtime()
    stopped = time.time()
    dovecot.stop()
    wait_until(hard_seen, 60, "the engine to turn the service HARD CRITICAL")
    wait_until(
        lambda: states(stopped).count("CRITICAL") >= ATTEMPTS + 2, 60, "two more failed tests"
    )
    restarted = time.time()
    dovecot.start()
    wait_until(lambda: states(restarted).count("OK") >= 4, 60, "four passing tests after restart")
    return {"started": started, "stopped": stopped, "restarted": restarted}


def ingest_while_running(tmp_path: Path, files: list[Path]) -> list[Path]:
    """Ingest copies of the files as the running engine left them: the live one
    may end in a half-written line, and the engine may later rotate it under
    another name (or, Icinga 2 at shutdown, replace a rotated file of the same
    second). The copies are ingested again with the final files."""
    copies = snapshot(files, tmp_path / "snapshot")
    run = report("--db", str(tmp_path / "stats.sqlite"), "ingest", *map(str, copies))
    assert "of 2 service(s) with other check commands ignored" in run.stdout, run.stdout
    return copies


def check_report(
    tmp_path: Path, files: list[Path], seen: dict[str, float], engine_times: dict[str, float]
) -> None:
    db = tmp_path / "stats.sqlite"
    files = [path for path in files if path.exists()]
    report("--db", str(db), "ingest", *map(str, files))
    # Again: every file is known, nothing is added.
    again = report("--db", str(db), "ingest", *map(str, files))
    assert all("nothing new" in line for line in again.stdout.splitlines()), again.stdout
    every = result_lines(files)
    lines = [f for f in every if (f["HOSTNAME"], f["SERVICEDESC"]) == (HOST, SERVICE)]
    data = json_report(db, tmp_path / "r.json", "--since", iso(seen["started"] - 60))
    assert [s["service"] for s in data["services"]] == [SERVICE, MAINTENANCE, SLOW]
    service = data["services"][0]
    assert (service["host"], service["service"]) == (HOST, SERVICE)
    assert service["tests"] == len(lines)
    # Nothing of the other service's forged output counts.
    assert all("forged" not in f["SERVICEOUTPUT"] for f in lines)
    # ... which reached the file (Nagios writes its first line, Icinga 2 all).
    evil = [f["SERVICEOUTPUT"] for f in every if f["SERVICEDESC"] == EVIL]
    assert evil and all(f"\tHOSTNAME::{HOST}\tSERVICEDESC::{SERVICE}" in out for out in evil)
    check_others(data, every, seen)
    strict = json_report(
        db, tmp_path / "s.json", "--since", iso(seen["started"] - 60), "--warning-is-down"
    )
    slow = next(s for s in strict["services"] if s["service"] == SLOW)
    # Down from its first test counting every failure, from its third (HARD) otherwise.
    assert (slow["availability_from_first_failure_percent"], slow["degraded_percent"]) == (0, 0)
    [outage] = slow["outages"]
    assert outage["end"] is None and slow["availability_percent"] < 50

    # From the first failed test: one outage, from the stop to the restart.
    [first] = service["outages_from_first_failure"]
    start, end = from_iso(first["start"]), from_iso(first["end"])
    print(f"stopped {iso(seen['stopped'])} restarted {iso(seen['restarted'])}: {first}")
    assert seen["stopped"] - 1 <= start <= seen["stopped"] + CHECK + SLACK
    assert seen["restarted"] - 1 <= end <= seen["restarted"] + CHECK + SLACK
    assert abs(start - engine_times["first_failure"]) <= 1.5
    assert abs(end - engine_times["recovery"]) <= 1.5

    # Down (HARD): where the engine turned it HARD, until the same recovery.
    [down] = service["outages"]
    hard_start = from_iso(down["start"])
    assert abs(hard_start - engine_times["hard"]) <= 1.5, (down, engine_times)
    assert (
        start + (ATTEMPTS - 1) * RETRY - 1 <= hard_start <= start + (ATTEMPTS - 1) * (RETRY + SLACK)
    )
    assert from_iso(down["end"]) == end

    observed = service["observed_seconds"]
    did = seen["restarted"] - seen["stopped"]
    expected = 100 * (1 - did / observed)
    tolerance = 100 * (CHECK + SLACK + 1) / observed
    assert abs(service["availability_from_first_failure_percent"] - expected) <= tolerance
    assert service["availability_percent"] == pytest.approx(
        100 * (1 - down["seconds"] / observed), abs=0.05
    )
    assert service["availability_percent"] > service["availability_from_first_failure_percent"]
    assert service["mttr_seconds"] == pytest.approx(down["seconds"], abs=1)

    # Percentiles: those of the raw perfdata, to the microsecond.
    for label in ("time", "connect_time", "greeting_time", "quit_time"):
        raw = values(lines, label)
        assert raw, label
        figures = service["phases"][label]
        for level in (50, 95, 99):
            assert figures[f"p{level}"] == pytest.approx(nearest_rank(raw, level), abs=1e-6), label

    # The HTML and CSV from the same database.
    report(
        "--db",
        str(db),
        "html",
        "-o",
        str(tmp_path / "r.html"),
        "--since",
        iso(seen["started"] - 60),
    )
    page = (tmp_path / "r.html").read_text()
    assert "<svg" in page and f"{HOST}!{SERVICE}" in page and "<script" not in page
    report("--db", str(db), "csv", "-o", str(tmp_path / "r.csv"))
    assert (tmp_path / "r.csv").read_text().startswith("record,host,service")
    pop3 = [f for f in every if f["SERVICEDESC"] in (SERVICE, SLOW, MAINTENANCE)]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == len(pop3)
        assert con.execute("SELECT count(*) FROM services").fetchone()[0] == 3


def check_others(data: dict[str, Any], every: list[dict[str, str]], seen: dict[str, float]) -> None:
    """POP3 slow: up but degraded; POP3 maintenance: its downtime left out."""
    by_name = {s["service"]: s for s in data["services"]}
    slow = by_name[SLOW]
    assert (slow["availability_percent"], slow["degraded_percent"]) == (100.0, 100.0)
    assert slow["outages"] == [] and slow["failed_tests"] == slow["tests"] > 5

    lines = [
        f
        for f in every
        if f["SERVICEDESC"] == MAINTENANCE and int(f["TIMET"]) >= seen["started"] - 60
    ]
    times = [int(f["TIMET"]) for f in lines]
    flags = [f["SERVICEDOWNTIME"] != "0" for f in lines]
    assert all(f["SERVICESTATE"] == "CRITICAL" for f in lines)
    assert sum(flags) >= 2 and not flags[0] and not flags[-1], flags
    begin = times[flags.index(True)]
    after = times[len(flags) - flags[::-1].index(True)]  # the first test after the downtime
    expected = sum(times[i + 1] - times[i] for i in range(len(times) - 1) if flags[i])
    maintenance = by_name[MAINTENANCE]
    assert maintenance["maintenance_seconds"] == expected
    assert DOWNTIME - CHECK - SLACK <= expected <= DOWNTIME + CHECK + SLACK
    assert maintenance["availability_percent"] == 0.0  # down whenever not in maintenance
    assert maintenance["observed_seconds"] == times[-1] - times[0] - expected
    assert [(o["start"], o["end"]) for o in maintenance["outages"]] == [
        (iso(times[0]), iso(begin)),
        (iso(after), None),
    ]


# --------------------------------------------------------------------- Nagios


RECORDER = """\
import os, sys
path, record = sys.argv[1], sys.argv[2]
with open(path, "rb") as handle:
    data = handle.read()
name = os.path.join(record, str(len(os.listdir(record))))
with open(name, "wb") as out:
    out.write(data)
os.unlink(path)  # as process_perfdata.pl --bulk does
"""


def nagios_service(description: str, command: str, attempts: int = ATTEMPTS) -> str:
    return object_block(
        "service",
        [
            ("host_name", HOST),
            ("service_description", description),
            ("check_command", command),
            ("max_check_attempts", str(attempts)),
            ("check_interval", str(CHECK)),
            ("retry_interval", str(RETRY)),
            ("check_period", "24x7"),
            ("notification_period", "24x7"),
            ("notifications_enabled", "0"),
            ("process_perf_data", "1"),
        ],
    )


def test_nagios_perfdata_report(
    tmp_path: Path, dovecot: Dovecot, dovecot_factory: Callable[..., Dovecot]
) -> None:
    slow_server = dovecot_factory()
    spool, record = tmp_path / "spool", tmp_path / "downstream"
    spool.mkdir()
    record.mkdir()
    live = tmp_path / "service-perfdata"
    objects = tmp_path / "objects.cfg"
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    # The site's downstream, handed each closed file: the command line
    # contrib/REPORTS.md gives for process_perfdata.pl --bulk={}.
    process = engine_settings.nagios_command(
        str(spool),
        str(BIN / "pop3_ipmon_report"),
        ["--", sys.executable, str(recorder), "{}", str(record)],
    )
    disk = plugin(tmp_path / "check_disk", "DISK OK - 3% used|used=3%;80;90;0;100\n", 0)
    evil = plugin(tmp_path / "check_evil", forged_output(), 0)
    objects.write_text(
        "\n".join(process)
        + "\n"
        + object_block(
            "timeperiod",
            [("timeperiod_name", "24x7"), ("alias", "always")]
            + [(d, "00:00-24:00") for d in ("sunday", "monday", "tuesday", "wednesday")]
            + [(d, "00:00-24:00") for d in ("thursday", "friday", "saturday")],
        )
        # Nagios wants a contact; this one is never notified.
        + object_block(
            "command", [("command_name", "no-notification"), ("command_line", "/bin/true")]
        )
        + object_block("command", [("command_name", "check_disk"), ("command_line", str(disk))])
        + object_block("command", [("command_name", "check_evil"), ("command_line", str(evil))])
        + object_block(
            "contact",
            [
                ("contact_name", "nobody"),
                ("host_notification_period", "24x7"),
                ("service_notification_period", "24x7"),
                ("host_notification_options", "n"),
                ("service_notification_options", "n"),
                ("host_notification_commands", "no-notification"),
                ("service_notification_commands", "no-notification"),
            ],
        )
        + object_block(
            "host",
            [
                ("host_name", HOST),
                ("address", "127.0.0.1"),
                ("max_check_attempts", "1"),
                ("check_period", "24x7"),
                ("active_checks_enabled", "0"),
                ("notification_period", "24x7"),
                ("notifications_enabled", "0"),
            ],
        )
        + nagios_service(SERVICE, f"check_pop3_ipmon!-p {dovecot.port} -t 0.8 -w 0.5 -c 0.7")
        + nagios_service(SLOW, f"check_pop3_ipmon!-p {slow_server.port} -t 2 -w 0.000001 -c 2")
        + nagios_service(MAINTENANCE, f"check_pop3_ipmon!-p {free_port()} -t 0.8", attempts=1)
        + nagios_service(DISK, "check_disk")
        + nagios_service(EVIL, "check_evil")
    )
    settings = dict(line.split("=", 1) for line in engine_settings.nagios_main(str(live), ROTATE))
    nagios = Nagios(
        tmp_path / "nagios",
        [CONTRIB / "nagios" / "pop3_ipmon_commands.cfg", objects],
        resource={"USER1": str(BIN)},
        settings=settings,
    )
    verify = nagios.verify()
    assert "Total Errors:   0" in verify.stdout, verify.stdout
    nagios.start()
    try:

        def files() -> list[Path]:
            return [*_files(spool, "service-perfdata.*"), live]

        def hard() -> bool:
            return any(
                a.state == "CRITICAL" and a.state_type == "HARD"
                for a in nagios.service_alerts(HOST, SERVICE)
            )

        def downtime() -> None:
            now = int(time.time())
            nagios.command(
                f"SCHEDULE_SVC_DOWNTIME;{HOST};{MAINTENANCE};{now};{now + DOWNTIME};1;0;"
                f"{DOWNTIME};test;maintenance"
            )

        seen = scenario(dovecot, files, hard, downtime)
        copies = ingest_while_running(tmp_path, files())
    finally:
        nagios.stop()
    alerts = [a for a in nagios.service_alerts(HOST, SERVICE) if a.time >= seen["stopped"] - 1]
    engine_times = {
        "first_failure": next(a.time for a in alerts if a.state == "CRITICAL"),
        "hard": next(a.time for a in alerts if a.state == "CRITICAL" and a.state_type == "HARD"),
        "recovery": next(a.time for a in alerts if a.state == "OK"),
    }
    check_report(tmp_path, [*copies, *files()], seen, engine_times)
    check_downstream(spool, record)


def check_downstream(spool: Path, record: Path) -> None:
    """Every file Nagios closed reached the downstream once and unchanged: the
    same bytes as the report's copy of it, file for file (two identical
    lines can be right: two checks of a service in one second)."""
    ours = [path.read_bytes() for path in _files(spool, "service-perfdata.*")]
    theirs = [(record / str(n)).read_bytes() for n in range(len(list(record.iterdir())))]
    assert len(theirs) >= 5, "Nagios handed on a file every 2 s"
    assert Counter(theirs) == Counter(ours)
    assert all(data.endswith(b"\n") for data in theirs)
    assert sum(data.count(b"\n") for data in theirs) > 20


# -------------------------------------------------------------------- Icinga 2


def icinga_objects(port: int, slow_port: int, directory: Path, disk: Path, evil: Path) -> str:
    writer = "\n".join(engine_settings.icinga2_writer(str(directory), rotation=ROTATE))
    return f"""\
object Host "{HOST}" {{
  check_command = "dummy"
  enable_active_checks = false
  address = "127.0.0.1"
}}
template Service "report-test" {{
  host_name = "{HOST}"
  max_check_attempts = {ATTEMPTS}
  check_interval = {CHECK}s
  retry_interval = {RETRY}s
}}
object Service "{SERVICE}" {{
  import "report-test"
  check_command = "pop3_ipmon"
  vars.pop3_ipmon_port = {port}
  vars.pop3_ipmon_timeout = 0.8
  vars.pop3_ipmon_warning = 0.5
  vars.pop3_ipmon_critical = 0.7
}}
object Service "{SLOW}" {{
  import "report-test"
  check_command = "pop3_ipmon"
  vars.pop3_ipmon_port = {slow_port}
  vars.pop3_ipmon_timeout = 2
  vars.pop3_ipmon_warning = 0.000001
  vars.pop3_ipmon_critical = 2
}}
object Service "{MAINTENANCE}" {{
  import "report-test"
  check_command = "pop3_ipmon"
  vars.pop3_ipmon_port = {free_port()}
  vars.pop3_ipmon_timeout = 0.8
  max_check_attempts = 1
}}
object CheckCommand "report-test-disk" {{ command = [ "{disk}" ] }}
object CheckCommand "report-test-evil" {{ command = [ "{evil}" ] }}
object Service "{DISK}" {{
  import "report-test"
  check_command = "report-test-disk"
}}
object Service "{EVIL}" {{
  import "report-test"
  check_command = "report-test-evil"
}}
{writer}
"""


def test_icinga2_perfdata_report(
    tmp_path: Path, dovecot: Dovecot, dovecot_factory: Callable[..., Dovecot]
) -> None:
    slow_server = dovecot_factory()
    directory = tmp_path / "statistics"
    for sub in ("live", "spool"):  # what the package's postinst makes
        (directory / sub).mkdir(parents=True)
    disk = plugin(tmp_path / "check_disk", "DISK OK - 3% used|used=3%;80;90;0;100\n", 0)
    evil = plugin(tmp_path / "check_evil", forged_output(), 0)
    config = tmp_path / "report.conf"
    config.write_text(icinga_objects(dovecot.port, slow_server.port, directory, disk, evil))
    icinga = Icinga2(
        tmp_path / "icinga2",
        [CONTRIB / "icinga2" / "pop3_ipmon_commands.conf", config],
        constants={"PluginDir": str(BIN)},
    )
    check = icinga.validate()
    assert check.returncode == 0, check.stdout + check.stderr
    icinga.start()
    icinga.follow_events()

    def files() -> list[Path]:
        return [
            *_files(directory / "spool", "service-perfdata.*"),
            directory / "live" / "service-perfdata",
        ]

    def results() -> list[dict[str, Any]]:
        return icinga.check_results(HOST, SERVICE)

    def hard() -> bool:
        return any(r["vars_after"]["state_type"] == 1 and r["state"] == 2 for r in results())

    def downtime() -> None:
        now = time.time()
        icinga.api(
            "POST",
            "/v1/actions/schedule-downtime",
            {
                "type": "Service",
                "service": f"{HOST}!{MAINTENANCE}",
                "author": "test",
                "comment": "maintenance",
                "start_time": now,
                "end_time": now + DOWNTIME,
                "fixed": True,
            },
        )

    try:
        seen = scenario(dovecot, files, hard, downtime)
        copies = ingest_while_running(tmp_path, files())
    finally:
        icinga.stop()
    # The other service's output reached the file whole, its newline escaped.
    evil_lines = [f for f in result_lines(files()) if f["SERVICEDESC"] == EVIL]
    assert evil_lines and all("\\nDATATYPE::" in f["SERVICEOUTPUT"] for f in evil_lines)
    after = [r for r in results() if r["execution_end"] >= seen["stopped"]]
    engine_times = {
        "first_failure": next(r["execution_end"] for r in after if r["state"] == 2),
        "hard": next(
            r["execution_end"]
            for r in after
            if r["state"] == 2 and r["vars_after"]["state_type"] == 1
        ),
        "recovery": next(
            r["execution_end"]
            for r in after
            if r["state"] == 0 and r["execution_end"] > seen["restarted"]
        ),
    }
    check_report(tmp_path, [*copies, *files()], seen, engine_times)
