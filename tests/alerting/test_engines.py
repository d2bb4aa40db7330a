"""ipMonitor's alerting, end to end, in a real Nagios 4 and a real Icinga 2.

Each engine runs the shipped contrib configuration plus the services that
pop3_ipmon_config generates from one monitor definition, the installed plugin
against a real Dovecot, and the installed event handler. A recording
notification command stands in for the administrator's mailer. One outage
(Dovecot killed, then restarted) covers four monitors at once:

  f3m3      F=3, M=3: alerts 1, 2, 3 at failures 3, 6, 9, then Lost, one recovery
  f1m1      F=1, M=1: alert 1 at failure 1, then Lost, one recovery
  downtime  F=3, M=3 in scheduled downtime: no alert, no recovery
  disabled  Enabled = no: never tested, never alerts

Intervals are seconds: Up 2, Down 1, Lost 4. Nothing asserts that anything
happened fast; Lost checks are asserted at least Lost-1 s apart (the engines
round to whole seconds or pull checks up to half a second earlier), which a
slow machine can only make truer, and the engine's own retry_interval is
asserted exactly.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

import pytest

from tests.support import recorder
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2, keep_secret
from tests.support.integration import wait_until
from tests.support.nagios import Nagios, object_block

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
BIN = Path(sys.executable).parent
HOST = "pop3-test"
UP, DOWN, LOST = 2, 1, 4
ENABLED = ("f3m3", "f1m1", "downtime")

DEFINITION = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 0.8
up_interval = {up}
down_interval = {down}
lost_interval = {lost}
contacts = recorder

[f3m3]
name = POP3 with F=3; M=3 (ipMonitor's example)
failures_per_alert = 3
max_alerts = 3

[f1m1]
name = POP3 with F=1, M=1
failures_per_alert = 1
max_alerts = 1

[downtime]
name = POP3 in scheduled downtime
failures_per_alert = 3
max_alerts = 3

[disabled]
name = POP3 not enabled
enabled = no
"""


@dataclass
class Check:
    time: float
    ok: bool
    attempt: int


@dataclass
class Note:
    """One notification as the recording command saw it."""

    service: str
    type: str
    ipmon_state: str
    alert: int
    failures: int
    attempt: int
    comment: str


class Engine(Protocol):
    name: str

    def checks(self, service: str) -> list[Check]: ...
    def notes(self) -> list[Note]: ...
    def schedule_downtime(self, service: str) -> None: ...
    def in_downtime(self, service: str) -> bool: ...
    def retry_interval(self, service: str) -> float: ...
    def ipmon_vars(self, service: str) -> dict[str, str]: ...
    def never_checked(self, service: str) -> bool: ...
    def last_pass(self, service: str) -> Optional[float]: ...


def generate(engine: str, definition: Path, out: Path, *extra: str) -> Path:
    script = BIN / "pop3_ipmon_config"
    run = subprocess.run(
        [str(script), engine, str(definition), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return out


def write_definition(directory: Path, port: int) -> Path:
    path = directory / "monitors.ini"
    path.write_text(DEFINITION.format(host=HOST, port=port, up=UP, down=DOWN, lost=LOST))
    return path


# --------------------------------------------------------------------- Nagios


class NagiosEngine:
    name = "nagios"

    def __init__(self, nagios: Nagios, notes_file: Path) -> None:
        self.nagios = nagios
        self.notes_file = notes_file

    def checks(self, service: str) -> list[Check]:
        return [
            Check(float(alert.time), alert.state == "OK", alert.attempt)
            for alert in self.nagios.service_alerts(HOST, service)
        ]

    def notes(self) -> list[Note]:
        out = []
        for record in recorder.read(self.notes_file):
            env = record["env"]
            out.append(
                Note(
                    service=env["NAGIOS_SERVICEDESC"],
                    type=env["NAGIOS_NOTIFICATIONTYPE"],
                    ipmon_state=env["NAGIOS__SERVICEPOP3_IPMON_STATE"],
                    alert=int(env["NAGIOS__SERVICEPOP3_IPMON_ALERT"]),
                    failures=int(env["NAGIOS__SERVICEPOP3_IPMON_FAILURES"]),
                    attempt=int(env["NAGIOS_SERVICEATTEMPT"]),
                    comment=env["NAGIOS_NOTIFICATIONCOMMENT"],
                )
            )
        return out

    def schedule_downtime(self, service: str) -> None:
        now = int(time.time())
        self.nagios.command(
            f"SCHEDULE_SVC_DOWNTIME;{HOST};{service};{now};{now + 3600};1;0;3600;test;maintenance"
        )

    def in_downtime(self, service: str) -> bool:
        status = self.nagios.service_status(HOST, service)
        return status.get("scheduled_downtime_depth", "0") != "0"

    def retry_interval(self, service: str) -> float:
        return float(self.nagios.service_status(HOST, service)["retry_interval"])

    def ipmon_vars(self, service: str) -> dict[str, str]:
        status = self.nagios.service_status(HOST, service)
        return {
            key: status[f"_POP3_IPMON_{key.upper()}"].split(";", 1)[1]
            for key in ("state", "alert", "failures")
        }

    def never_checked(self, service: str) -> bool:
        return self.nagios.service_status(HOST, service).get("has_been_checked") == "0"

    def last_pass(self, service: str) -> Optional[float]:
        # Nagios logs no passing test of an OK service; its status file shows the last.
        status = self.nagios.service_status(HOST, service)
        if status.get("has_been_checked") == "1" and status.get("current_state") == "0":
            return float(status["last_check"])
        return None


@pytest.fixture
def nagios_engine(tmp_path: Path, dovecot: Dovecot) -> Any:
    notes_file = tmp_path / "notifications.jsonl"
    base = tmp_path / "test-base.cfg"
    base.write_text(
        object_block(
            "timeperiod",
            [("timeperiod_name", "24x7"), ("alias", "always")]
            + [(day, "00:00-24:00") for day in ("sunday", "monday", "tuesday", "wednesday")]
            + [(day, "00:00-24:00") for day in ("thursday", "friday", "saturday")],
        )
        + object_block(
            "command",
            [
                ("command_name", "record-notification"),
                ("command_line", " ".join(recorder.command(notes_file))),
            ],
        )
        + object_block(
            "contact",
            [
                ("use", "pop3-ipmon-contact"),
                ("contact_name", "recorder"),
                ("alias", "records every notification"),
                ("service_notification_commands", "record-notification"),
                ("host_notification_commands", "record-notification"),
            ],
        )
    )
    services = generate(
        "nagios",
        write_definition(tmp_path, dovecot.port),
        tmp_path / "services.cfg",
        "--interval-length",
        "1",
    )
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        base,
        services,
    ]
    nagios = Nagios(tmp_path / "nagios", files, resource={"USER1": str(BIN)})
    verify = nagios.verify()
    assert "Total Errors:   0" in verify.stdout, verify.stdout
    assert "Total Warnings: 0" in verify.stdout, verify.stdout
    nagios.start()
    yield NagiosEngine(nagios, notes_file)
    nagios.stop()


# -------------------------------------------------------------------- Icinga 2


class IcingaEngine:
    name = "icinga2"

    def __init__(self, icinga: Icinga2, notes_file: Path) -> None:
        self.icinga = icinga
        self.notes_file = notes_file

    def checks(self, service: str) -> list[Check]:
        return [
            Check(result["execution_start"], result["state"] == 0, result["vars_after"]["attempt"])
            for result in self.icinga.check_results(HOST, service)
        ]

    def notes(self) -> list[Note]:
        out = []
        for record in recorder.read(self.notes_file):
            env = record["env"]
            out.append(
                Note(
                    service=env["POP3_IPMON_SERVICE"],
                    type=env["POP3_IPMON_TYPE"],
                    ipmon_state=env["POP3_IPMON_STATE"],
                    alert=int(env["POP3_IPMON_ALERT"]),
                    failures=int(env["POP3_IPMON_FAILURES"]),
                    attempt=int(env["POP3_IPMON_ATTEMPT"]),
                    comment=env["POP3_IPMON_COMMENT"],
                )
            )
        return out

    def schedule_downtime(self, service: str) -> None:
        now = time.time()
        self.icinga.api(
            "POST",
            "/v1/actions/schedule-downtime",
            {
                "type": "Service",
                "service": f"{HOST}!{service}",
                "author": "test",
                "comment": "maintenance",
                "start_time": now,
                "end_time": now + 3600,
                "fixed": True,
            },
        )

    def in_downtime(self, service: str) -> bool:
        return bool(self.icinga.service(HOST, service)["downtime_depth"])

    def retry_interval(self, service: str) -> float:
        return float(self.icinga.service(HOST, service)["retry_interval"])

    def ipmon_vars(self, service: str) -> dict[str, str]:
        variables = self.icinga.service(HOST, service)["vars"]
        return {key: str(variables[f"pop3_ipmon_{key}"]) for key in ("state", "alert", "failures")}

    def never_checked(self, service: str) -> bool:
        return self.icinga.service(HOST, service)["last_check_result"] is None

    def last_pass(self, service: str) -> Optional[float]:
        passes = [check.time for check in self.checks(service) if check.ok]
        return passes[-1] if passes else None


ICINGA_TEST_CONFIG = """\
object NotificationCommand "record-notification" {{
  command = {command}
  env = {{
    POP3_IPMON_TYPE = "$notification.type$"
    POP3_IPMON_SERVICE = "$service.name$"
    POP3_IPMON_COMMENT = "$notification.comment$"
    POP3_IPMON_ATTEMPT = "$service.check_attempt$"
    POP3_IPMON_STATE = "$service.vars.pop3_ipmon_state$"
    POP3_IPMON_ALERT = "$service.vars.pop3_ipmon_alert$"
    POP3_IPMON_FAILURES = "$service.vars.pop3_ipmon_failures$"
  }}
}}
object User "recorder" {{}}
// The handler's API user, with only the permissions contrib/README.md lists.
object ApiUser "pop3-ipmon" {{
  password = "{password}"
  permissions = [ "objects/modify/Service", "actions/send-custom-notification" ]
}}
apply Notification "pop3-ipmon" to Service {{
  import "pop3-ipmon-notification"
  command = "record-notification"
  users = service.vars.pop3_ipmon_users
  assign where service.vars.pop3_ipmon_alerting
}}
"""


@pytest.fixture
def icinga_engine(tmp_path: Path, dovecot: Dovecot) -> Any:
    notes_file = tmp_path / "notifications.jsonl"
    password = "handler-" + str(time.time_ns())
    test_config = tmp_path / "test.conf"
    command = "[ " + ", ".join(f'"{part}"' for part in recorder.command(notes_file)) + " ]"
    test_config.write_text(ICINGA_TEST_CONFIG.format(command=command, password=password))
    services = generate(
        "icinga2", write_definition(tmp_path, dovecot.port), tmp_path / "services.conf"
    )
    files = [
        CONTRIB / "icinga2" / "pop3_ipmon_commands.conf",
        CONTRIB / "icinga2" / "pop3_ipmon_templates.conf",
        test_config,
        services,
    ]
    icinga = Icinga2(tmp_path / "icinga2", files, constants={"PluginDir": str(BIN)})
    keep_secret(
        icinga.dirs["ConfigDir"] / "pop3_ipmon-api.conf",
        f"username = pop3-ipmon\npassword = {password}\n",
    )
    check = icinga.validate()
    assert check.returncode == 0, check.stdout + check.stderr
    icinga.start()
    icinga.follow_events()
    yield IcingaEngine(icinga, notes_file)
    icinga.stop()


# -------------------------------------------------------------------- scenario


def failures_since(checks: list[Check], since: float) -> list[Check]:
    """The failed checks after `since`, up to the first pass."""
    run = []
    for check in checks:
        if check.time < since:
            continue
        if check.ok:
            if run:
                break
            continue
        run.append(check)
    return run


def outage(engine: Engine, dovecot: Dovecot) -> dict[str, Any]:
    """Kill Dovecot until f3m3 has been Lost for a while, then restart it."""
    for service in ENABLED:
        wait_until(
            lambda service=service: engine.last_pass(service) is not None,
            30,
            f"a first passing test of {service}",
        )
    engine.schedule_downtime("downtime")
    wait_until(lambda: engine.in_downtime("downtime"), 20, "the downtime to start")
    # Nagios logs whole seconds: a failure right after the kill may carry the
    # second before it. Passing tests before that are skipped anyway.
    stopped = time.time() - 1
    dovecot.stop()
    # Failure 13 is the third Lost test after failure 10.
    wait_until(
        lambda: len(failures_since(engine.checks("f3m3"), stopped)) >= 13,
        90,
        "13 failures of f3m3",
    )
    seen = {
        "stopped": stopped,
        "lost_interval": engine.retry_interval("f3m3"),
        "f1m1_interval": engine.retry_interval("f1m1"),
        "downtime_vars": engine.ipmon_vars("downtime"),
        "f3m3_vars": engine.ipmon_vars("f3m3"),
    }
    dovecot.start()
    restarted = time.time()

    def settled() -> bool:
        """Both recoveries out, and two more passing tests of f3m3 after its first."""
        first = [c.time for c in engine.checks("f3m3") if c.ok and c.time >= restarted - 1]
        last = engine.last_pass("f3m3")
        recoveries = [n for n in engine.notes() if n.ipmon_state == "Up"]
        return (
            len(recoveries) >= 2
            and bool(first)
            and last is not None
            and (last - first[0] >= 2 * UP - 0.5)
        )

    wait_until(settled, 60, "recoveries and two more passing tests after the restart")
    return seen


def assert_timeline(engine: Engine, seen: dict[str, Any]) -> None:
    notes = engine.notes()
    by_service: dict[str, list[Note]] = {}
    for note in notes:
        by_service.setdefault(note.service, []).append(note)

    # F=3, M=3: alerts 1, 2, 3 at failures 3, 6, 9; then none; one recovery.
    f3m3 = by_service.get("f3m3", [])
    assert [(n.type, n.ipmon_state, n.alert, n.failures) for n in f3m3] == [
        ("CUSTOM", "Down", 1, 3),
        ("CUSTOM", "Down", 2, 6),
        ("CUSTOM", "Down", 3, 9),
        ("CUSTOM", "Up", 3, 0),
    ], f3m3
    for note in f3m3[:3]:
        assert f"alert {note.alert} of 3 after {note.failures} consecutive" in note.comment
        assert note.attempt >= note.failures  # the engine had seen that many failures
    assert "recovered after" in f3m3[3].comment

    # F=1, M=1: alert 1 at failure 1, then Lost; one recovery.
    f1m1 = by_service.get("f1m1", [])
    assert [(n.ipmon_state, n.alert, n.failures) for n in f1m1] == [
        ("Down", 1, 1),
        ("Up", 1, 0),
    ], f1m1

    # Downtime and disabled: nothing at all.
    assert "downtime" not in by_service
    assert "disabled" not in by_service
    assert seen["downtime_vars"]["state"] == "Maintenance"
    assert engine.never_checked("disabled")

    # Lost: the engine's retry interval became the Lost interval, tests after
    # failure 10 came at least Lost-1 s apart; after recovery Down again.
    assert seen["lost_interval"] == LOST
    assert seen["f1m1_interval"] == LOST
    assert seen["f3m3_vars"]["state"] == "Lost"
    assert engine.retry_interval("f3m3") == DOWN
    failures = failures_since(engine.checks("f3m3"), seen["stopped"])
    assert [c.attempt for c in failures] == list(range(1, len(failures) + 1))
    lost_gaps = [b.time - a.time for a, b in zip(failures[9:], failures[10:])]
    down_gaps = [b.time - a.time for a, b in zip(failures[:9], failures[1:10])]
    print(f"{engine.name}: Down/Warn gaps {[round(g, 2) for g in down_gaps]}")
    print(f"{engine.name}: Lost gaps {[round(g, 2) for g in lost_gaps]}")
    assert len(lost_gaps) >= 3
    assert all(gap >= LOST - 1 for gap in lost_gaps), lost_gaps
    assert engine.ipmon_vars("f3m3")["state"] == "Up"


def test_nagios_gives_ipmonitor_alerting(nagios_engine: NagiosEngine, dovecot: Dovecot) -> None:
    started = time.monotonic()
    seen = outage(nagios_engine, dovecot)
    assert_timeline(nagios_engine, seen)
    print(f"nagios: scenario took {time.monotonic() - started:.1f}s")


def test_icinga2_gives_ipmonitor_alerting(icinga_engine: IcingaEngine, dovecot: Dovecot) -> None:
    started = time.monotonic()
    seen = outage(icinga_engine, dovecot)
    assert_timeline(icinga_engine, seen)
    print(f"icinga2: scenario took {time.monotonic() - started:.1f}s")
