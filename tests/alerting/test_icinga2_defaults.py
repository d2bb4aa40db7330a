"""The shipped Icinga 2 EventCommand's defaults, in a real Icinga 2.

- The API URL: with an ApiListener bind_host, the handler must still reach
  the API under the name its certificate carries (the node name), not the
  bound address, or every call fails verification and no alert goes out.
- The host state handed to recovery actions: a host Icinga 2 has not checked
  yet is pending, which $host.state$ calls DOWN; recovery actions must not
  see DOWN (Reboot Server would be skipped) for a host nobody saw down.

One service, always CRITICAL (dummy), F=1 and M=1: alert 1 at its first
failure, with a recovery action (an External Process recording its
environment) and a notification command recording what it gets.
"""

from __future__ import annotations

import http.client
import secrets
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
import trustme

from tests.support import recorder
from tests.support.icinga2 import Icinga2, keep_secret, string
from tests.support.integration import wait_until

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "icinga2"
BIN = Path(sys.executable).parent
ACTION_RECORDER = ROOT / "tests" / "support" / "action_recorder.py"
PASSWORD = secrets.token_hex(16)  # the handler API user's, for this run


class NodeNamedIcinga2(Icinga2):
    """As `node wizard` sets it up: the certificate names the node, not its address.

    The fixture's ApiListener binds 127.0.0.1 (bind_host), so an API URL
    built from that address cannot be verified against this certificate.
    """

    def _make_certificates(self) -> None:
        certs = self.dirs["DataDir"] / "certs"
        certs.mkdir(exist_ok=True)
        self.ca = trustme.CA(key_type=trustme.KeyType.RSA)
        cert = self.ca.issue_cert(
            self.node_name, common_name=self.node_name, key_type=trustme.KeyType.RSA
        )
        self.ca.cert_pem.write_to_path(str(certs / "ca.crt"))
        cert.cert_chain_pems[0].write_to_path(str(certs / f"{self.node_name}.crt"))
        cert.private_key_pem.write_to_path(str(certs / f"{self.node_name}.key"))
        self.ca_file = certs / "ca.crt"

    def _connection(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return http.client.HTTPSConnection(
            self.node_name, self.port, context=context, timeout=timeout
        )


CONFIG = """\
object NotificationCommand "record-notification" {{
  command = {notify}
  env = {{
    POP3_IPMON_TYPE = "$notification.type$"
    POP3_IPMON_SERVICE = "$service.name$"
  }}
}}
object User "recorder" {{}}
object ApiUser "pop3-ipmon" {{
  password = {password}
  permissions = [ "objects/modify/Service", "actions/send-custom-notification" ]
}}
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
  retry_interval = 1s
  vars.pop3_ipmon_down_interval = 1s
  vars.pop3_ipmon_lost_interval = 4s
  vars.pop3_ipmon_failures_per_alert = 1
  vars.pop3_ipmon_max_alerts = 1
  vars.pop3_ipmon_log_file = {log}
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


def start(
    workdir: Path, engine: Callable[..., Icinga2], host_extra: str = ""
) -> tuple[Icinga2, Path, Path]:
    """An Icinga 2 with the shipped commands and templates; its notes and action records."""
    workdir.mkdir()
    notes, actions = workdir / "notifications.jsonl", workdir / "actions.jsonl"
    notify = "[ " + ", ".join(string(part) for part in recorder.command(notes)) + " ]"
    config = workdir / "test.conf"
    config.write_text(
        CONFIG.format(
            notify=notify,
            password=string(PASSWORD),
            host_extra=host_extra,
            log=string(str(workdir / "handler.log")),
        )
    )
    files = [CONTRIB / "pop3_ipmon_commands.conf", CONTRIB / "pop3_ipmon_templates.conf", config]
    icinga = engine(workdir / "icinga2", files, constants={"PluginDir": str(BIN)})
    config_dir = icinga.dirs["ConfigDir"]
    keep_secret(
        config_dir / "pop3_ipmon-api.conf", f"username = pop3-ipmon\npassword = {PASSWORD}\n"
    )
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


def handler_log(workdir: Path) -> str:
    path = workdir / "handler.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no handler log)"


@pytest.fixture
def stopper() -> Iterator[list[Icinga2]]:
    started: list[Icinga2] = []
    yield started
    for icinga in started:
        icinga.stop()


def test_the_default_api_url_passes_verification_with_a_bind_host(
    tmp_path: Path, stopper: list[Icinga2]
) -> None:
    icinga, notes, _ = start(tmp_path / "run", NodeNamedIcinga2)
    stopper.append(icinga)
    try:
        wait_until(lambda: bool(recorder.read(notes)), 60, "alert 1 at the first failure")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nhandler log:\n{handler_log(tmp_path / 'run')}") from None
    assert {record["env"]["POP3_IPMON_SERVICE"] for record in recorder.read(notes)} == {"POP3"}
    assert "certificate verify failed" not in handler_log(tmp_path / "run")


def test_a_pending_host_is_not_down_for_recovery_actions(
    tmp_path: Path, stopper: list[Icinga2]
) -> None:
    # Never checked, for certain: the template's own first check comes at a
    # random moment within a minute of the start.
    icinga, _, actions = start(tmp_path / "run", Icinga2, "  enable_active_checks = false")
    stopper.append(icinga)
    started = time.monotonic()
    try:
        wait_until(actions.exists, 60, "the recovery action of alert 1")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nhandler log:\n{handler_log(tmp_path / 'run')}") from None
    host = icinga.api("GET", "/v1/objects/hosts/mail1")["results"][0]["attrs"]
    assert host["last_check_result"] is None  # still pending: Icinga 2 calls it DOWN
    assert host["state"] == 1
    call = recorder.read(actions)[0]
    assert call["env"]["POP3_IPMON_HOST_STATE"] == "UP"
    assert call["env"]["POP3_IPMON_ALERT"] == "1"
    print(f"recovery action ran {time.monotonic() - started:.1f}s after the start")
