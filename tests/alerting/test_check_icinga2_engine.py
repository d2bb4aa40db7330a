"""pop3_ipmon_config check-icinga2 against a real Icinga 2, as the documented ApiUser.

The ApiUser is the one contrib/README.md shows ("Icinga 2 API user for
check-icinga2"), taken from the page itself: its permission filters must
let it read the ipMonitor services and their Notifications, and nothing
else (an unrelated service is a 404, as a missing one), and it can change
nothing. A correct configuration is OK (exit 0); each mistake is one exact
error line (exit 2); the old gate's leftover `times.begin`, a modified
attribute set through the API, is found, and the command the line gives
removes it. The credentials never appear on the command line or in the
output; a credentials file others may read is refused (exit 3).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.check_icinga2 import documented_api_user
from tests.support.icinga2 import TEST_USER, Icinga2, keep_secret

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "icinga2"
BIN = Path(sys.executable).parent
PASSWORD = "check-" + os.urandom(12).hex()


# The shipped commands and templates; the services from pop3_ipmon_config
# (the good one) or by hand (the mistakes). Checks off: only the objects count.
DEFINITION = """\
[good]
name = good
host = h
address = 127.0.0.1
enabled = no
store_statistics = no
contacts = someone
up_interval = 60
down_interval = 5
failures_per_alert = 3
max_alerts = 3
timeout = 4
"""
OBJECTS = """\
object NotificationCommand "record" { command = [ "/bin/true" ] }
object EventCommand "pop3_ipmon_alert" { command = [ "/bin/true" ] }
object User "someone" {}
apply Notification "ipmon" to Service {
  import "pop3-ipmon-notification"
  command = "record"
  users = [ "someone" ]
  assign where service.vars.pop3_ipmon_alerting == true
}
// Someone else's, on every service and on the host: never the check's business.
apply Notification "ticket" to Service {
  command = "record"
  users = [ "someone" ]
  assign where true
}
apply Notification "host-ticket" to Host {
  command = "record"
  users = [ "someone" ]
  assign where true
}
object Service "unrelated" {
  host_name = "h"; check_command = "dummy"; enable_active_checks = false
}
"""
BROKEN = """\
object Host "h" { import "pop3-ipmon-host"; address = "127.0.0.1"; enable_active_checks = false }
template Service "off" { import "pop3-ipmon-service"; enable_active_checks = false }
object Service "attempts" { import "off"; host_name = "h"; max_check_attempts = 1 }
object Service "volatile" { import "off"; host_name = "h"; volatile = true }
object Service "handler" { import "off"; host_name = "h"; event_command = "pop3_ipmon_alert" }
object Service "gated" { import "off"; host_name = "h" }
"""


def start(workdir: Path, broken: bool) -> Icinga2:
    workdir.mkdir()
    objects = workdir / "objects.conf"
    objects.write_text(OBJECTS)
    services = workdir / "services.conf"
    if broken:
        services.write_text(BROKEN)
    else:
        definition = workdir / "monitors.ini"
        definition.write_text(DEFINITION)
        subprocess.run(
            [str(BIN / "pop3_ipmon_config"), "icinga2", str(definition), "-o", str(services)],
            check=True,
        )
    shipped = [CONTRIB / "pop3_ipmon_commands.conf", CONTRIB / "pop3_ipmon_templates.conf"]
    icinga = Icinga2(
        workdir / "icinga2",
        [*shipped, objects, services],
        constants={"PluginDir": "/usr/lib/nagios/plugins", "PluginContribDir": str(BIN)},
        extra_config=documented_api_user(PASSWORD),
    )
    icinga.start()
    return icinga


@pytest.fixture
def good(tmp_path: Path) -> Iterator[Icinga2]:
    icinga = start(tmp_path / "good", broken=False)
    try:
        yield icinga
    finally:
        icinga.stop()


def api_file(icinga: Icinga2, directory: Path) -> Path:
    return keep_secret(
        directory / "check.ini",
        f"[icinga2-api]\nurl = https://127.0.0.1:{icinga.port}\nca = {icinga.ca_file}\n"
        f"username = pop3-ipmon-check\npassword = {PASSWORD}\n",
    )


def check(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "pop3_ipmon_config"), "check-icinga2", *argv]
    assert not any(PASSWORD in word for word in command)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_a_correct_configuration_is_ok_and_the_user_sees_nothing_else(
    good: Icinga2, tmp_path: Path
) -> None:
    done = check(str(api_file(good, tmp_path)))
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "1 service(s) with ipMonitor alerting, 1 node(s): 0 error(s), 0 warning(s)\n",
        "",
    )

    # The same from the options, the file after them (intermixed).
    credentials = keep_secret(
        tmp_path / "credentials", f"username = pop3-ipmon-check\npassword = {PASSWORD}\n"
    )
    url = f"https://127.0.0.1:{good.port}"
    done = check(
        "--api-url", url, "--api-ca", str(good.ca_file), "--api-credentials", str(credentials)
    )
    assert done.returncode == 0, done.stdout

    # The documented user reads only the ipMonitor services and their Notifications.
    import http.client
    import json
    import ssl
    from base64 import b64encode

    def as_checker(path: str, body: object, override: str = "GET") -> tuple[int, object]:
        context = ssl.create_default_context(cafile=str(good.ca_file))
        connection = http.client.HTTPSConnection("127.0.0.1", good.port, context=context)
        token = b64encode(f"pop3-ipmon-check:{PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        if override:
            headers["X-HTTP-Method-Override"] = override
        connection.request("POST", path, json.dumps(body), headers)
        response = connection.getresponse()
        payload = json.loads(response.read() or b"null")
        connection.close()
        return response.status, payload

    assert as_checker("/v1/objects/services/h!good", {"attrs": ["name"]})[0] == 200
    assert as_checker("/v1/objects/services/h!unrelated", {"attrs": ["name"]})[0] == 404
    assert as_checker("/v1/objects/notifications/h!unrelated!ticket", {"attrs": []})[0] == 404
    assert as_checker("/v1/objects/notifications/h!host-ticket", {"attrs": []})[0] == 404
    status, answer = as_checker("/v1/objects/notifications", {"attrs": ["__name"]})
    assert status == 200
    assert isinstance(answer, dict)
    assert sorted(item["name"] for item in answer["results"]) == ["h!good!ipmon", "h!good!ticket"]
    # It can change nothing: a modification is refused, the service unchanged.
    status, _ = as_checker(
        "/v1/objects/services/h!good", {"attrs": {"max_check_attempts": 9}}, override=""
    )
    assert status >= 400
    assert good.service("h", "good")["max_check_attempts"] == 3


def test_a_credentials_file_others_may_read_is_refused(good: Icinga2, tmp_path: Path) -> None:
    config = api_file(good, tmp_path)
    config.chmod(0o644)
    done = check(str(config))
    assert (done.returncode, done.stdout) == (
        3,
        f"pop3_ipmon_config check-icinga2: UNKNOWN: API configuration {config} is readable by "
        "group or others (mode 0644): refused; chmod 600 it\n",
    )


def test_each_mistake_is_one_exact_error_and_the_gate_leftover_can_be_removed(
    tmp_path: Path,
) -> None:
    icinga = start(tmp_path / "broken", broken=True)
    try:
        # The old gate: times.begin ten years ahead on every Notification of
        # the service, through the API as the old handler did it.
        icinga.api(
            "POST",
            "/v1/objects/notifications",
            {
                "filter": 'notification.host_name == "h" && notification.service_name == "gated"',
                "attrs": {"times": {"begin": 315360000}},
            },
        )
        config = api_file(icinga, tmp_path)
        done = check(str(config))
        url = f"https://127.0.0.1:{icinga.port}"

        def hint(name: str) -> str:
            script = f'get_object(Notification, "{name}").restore_attribute("times")'
            return (
                f"icinga2 console --connect {url}/ --eval {shlex.quote(script)} (as an ApiUser "
                "with permission console, in ICINGA2_API_USERNAME and ICINGA2_API_PASSWORD), or "
                'stop Icinga 2, delete the object\'s modify_attribute("times", ...) line in '
                "DataDir/modified-attributes.conf (/var/lib/icinga2/) and start it"
            )

        gate = (
            "times.begin 315360000s (3650 days) is a modified attribute (the old gate's, kept "
            "across restarts): PROBLEM notifications wait for it; remove it: "
        )
        assert done.returncode == 2, done.stdout
        assert sorted(done.stdout.splitlines()) == sorted(
            [
                "error: service 'h!attempts': max_check_attempts 1 is not the failures per "
                "alert 3: Icinga 2 must turn HARD (ipMonitor's Down) at failure 3, where it "
                "sends alert 1",
                "error: service 'h!volatile': volatile is true: Icinga 2 then turns HARD at "
                "failure 1 and notifies on every failed test; ipMonitor's services are not "
                "volatile",
                "error: service 'h!handler': event_command is pop3_ipmon_alert (the old "
                "design's handler): remove it; Icinga 2 now sends ipMonitor's alerts on its own",
                f"error: notification 'h!gated!ipmon': {gate}{hint('h!gated!ipmon')}",
                f"error: notification 'h!gated!ticket': {gate}{hint('h!gated!ticket')}",
                "4 service(s) with ipMonitor alerting, 1 node(s): 5 error(s), 0 warning(s)",
            ]
        ), done.stdout

        # The line's own command, as an administrator would paste it.
        line = next(x for x in done.stdout.splitlines() if "'h!gated!ipmon'" in x)
        command = shlex.split(line.split("remove it: ", 1)[1].split(" (as an ApiUser", 1)[0])
        assert command[:2] == ["icinga2", "console"]
        env = {
            **os.environ,
            "ICINGA2_API_USERNAME": TEST_USER,
            "ICINGA2_API_PASSWORD": icinga.password,
        }
        restored = subprocess.run(
            [icinga.binary, *command[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        notification = icinga.api("GET", "/v1/objects/notifications/h!gated!ipmon")
        attrs = notification["results"][0]["attrs"]
        assert attrs["times"] == {"end": 539}  # the template's (M-1) F Down + F Down - 1s
        assert not attrs["original_attributes"]
        done = check(str(config))
        assert "'h!gated!ipmon'" not in done.stdout
        assert "'h!gated!ticket'" in done.stdout
    finally:
        icinga.stop()
