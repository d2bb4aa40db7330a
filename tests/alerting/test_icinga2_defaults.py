"""The shipped Icinga 2 recovery Notification's defaults, in a real Icinga 2.

The host state handed to recovery actions: a host Icinga 2 has not checked
yet is pending, which $host.state$ calls DOWN; recovery actions must not see
DOWN (Reboot Server would be skipped) for a host nobody saw down.

One service, always CRITICAL (dummy), F=1 and M=1: alert 1 at its first
failure, sent by contrib/icinga2/pop3_ipmon_recovery.conf's Notification to
pop3_ipmon_recovery with a recovery action (an External Process recording
its environment), and by a notification command recording what it gets.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import recorder
from tests.support.icinga2 import Icinga2, string
from tests.support.integration import wait_until

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "icinga2"
BIN = Path(sys.executable).parent
ACTION_RECORDER = ROOT / "tests" / "support" / "action_recorder.py"


CONFIG = """\
object NotificationCommand "record-notification" {{
  command = {notify}
  env = {{
    POP3_IPMON_TYPE = "$notification.type$"
    POP3_IPMON_SERVICE = "$service.name$"
  }}
}}
object User "recorder" {{}}
apply Notification "pop3-ipmon" to Service {{
  import "pop3-ipmon-notification"
  command = "record-notification"
  users = [ "recorder" ]
  assign where service.vars.pop3_ipmon_alerting
}}
object Host "mail1" {{
  import "pop3-ipmon-host"
  address = "127.0.0.1"
{host_extra}
}}
object Service "POP3" {{
  import "pop3-ipmon-service"
  host_name = "mail1"
  check_command = "dummy"
  vars.dummy_state = 2
  vars.dummy_text = "POP3 CRITICAL - connection refused"
  check_interval = 2s
  retry_interval = 10s
  max_check_attempts = 1
  vars.pop3_ipmon_max_alerts = 1
}}
"""

RECOVERY = """\
[recovery]
state_dir = {state}
audit_log = {audit}
syslog = off

[service mail1!POP3]
actions = record
allow_reboot = no

[action record]
type = external-process
alerts = 1-
command = {python} {recorder} {out}
"""


def start(workdir: Path, host_extra: str = "") -> tuple[Icinga2, Path, Path]:
    """An Icinga 2 with the shipped commands, templates and recovery Notification;
    its notes and action records."""
    workdir.mkdir()
    plugins = workdir / "plugins"  # as Debian's links: the recovery command there
    plugins.mkdir()
    os.symlink(BIN / "pop3_ipmon_recovery", plugins / "pop3_ipmon_recovery")
    notes, actions = workdir / "notifications.jsonl", workdir / "actions.jsonl"
    notify = "[ " + ", ".join(string(part) for part in recorder.command(notes)) + " ]"
    config = workdir / "test.conf"
    config.write_text(CONFIG.format(notify=notify, host_extra=host_extra))
    files = [
        CONTRIB / "pop3_ipmon_commands.conf",
        CONTRIB / "pop3_ipmon_templates.conf",
        CONTRIB / "pop3_ipmon_recovery.conf",
        config,
    ]
    icinga = Icinga2(workdir / "icinga2", files, constants={"PluginDir": str(plugins)})
    config_dir = icinga.dirs["ConfigDir"]
    (config_dir / "pop3_ipmon-recovery.ini").write_text(
        RECOVERY.format(
            state=workdir / "recovery-state",
            audit=workdir / "recovery-audit.jsonl",
            python=sys.executable,
            recorder=ACTION_RECORDER,
            out=actions,
        )
    )
    check = icinga.validate()
    assert check.returncode == 0, check.stdout + check.stderr
    icinga.start()
    return icinga, notes, actions


def icinga_log(icinga: Icinga2) -> str:
    return icinga.diagnostics()[-3000:]


@pytest.fixture
def stopper() -> Iterator[list[Icinga2]]:
    started: list[Icinga2] = []
    yield started
    for icinga in started:
        icinga.stop()


def test_a_pending_host_is_not_down_for_recovery_actions(
    tmp_path: Path, stopper: list[Icinga2]
) -> None:
    # Never checked, for certain: the template's own first check comes at a
    # random moment within a minute of the start.
    icinga, notes, actions = start(tmp_path / "run", "  enable_active_checks = false")
    stopper.append(icinga)
    started = time.monotonic()
    try:
        wait_until(actions.exists, 60, "the recovery action of alert 1")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nIcinga 2:\n{icinga_log(icinga)}") from None
    host = icinga.api("GET", "/v1/objects/hosts/mail1")["results"][0]["attrs"]
    assert host["last_check_result"] is None  # still pending: Icinga 2 calls it DOWN
    assert host["state"] == 1
    call = recorder.read(actions)[0]
    assert call["env"]["POP3_IPMON_HOST_STATE"] == "UP"
    assert call["env"]["POP3_IPMON_ALERT"] == "1"
    assert call["env"]["POP3_IPMON_STATE"] == "Down"
    assert call["env"]["POP3_IPMON_ADDRESS"] == "127.0.0.1"
    # The people's notification went out too: the same alert, not instead of it.
    wait_until(lambda: bool(recorder.read(notes)), 30, "the recorder's notification")
    assert recorder.read(notes)[0]["env"]["POP3_IPMON_TYPE"] == "PROBLEM"
    print(f"recovery action ran {time.monotonic() - started:.1f}s after the start")
