"""ipMonitor's alerting from Icinga 2 alone (issue 17, topology (a): one node).

A real Icinga 2 runs the shipped CheckCommand and templates and the services
pop3_ipmon_config generates, the plugin against a real Dovecot, and nothing
else of ours: PluginDir holds only check_pop3_ipmon (no handler, no event
command, no API user for alerting). The notification command behaves like
PagerDuty's pd-nagios (only PROBLEM, ACKNOWLEDGEMENT, RECOVERY) and records
the engine's number and the template's variables (POP3_IPMON_STATE, _ALERT,
_FAILURES) from the environment.

F = failures per alert, M = max alerts; Down 5 s, Up 8 s (F * Down >= 10 s:
Icinga 2's notification timer runs every 5 s).

  f3m3     F=3, M=3: HARD at failure 3 in Icinga 2's own state; PROBLEM alert
           1, 2, 3 (Down, failures 3, 6, 9), then nothing (Lost); one RECOVERY
           (Up, 3 alerts sent); an outage right after it numbered from 1
           (Icinga 2's own number is 2 there: the old templates' alert number)
  f1m2     F=1, M=2, Down 10 s: PROBLEM 1, 2, RECOVERY; again from 1
  capped   F=3, M=2: after its alert 1, a user allowed objects/modify/Service
           (filtered to the ipMonitor services) raises its max_alerts and
           lowers F through the API: still exactly 2 alerts
  (f3m3 also has a Notification of the administrator's own, interval 0:
  Icinga 2's PROBLEM at the HARD change and RECOVERY, untouched)
  ack      F=3, M=3: acknowledged after alert 1, acknowledgement removed
           before alert 2: PROBLEM 2 and 3 keep their alert numbers (Icinga 2
           counted the ACKNOWLEDGEMENT: its numbers are 3 and 4)
  f5m1     F=5, M=1: PROBLEM 1, RECOVERY; in the short second outage (fewer
           than 5 failures) nothing
  downtime in a downtime throughout: nothing
  disabled Enabled = no: never tested, never alerts

Afterwards the objects carry no event command and no modified attribute (only
what the test itself changed): nothing set at run time, nothing to survive.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import pd_recorder
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2, string
from tests.support.integration import wait_until

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "icinga2"
BIN = Path(sys.executable).parent
HOST = "pop3-test"
UP, DOWN = 8, 5
TIMER = 5.0  # Icinga 2's NotificationComponent timer interval
EDITOR_PASSWORD = secrets.token_hex(16)

DEFINITION = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 0.8
up_interval = {up}
down_interval = {down}
lost_interval = 30
contacts = recorder

[f3m3]
name = POP3 with F=3; M=3 (ipMonitor's example)
failures_per_alert = 3
max_alerts = 3

[f1m2]
name = POP3 with F=1, M=2
failures_per_alert = 1
max_alerts = 2
down_interval = 10

[capped]
name = POP3 whose vars are changed mid-outage
failures_per_alert = 3
max_alerts = 2

[ack]
name = POP3 acknowledged after alert 1
failures_per_alert = 3
max_alerts = 3

[f5m1]
name = POP3 with F=5, M=1
failures_per_alert = 5
max_alerts = 1

[downtime]
name = POP3 in scheduled downtime
failures_per_alert = 3
max_alerts = 3

[disabled]
name = POP3 not enabled
enabled = no
"""

# F, M, Down of each service above.
SETTINGS = {
    "f3m3": (3, 3, DOWN),
    "f1m2": (1, 2, 10),
    "capped": (3, 2, DOWN),
    "ack": (3, 3, DOWN),
    "f5m1": (5, 1, DOWN),
}
ALERTING = (*SETTINGS, "downtime")

TEST_CONFIG = """\
object NotificationCommand "pd-record" {{
  command = {command}
  arguments = {{
    "-t" = "$notification.type$"
    "-n" = "$notification.notification_number$"
    "-s" = "$host.name$!$service.name$"
  }}
  env = {{
    POP3_IPMON_STATE = "$notification.vars.pop3_ipmon_state$"
    POP3_IPMON_ALERT = "$notification.vars.pop3_ipmon_alert$"
    POP3_IPMON_FAILURES = "$notification.vars.pop3_ipmon_failures$"
    POP3_IPMON_NOTIFICATION = "$notification.name$"
  }}
}}
object User "recorder" {{}}
apply Notification "pop3-ipmon" to Service {{
  import "pop3-ipmon-notification"
  command = "pd-record"
  users = service.vars.pop3_ipmon_users
  assign where service.vars.pop3_ipmon_alerting
}}
// The administrator's own, not ipMonitor's (a ticketing system): left as
// Icinga 2 makes it, one PROBLEM at the HARD change and the RECOVERY.
apply Notification "ticketing" to Service {{
  command = "pd-record"
  users = [ "recorder" ]
  interval = 0
  assign where service.name == "f3m3"
}}
// Someone allowed to edit the ipMonitor services (their vars included), and
// nothing else.
object ApiUser "editor" {{
  password = {password}
  permissions = [
    {{
      permission = "objects/modify/Service"
      filter = {{{{ service.vars.pop3_ipmon_alerting == true }}}}
    }},
  ]
}}
object Service "other" {{
  host_name = "{host}"
  check_command = "dummy"
  enable_active_checks = false
}}
"""


@dataclass
class Note:
    """One notification as the pd-nagios-like command accepted it."""

    service: str
    type: str
    number: int  # Icinga 2's notification_number
    state: str
    alert: int
    failures: int
    time: float


class Engine:
    def __init__(self, icinga: Icinga2, notes_file: Path) -> None:
        self.icinga = icinga
        self.notes_file = notes_file

    def checks(self, service: str) -> list[dict[str, Any]]:
        return self.icinga.check_results(HOST, service)

    def notes(self, service: str, since: float = 0.0, name: str = "pop3-ipmon") -> list[Note]:
        """What the service's Notification `name` sent, from `since`."""
        out = []
        for r in pd_recorder.read(self.notes_file):
            host_service = r["service"].split("!", 1)
            if host_service[1] != service or r["time"] < since:
                continue
            env = r["env"]
            if env.get("POP3_IPMON_NOTIFICATION") != name:  # the apply rule's short name
                continue
            out.append(
                Note(
                    host_service[1],
                    r["type"],
                    r["number"],
                    env.get("POP3_IPMON_STATE", ""),
                    int(env.get("POP3_IPMON_ALERT") or -1),
                    int(env.get("POP3_IPMON_FAILURES") or -1),
                    r["time"],
                )
            )
        return out

    def seen(self, service: str, kind: str, alert: int, since: float = 0.0) -> bool:
        return any(n.type == kind and n.alert == alert for n in self.notes(service, since))

    def service(self, service: str) -> dict[str, Any]:
        return self.icinga.service(HOST, service)

    def action(self, name: str, service: str, **body: Any) -> None:
        self.icinga.api(
            "POST",
            f"/v1/actions/{name}",
            {"type": "Service", "service": f"{HOST}!{service}", **body},
        )

    def check_now(self, service: str) -> None:
        self.action("reschedule-check", service, next_check=time.time(), force=True)

    def as_editor(self, path: str, body: dict[str, Any]) -> int:
        """POST as the editor ApiUser: the HTTP status."""
        context = ssl.create_default_context(cafile=str(self.icinga.ca_file))
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.icinga.port, context=context, timeout=10
        )
        token = base64.b64encode(f"editor:{EDITOR_PASSWORD}".encode()).decode()
        headers = {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        try:
            connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


@pytest.fixture
def engine(tmp_path: Path, dovecot: Dovecot) -> Iterator[Engine]:
    notes_file = tmp_path / "notifications.jsonl"
    definition = tmp_path / "monitors.ini"
    definition.write_text(DEFINITION.format(host=HOST, port=dovecot.port, up=UP, down=DOWN))
    services = tmp_path / "services.conf"
    run = subprocess.run(
        [str(BIN / "pop3_ipmon_config"), "icinga2", str(definition), "-o", str(services)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # Only the check: no handler anywhere Icinga 2 could run one from.
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    os.symlink(BIN / "check_pop3_ipmon", plugins / "check_pop3_ipmon")
    command = "[ " + ", ".join(string(part) for part in pd_recorder.command(notes_file)) + " ]"
    test_config = tmp_path / "test.conf"
    test_config.write_text(
        TEST_CONFIG.format(command=command, password=string(EDITOR_PASSWORD), host=HOST)
    )
    files = [
        CONTRIB / "pop3_ipmon_commands.conf",
        CONTRIB / "pop3_ipmon_templates.conf",
        test_config,
        services,
    ]
    icinga = Icinga2(tmp_path / "icinga2", files, constants={"PluginDir": str(plugins)})
    check = icinga.validate()
    assert check.returncode == 0, check.stdout + check.stderr
    assert "EventCommand" not in check.stdout
    icinga.start()
    icinga.follow_events(("CheckResult", "Notification", "StateChange"))
    yield Engine(icinga, notes_file)
    icinga.stop()


def failures_from(checks: list[dict[str, Any]], since: float) -> list[dict[str, Any]]:
    """The failed checks after `since`, up to the first pass."""
    run: list[dict[str, Any]] = []
    for check in checks:
        if check["execution_start"] < since:
            continue
        if check["state"] == 0:
            if run:
                break
            continue
        run.append(check)
    return run


def timeline(notes: list[Note]) -> list[tuple[str, int, str, int]]:
    return [(n.type, n.alert, n.state, n.failures) for n in notes]


def end_of(service: str) -> float:
    """times.end as the template computes it."""
    f, m, down = SETTINGS[service]
    every = f * down
    return (m - 1) * every + max(every / 2, every - 1)


def first_outage(engine: Engine, dovecot: Dovecot) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for service in ALERTING:
        wait_until(
            lambda s=service: any(c["state"] == 0 for c in engine.checks(s)), 60, f"{service} OK"
        )
    now = time.time()
    engine.action(
        "schedule-downtime",
        "downtime",
        author="test",
        comment="maintenance",
        start_time=now,
        end_time=now + 3600,
        fixed=True,
    )
    wait_until(lambda: bool(engine.service("downtime")["downtime_depth"]), 20, "the downtime")
    seen["stopped"] = time.time()
    dovecot.stop()

    # Acknowledged after alert 1, the acknowledgement gone before alert 2 is due.
    wait_until(lambda: engine.seen("ack", "PROBLEM", 1), 60, "ack's alert 1")
    engine.action("acknowledge-problem", "ack", author="test", comment="seen", notify=True)
    wait_until(lambda: engine.seen("ack", "ACKNOWLEDGEMENT", 1), 20, "the acknowledgement")
    engine.action("remove-acknowledgement", "ack")
    seen["ack_removed"] = time.time()

    # Item 3: someone who may edit the ipMonitor services' vars, mid-outage.
    wait_until(lambda: engine.seen("capped", "PROBLEM", 1), 60, "capped's alert 1")
    changes = {
        "vars.pop3_ipmon_max_alerts": 50,
        "vars.pop3_ipmon_failures_per_alert": 1,
        "vars.pop3_ipmon_down_interval": 1,
    }
    seen["edit_own"] = engine.as_editor(f"/v1/objects/services/{HOST}!capped", {"attrs": changes})
    seen["edit_other"] = engine.as_editor(
        f"/v1/objects/services/{HOST}!other", {"attrs": {"vars.x": 1}}
    )
    seen["edit_notification"] = engine.as_editor(
        f"/v1/objects/notifications/{HOST}!capped!pop3-ipmon", {"attrs": {"interval": 1}}
    )

    # Item 4: Icinga 2's own HARD change, read while the outage lasts.
    wait_until(lambda: engine.seen("f3m3", "PROBLEM", 1), 60, "f3m3's alert 1")
    seen["f3m3_hard"] = engine.service("f3m3")["last_hard_state_change"]
    # Lost: past times.end and one more reminder slot (plus the timer's tick).
    quiet_until = seen["f3m3_hard"] + end_of("f3m3") + 15 + TIMER + 1
    wait_until(lambda: time.time() >= quiet_until, 120, "f3m3 past its last alert")
    wait_until(lambda: engine.seen("f1m2", "PROBLEM", 2), 30, "f1m2's alert 2")
    wait_until(lambda: engine.seen("f5m1", "PROBLEM", 1), 30, "f5m1's alert 1")
    dovecot.start()
    seen["restarted"] = time.time()  # listening again
    wait_until(lambda: engine.seen("f3m3", "RECOVERY", 3), UP + 30, "f3m3's recovery")
    seen["f3m3_recovered"] = engine.notes("f3m3")[-1].time
    # The others at once, so that f3m3's next check (one Up interval after
    # its recovery) is the second outage's first failure.
    for service in ("f1m2", "capped", "ack", "f5m1"):
        engine.check_now(service)
    for service in ("f1m2", "capped", "ack", "f5m1"):
        wait_until(
            lambda s=service: any(n.type == "RECOVERY" for n in engine.notes(s)),
            30,
            f"{service}'s recovery",
        )
    return seen


def second_outage(engine: Engine, dovecot: Dovecot) -> float:
    """Right after the recoveries: numbered from 1 again."""
    start = time.time()
    dovecot.stop()
    wait_until(lambda: engine.seen("f3m3", "PROBLEM", 1, start), 60, "f3m3's alert 1, again")
    wait_until(lambda: engine.seen("f1m2", "PROBLEM", 1, start), 60, "f1m2's alert 1, again")
    dovecot.start()
    for service in ("f3m3", "f1m2"):
        wait_until(
            lambda s=service: any(n.type == "RECOVERY" for n in engine.notes(s, start)),
            UP + 30,
            f"{service}'s second recovery",
        )
    return start


def test_icinga2_sends_ipmonitors_alerts_on_its_own(engine: Engine, dovecot: Dovecot) -> None:
    began = time.monotonic()
    seen = first_outage(engine, dovecot)
    outage_two = second_outage(engine, dovecot)
    took = time.monotonic() - began
    first = seen["stopped"]

    # Item 1 and 5: ipMonitor's timeline, from the template's variables.
    f3m3 = [n for n in engine.notes("f3m3") if n.time < outage_two]
    assert timeline(f3m3) == [
        ("PROBLEM", 1, "Down", 3),
        ("PROBLEM", 2, "Down", 6),
        ("PROBLEM", 3, "Down", 9),
        ("RECOVERY", 3, "Up", 0),
    ], f3m3
    f1m2 = [n for n in engine.notes("f1m2") if n.time < outage_two]
    assert timeline(f1m2) == [
        ("PROBLEM", 1, "Down", 1),
        ("PROBLEM", 2, "Down", 2),
        ("RECOVERY", 2, "Up", 0),
    ], f1m2
    f5m1 = [n for n in engine.notes("f5m1") if n.time < outage_two]
    assert timeline(f5m1) == [("PROBLEM", 1, "Down", 5), ("RECOVERY", 1, "Up", 0)], f5m1

    # An acknowledgement shifts Icinga 2's numbers, not ipMonitor's.
    ack = [n for n in engine.notes("ack") if n.time < outage_two]
    assert [(n.type, n.alert, n.number) for n in ack] == [
        ("PROBLEM", 1, 1),
        ("ACKNOWLEDGEMENT", 1, 2),
        ("PROBLEM", 2, 3),
        ("PROBLEM", 3, 4),
        ("RECOVERY", 3, 1),  # the OK result reset Icinga 2's count
    ], ack
    assert ack[1].state == "Down"

    # Item 3: the editor changed capped's vars (and could touch nothing else:
    # Icinga 2 answers a permission or filter miss with 404); the alerts did
    # not change.
    assert (seen["edit_own"], seen["edit_other"], seen["edit_notification"]) == (200, 404, 404)
    capped = [n for n in engine.notes("capped") if n.time < outage_two]
    assert timeline(capped) == [
        ("PROBLEM", 1, "Down", 3),
        ("PROBLEM", 2, "Down", 6),
        ("RECOVERY", 2, "Up", 0),
    ], capped
    assert engine.service("capped")["vars"]["pop3_ipmon_max_alerts"] == 50

    for service in ("downtime", "disabled"):
        assert engine.notes(service) == [], service
    assert engine.service("disabled")["last_check_result"] is None

    # Item 4: SOFT 1, 2, HARD at failure 3 in Icinga 2's own state.
    failures = failures_from(engine.checks("f3m3"), first)
    kinds = [c["vars_after"]["state_type"] for c in failures[:4]]
    assert kinds == [0, 0, 1, 1], kinds
    assert seen["f3m3_hard"] == pytest.approx(failures[2]["execution_end"], abs=0.01)
    gaps = [
        round(b["execution_start"] - a["execution_start"], 2)
        for a, b in zip(failures, failures[1:])
    ]
    print(f"\nf3m3: gaps between failed checks {gaps} (SOFT at Down {DOWN}s, HARD at Up {UP}s)")
    assert all(gap >= DOWN - 1 for gap in gaps[:2]) and all(gap >= UP - 1 for gap in gaps[2:])

    # Each alert k comes after ipMonitor's failure k*F would have been, by
    # Icinga 2's reminder lag only: up to one timer tick per reminder.
    one = failures[0]["execution_end"]
    lags = []
    for k, note in enumerate(f3m3[:3], 1):
        ipmonitor = one + (3 * k - 1) * DOWN
        lags.append(round(note.time - ipmonitor, 2))
    print(f"f3m3: alerts 1-3 after ipMonitor's failures 3, 6, 9 by {lags} s")
    for k, lag in enumerate(lags, 1):  # a margin for a loaded machine
        assert -2 <= lag <= (k - 1) * (TIMER + 0.5) + 5, lags

    # The RECOVERY deviation: in HARD Icinga 2 checks at Up.
    # The RECOVERY came with the first check after the server was back, the
    # last failure having been one Up interval before it (at most).
    delay = seen["f3m3_recovered"] - seen["restarted"]
    print(f"f3m3: RECOVERY {delay:.1f}s after the server was back (Up {UP}s)")
    checks = engine.checks("f3m3")
    passed = next(c for c in checks if c["state"] == 0 and c["execution_start"] > first)
    failed_before = [c for c in checks if c["execution_end"] < passed["execution_start"]][-1]
    assert failed_before["state"] != 0
    assert failed_before["execution_start"] < seen["restarted"], (failed_before, seen)
    assert passed["execution_end"] <= seen["f3m3_recovered"] < passed["execution_end"] + 3

    # A second outage right after the recovery: from 1 again. Icinga 2's own
    # number is 2 there (the Recovery took 1), so it cannot be the alert.
    checks = engine.checks("f3m3")
    between = [
        c
        for c in checks
        if seen["f3m3_recovered"] + 0.5 < c["execution_end"] < outage_two and c["state"] == 0
    ]
    assert between == [], "f3m3 passed a check between its recovery and the second outage"
    again = engine.notes("f3m3", outage_two)
    assert [(n.type, n.alert, n.state, n.number) for n in again] == [
        ("PROBLEM", 1, "Down", 2),
        ("RECOVERY", 1, "Up", 1),
    ], again
    # f1m2's alert 2 is due 10 s after alert 1: it may come before the
    # recovery does; either way counted from 1.
    again = engine.notes("f1m2", outage_two)
    sent = len(again) - 1
    assert 1 <= sent <= 2, again
    assert [(n.type, n.alert) for n in again] == [
        *(("PROBLEM", k) for k in range(1, sent + 1)),
        ("RECOVERY", sent),
    ], again
    short = failures_from(engine.checks("f5m1"), outage_two)
    print(f"f5m1 failed {len(short)} time(s) in the second outage")
    if len(short) < 5:
        assert engine.notes("f5m1", outage_two) == []

    # Not ipMonitor's Notification: Icinga 2's own behaviour, in both outages.
    ticketing = engine.notes("f3m3", name="ticketing")
    # (Its numbers are Icinga 2's: 2 in the outage right after a recovery.)
    assert [(n.type, n.number) for n in ticketing] == [
        ("PROBLEM", 1),
        ("RECOVERY", 1),
        ("PROBLEM", 2),
        ("RECOVERY", 1),
    ], ticketing
    assert ticketing[0].time == pytest.approx(f3m3[0].time, abs=2)

    # Item 2: nothing set at run time that could outlive us or gate anything.
    for service in (*ALERTING, "disabled"):
        attrs = engine.service(service)
        assert attrs["event_command"] == "" and attrs["volatile"] is False, service
        if service != "capped":  # the editor's change, and only that
            assert attrs["original_attributes"] is None, (service, attrs["original_attributes"])
    assert set(engine.service("capped")["original_attributes"]) == {
        f"vars.{name}"
        for name in (
            "pop3_ipmon_max_alerts",
            "pop3_ipmon_failures_per_alert",
            "pop3_ipmon_down_interval",
        )
    }
    for row in engine.icinga.api("GET", "/v1/objects/notifications")["results"]:
        attrs = row["attrs"]
        assert attrs["original_attributes"] is None, row["name"]
        assert "begin" not in (attrs["times"] or {}), row["name"]
    assert pd_recorder.read(pd_recorder.refused_file(engine.notes_file)) == []
    print(f"icinga2 native alerting: scenario took {took:.1f}s")
