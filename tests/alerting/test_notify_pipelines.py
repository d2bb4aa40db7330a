"""contrib/notify: the pipelines' command definitions, checked and run by the real engines.

The shipped files pass `nagios4 -v` and `icinga2 daemon -C` next to the
stock configuration. Then each engine runs them for one service through a
PROBLEM, an ACKNOWLEDGEMENT and a RECOVERY, with only what leaves the
machine swapped: /usr/bin/mail for a recorder, pd-nagios for the stand-in
(tests/support/pd_nagios.py, which refuses any other type as pd-nagios
does; named where an administrator names another pd-nagios, the contact's
_PD_NAGIOS and the user's vars.pop3_ipmon_pd_nagios), the chat's webhook
URL for a server on loopback. The real
pop3_ipmon_webhook posts there.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.test_contrib_config import STOCK_ICINGA2, STOCK_NAGIOS, nagios_verdict, stock
from tests.support import pd_nagios
from tests.support.chatserver import ChatServer
from tests.support.icinga2 import Icinga2, string
from tests.support.integration import wait_until
from tests.support.nagios import Nagios

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
NOTIFY = ROOT / "contrib" / "notify"
BIN = Path(sys.executable).parent
MAIL_RECORDER = ROOT / "tests" / "support" / "mail_recorder.py"
PD_NAGIOS = "/usr/share/pdagent-integrations/bin/pd-nagios"
TYPES = ["PROBLEM", "ACKNOWLEDGEMENT", "RECOVERY"]


def pd_nagios_at(path: Path, record: Path) -> Path:
    """The stand-in as one program, as pd-nagios is (the engines name one path)."""
    path.write_text(f'#!/bin/sh\nexec {shlex.join(pd_nagios.command(record))} "$@"\n')
    path.chmod(0o755)
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def webhook_config(path: Path, chat: ChatServer) -> Path:
    path.write_text(f"[webhook]\nurl = {chat.url('/hooks/secret')}\nformat = full\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


# -------------------------------------------------------------------- Nagios 4


def test_nagios_accepts_the_notify_files(tmp_path: Path) -> None:
    files = [
        ROOT / "contrib" / "nagios" / "pop3_ipmon_commands.cfg",
        ROOT / "contrib" / "nagios" / "pop3_ipmon_templates.cfg",
        ROOT / "contrib" / "nagios" / "pop3_ipmon_example.cfg",
        NOTIFY / "pop3_ipmon_notify.cfg",
        NOTIFY / "pop3_ipmon_notify_example.cfg",
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    out = nagios_verdict(Nagios(tmp_path, files, resource={"USER1": str(BIN)}))
    assert "Checked 4 contacts." in out


NAGIOS_OBJECTS = """\
define host {
    use                     pop3-ipmon-host
    host_name               mail1
    alias                   Head office "$(touch MARKER)"
    address                 127.0.0.1
    contacts                pop3-mail
}
define command {
    command_name            passive-only
    command_line            /bin/false
}
define service {
    host_name               mail1
    service_description     POP3
    display_name            Mail POP3 "$(touch MARKER)" `touch MARKER`
    check_command           passive-only
    active_checks_enabled   0
    passive_checks_enabled  1
    max_check_attempts      1
    check_interval          300
    retry_interval          60
    check_period            24x7
    notification_interval   0
    notification_period     24x7
    notification_options    w,u,c,r
    contacts                pop3-mail,pop3-pagerduty,pop3-chat
    ; What the handler has set when Nagios sends PROBLEM 1 (it runs after
    ; the notification): the test before, Warn, alert 0.
    _POP3_IPMON_STATE       Warn
    _POP3_IPMON_ALERT       0
}
"""


def test_nagios_pipelines_receive_problem_acknowledgement_recovery(
    tmp_path: Path, chat: ChatServer
) -> None:
    mails, pages = tmp_path / "mail.jsonl", tmp_path / "pd.jsonl"
    config = webhook_config(tmp_path / "webhook.ini", chat)
    commands = tmp_path / "notify.cfg"
    commands.write_text(
        (NOTIFY / "pop3_ipmon_notify.cfg")
        .read_text()
        .replace("/usr/bin/mail ", f"{sys.executable} {MAIL_RECORDER} {mails} ")
        .replace("/etc/nagios4/pop3_ipmon-webhook.ini", str(config))
    )
    # The contact's _PD_NAGIOS names pd-nagios, not the command line.
    assert "esac\\; $_CONTACTPD_NAGIOS$ -n service " in commands.read_text()
    contacts = tmp_path / "contacts.cfg"
    stand_in = pd_nagios_at(tmp_path / "pd-nagios", pages)
    example = (NOTIFY / "pop3_ipmon_notify_example.cfg").read_text()
    assert f"    _PD_NAGIOS                      {PD_NAGIOS}\n" in example
    contacts.write_text(example.replace(PD_NAGIOS, str(stand_in)))
    objects = tmp_path / "objects.cfg"
    marker = tmp_path / "shell-ran"
    objects.write_text(NAGIOS_OBJECTS.replace("MARKER", str(marker)))
    files = [
        ROOT / "contrib" / "nagios" / "pop3_ipmon_templates.cfg",
        commands,
        contacts,
        objects,
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    # notify/README.md: the webhook reads the notification from the environment.
    nagios = Nagios(
        tmp_path / "nagios",
        files,
        resource={"USER1": str(BIN)},
        settings={"enable_environment_macros": "1"},
    )
    nagios_verdict(nagios)
    nagios.start()
    try:
        steps = [
            "PROCESS_SERVICE_CHECK_RESULT;mail1;POP3;2;POP3 CRITICAL - connection refused",
            "ACKNOWLEDGE_SVC_PROBLEM;mail1;POP3;1;1;0;alice;on it",
            "PROCESS_SERVICE_CHECK_RESULT;mail1;POP3;0;POP3 OK - 0.004 second response time",
        ]
        for count, line in enumerate(steps, 1):
            nagios.command(line)
            wait_until(
                lambda n=count: (
                    min(len(read_lines(mails)), len(read_lines(pages)), len(chat.posts)) >= n
                ),
                60,
                f"notification {count} in all three pipelines",
            )
        time.sleep(1)  # nothing more may come
    finally:
        nagios.stop()
    assert [mail["subject"] for mail in read_lines(mails)] == [
        f"** {kind} Service Alert: mail1/POP3 is {state} **"
        for kind, state in zip(TYPES, ("CRITICAL", "CRITICAL", "OK"))
    ]
    first = read_lines(mails)[0]
    assert first["to"] == ["pop3-admin@example.com"]
    # What the mail says is the alert being sent (issue 18, item 3).
    assert "ipMonitor: Down, alert 1 (notification 1)" in first["body"]
    assert "ipMonitor: Warn (notification 1)" in read_lines(mails)[1]["body"]
    assert "ipMonitor: Up after 1 alert(s) (notification 2)" in read_lines(mails)[2]["body"]
    assert pd_nagios.refused(pages) == []
    paged = pd_nagios.accepted(pages)
    assert [(p["type"], p["host"], p["service"]) for p in paged] == [
        (kind, "mail1", "POP3") for kind in TYPES
    ]
    assert paged[0]["number"] == 1 and paged[0]["state"] == "CRITICAL"
    assert [p["fields"]["POP3_IPMON_STATE"] for p in paged] == ["Down", "Warn", "Up"]
    assert [p["fields"]["SERVICESTATETYPE"] for p in paged] == ["HARD"] * 3
    assert {p["argv"][p["argv"].index("-k") + 1] for p in paged} == {"YOUR-INTEGRATION-KEY"}
    facts = [post.body["notification"] for post in chat.posts]
    assert [(f["type"], f["state"], f["ipmon_state"]) for f in facts] == [
        ("PROBLEM", "CRITICAL", "Down"),
        ("ACKNOWLEDGEMENT", "CRITICAL", "Warn"),
        ("RECOVERY", "OK", "Up"),
    ]
    assert [(f["alert"], f["number"]) for f in facts] == [("1", "1"), ("0", "1"), ("1", "2")]
    assert (facts[0]["number"], facts[1]["author"], facts[1]["comment"]) == ("1", "alice", "on it")
    # The display name is free text: it reaches the webhook intact, and no shell.
    assert facts[0]["monitor_name"] == f'Mail POP3 "$(touch {marker})" `touch {marker}`'
    assert not marker.exists()


# -------------------------------------------------------------------- Icinga 2


def icinga(workdir: Path, *files: Path) -> Icinga2:
    return Icinga2(
        workdir,
        [
            ROOT / "contrib" / "icinga2" / "pop3_ipmon_commands.conf",
            ROOT / "contrib" / "icinga2" / "pop3_ipmon_templates.conf",
            *stock(STOCK_ICINGA2, "icinga2-common"),
            *files,
        ],
        constants={"PluginDir": str(BIN)},
    )


def test_icinga2_accepts_the_notify_files(tmp_path: Path) -> None:
    check = icinga(
        tmp_path,
        ROOT / "contrib" / "icinga2" / "pop3_ipmon_example.conf",
        ROOT / "contrib" / "icinga2" / "pop3_ipmon_notifications.conf",
        NOTIFY / "pop3_ipmon_notify.conf",
        NOTIFY / "pop3_ipmon_notify_example.conf",
    ).validate()
    assert check.returncode == 0, check.stdout
    # pop3_ipmon_notifications.conf's rule plus the three pipelines, for its one service.
    assert "Instantiated 4 Notifications." in check.stdout


ICINGA_OBJECTS = """\
object Host "mail1" {
  check_command = "dummy"
  enable_active_checks = false
  address = "127.0.0.1"
}
object Service "POP3" {
  import "pop3-ipmon-service"
  host_name = "mail1"
  display_name = "Mail POP3 (head office)"
  check_command = "dummy"
  enable_active_checks = false
  vars.pop3_ipmon_failures_per_alert = 1
  max_check_attempts = vars.pop3_ipmon_failures_per_alert
}
object User "pop3-pagerduty" {
  pager = "YOUR-INTEGRATION-KEY"
  vars.pop3_ipmon_pd_nagios = PD_NAGIOS
}
object User "pop3-chat" { }
// The pipelines' commands through the shipped Notification template, which
// computes ipMonitor's state and alert number for them.
apply Notification "pagerduty" to Service {
  import "pop3-ipmon-notification"
  command = "notify-service-by-pagerduty"
  users = [ "pop3-pagerduty" ]
  assign where service.name == "POP3"
}
apply Notification "chat" to Service {
  import "pop3-ipmon-notification"
  command = "pop3-ipmon-webhook"
  users = [ "pop3-chat" ]
  assign where service.name == "POP3"
}
"""


def test_icinga2_pipelines_receive_problem_acknowledgement_recovery(
    tmp_path: Path, chat: ChatServer
) -> None:
    pages = tmp_path / "pd.jsonl"
    stand_in = pd_nagios_at(tmp_path / "pd-nagios", pages)
    objects = tmp_path / "objects.conf"
    objects.write_text(ICINGA_OBJECTS.replace("PD_NAGIOS", string(str(stand_in))))
    # The shipped commands as they are: the user's vars.pop3_ipmon_pd_nagios
    # names another pd-nagios than the default.
    engine = icinga(tmp_path / "icinga2", NOTIFY / "pop3_ipmon_notify.conf", objects)
    webhook_config(engine.dirs["ConfigDir"] / "pop3_ipmon-webhook.ini", chat)
    check = engine.validate()
    assert check.returncode == 0, check.stdout
    engine.start()
    try:
        result = {"type": "Host", "host": "mail1", "exit_status": 0, "plugin_output": "UP"}
        engine.api("POST", "/v1/actions/process-check-result", result)
        service = {"type": "Service", "service": "mail1!POP3"}
        steps = [
            (
                "process-check-result",
                {"exit_status": 2, "plugin_output": "POP3 CRITICAL - refused"},
            ),
            ("acknowledge-problem", {"author": "alice", "comment": "on it", "notify": True}),
            ("process-check-result", {"exit_status": 0, "plugin_output": "POP3 OK - 0.004 s"}),
        ]
        for count, (action, body) in enumerate(steps, 1):
            engine.api("POST", f"/v1/actions/{action}", {**service, **body})
            wait_until(
                lambda n=count: min(len(read_lines(pages)), len(chat.posts)) >= n,
                60,
                f"notification {count} in both pipelines: {engine.diagnostics()[-1500:]}",
            )
        time.sleep(1)
    finally:
        engine.stop()
    assert pd_nagios.refused(pages) == []
    paged = pd_nagios.accepted(pages)
    assert [(p["type"], p["host"], p["service"]) for p in paged] == [
        (kind, "mail1", "POP3") for kind in TYPES
    ]
    assert paged[0]["number"] == 1 and paged[0]["state"] == "CRITICAL"
    assert [(p["fields"]["POP3_IPMON_STATE"], p["fields"]["POP3_IPMON_ALERT"]) for p in paged] == [
        ("Down", "1"),
        ("Down", "1"),
        ("Up", "1"),  # at the RECOVERY: the number of alerts sent
    ]
    assert [p["fields"]["SERVICESTATETYPE"] for p in paged] == ["HARD"] * 3
    facts = [post.body["notification"] for post in chat.posts]
    assert [(f["type"], f["state"], f["ipmon_state"]) for f in facts] == [
        ("PROBLEM", "CRITICAL", "Down"),
        ("ACKNOWLEDGEMENT", "CRITICAL", "Down"),
        ("RECOVERY", "OK", "Up"),
    ]
    assert [f["alert"] for f in facts] == ["1", "1", "1"]
    assert (facts[0]["number"], facts[1]["author"], facts[1]["comment"]) == ("1", "alice", "on it")
    assert facts[0]["monitor_name"] == "Mail POP3 (head office)"
