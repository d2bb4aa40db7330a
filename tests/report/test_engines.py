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

The services use a plain max_check_attempts of 3 (HARD at the third failed
test), not the alerting templates.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.report import engine_settings
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2
from tests.support.integration import wait_until
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


def _files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def scenario(
    dovecot: Dovecot, files: Callable[[], list[Path]], hard_seen: Callable[[], bool]
) -> dict[str, float]:
    """OK tests, Dovecot down until HARD and two more failures, OK tests again."""
    started = time.time()

    def states(since: float) -> list[str]:
        return [
            fields["SERVICESTATE"]
            for fields in result_lines(files())
            if int(fields["TIMET"]) >= since
        ]

    wait_until(lambda: states(started).count("OK") >= 4, 60, "four passing tests in the perfdata")
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
    report("--db", str(tmp_path / "stats.sqlite"), "ingest", *map(str, copies))
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
    lines = [f for f in result_lines(files) if f["HOSTNAME"] == HOST]
    data = json_report(db, tmp_path / "r.json", "--since", iso(seen["started"] - 60))
    [service] = data["services"]
    assert (service["host"], service["service"]) == (HOST, SERVICE)
    assert service["tests"] == len(lines)

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
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == len(lines)


# --------------------------------------------------------------------- Nagios


def test_nagios_perfdata_report(tmp_path: Path, dovecot: Dovecot) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    live = tmp_path / "service-perfdata"
    objects = tmp_path / "objects.cfg"
    rotate = "\n".join(engine_settings.nagios_command(str(spool))) + "\n"
    objects.write_text(
        rotate
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
        + object_block(
            "service",
            [
                ("host_name", HOST),
                ("service_description", SERVICE),
                ("check_command", f"check_pop3_ipmon!-p {dovecot.port} -t 0.8 -w 0.5 -c 0.7"),
                ("max_check_attempts", str(ATTEMPTS)),
                ("check_interval", str(CHECK)),
                ("retry_interval", str(RETRY)),
                ("check_period", "24x7"),
                ("notification_period", "24x7"),
                ("notifications_enabled", "0"),
                ("process_perf_data", "1"),
            ],
        )
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

        seen = scenario(dovecot, files, hard)
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


# -------------------------------------------------------------------- Icinga 2


def icinga_objects(port: int) -> str:
    writer = "\n".join(engine_settings.icinga2_writer(rotation=ROTATE))
    return f"""\
object Host "{HOST}" {{
  check_command = "dummy"
  enable_active_checks = false
  address = "127.0.0.1"
}}
object Service "{SERVICE}" {{
  host_name = "{HOST}"
  check_command = "pop3_ipmon"
  vars.pop3_ipmon_port = {port}
  vars.pop3_ipmon_timeout = 0.8
  vars.pop3_ipmon_warning = 0.5
  vars.pop3_ipmon_critical = 0.7
  max_check_attempts = {ATTEMPTS}
  check_interval = {CHECK}s
  retry_interval = {RETRY}s
}}
{writer}
"""


def test_icinga2_perfdata_report(tmp_path: Path, dovecot: Dovecot) -> None:
    config = tmp_path / "report.conf"
    config.write_text(icinga_objects(dovecot.port))
    icinga = Icinga2(
        tmp_path / "icinga2",
        [CONTRIB / "icinga2" / "pop3_ipmon_commands.conf", config],
        constants={"PluginDir": str(BIN)},
    )
    spool = icinga.dirs["SpoolDir"]
    for sub in ("perfdata", "tmp"):
        (spool / sub).mkdir()
    check = icinga.validate()
    assert check.returncode == 0, check.stdout + check.stderr
    icinga.start()
    icinga.follow_events()

    def files() -> list[Path]:
        return [
            *_files(spool / "perfdata", "pop3_ipmon-service-perfdata.*"),
            spool / "tmp" / "pop3_ipmon-service-perfdata",
        ]

    def results() -> list[dict[str, Any]]:
        return icinga.check_results(HOST, SERVICE)

    def hard() -> bool:
        return any(r["vars_after"]["state_type"] == 1 and r["state"] == 2 for r in results())

    try:
        seen = scenario(dovecot, files, hard)
        copies = ingest_while_running(tmp_path, files())
    finally:
        icinga.stop()
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
