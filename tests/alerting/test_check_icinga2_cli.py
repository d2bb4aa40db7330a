"""check-icinga2's target and client: only from private files and options, queries only.

Against a local HTTPS server answering as Icinga 2's API does: the queries
are POSTs with X-HTTP-Method-Override: GET and the credentials from the
file; a 404 (Icinga 2's answer to a missing permission too) is one line
naming the permission, exit 3; an unverifiable certificate, a trickling
server and bad files are one line each, exit 3, never the password.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from check_pop3_ipmon.alerting import generate, icinga2_target
from check_pop3_ipmon.alerting.icinga2_api import ApiError
from tests.support.icinga2 import keep_secret

PASSWORD = "s3cret-" + secrets.token_hex(8)

NODE = {
    "apilisteners": [{"name": "api", "attrs": {"identity": "m1", "accept_config": False}}],
    "notificationcomponents": [{"name": "notification", "attrs": {"enable_ha": True}}],
    "icingaapplications": [{"name": "app", "attrs": {"enable_notifications": True}}],
    "zones": [{"name": "master", "attrs": {"parent": "", "endpoints": ["m1"], "global": False}}],
    "endpoints": [{"name": "m1", "attrs": {"host": "", "port": "5665"}}],
}
SERVICE = {
    "name": "h!s",
    "attrs": {
        "host_name": "h",
        "name": "s",
        "vars": {
            "pop3_ipmon_alerting": True,
            "pop3_ipmon_failures_per_alert": 3,
            "pop3_ipmon_max_alerts": 3,
            "pop3_ipmon_down_interval": 5,
            "pop3_ipmon_up_interval": 60,
        },
        "max_check_attempts": 3,
        "retry_interval": 5,
        "check_interval": 60,
        "volatile": True,
    },
}
NOTIFICATION = {
    "name": "h!s!ipmon",
    "attrs": {
        "host_name": "h",
        "service_name": "s",
        "templates": ["ipmon", "pop3-ipmon-notification"],
        "interval": 15,
        "times": {"end": 44},
    },
}


class Api:
    def __init__(self, cert: trustme.LeafCert) -> None:
        self.requests: list[dict[str, Any]] = []
        self.missing: set[str] = set()
        self.trickle = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                api.requests.append(
                    {
                        "path": self.path,
                        "override": self.headers.get("X-HTTP-Method-Override"),
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                plural = self.path.rsplit("/", 1)[-1]
                if plural in api.missing:
                    status, body = 404, {"error": 404, "status": "No objects found."}
                else:
                    results = {"services": [SERVICE], "notifications": [NOTIFICATION]}
                    status, body = 200, {"results": {**NODE, **results}.get(plural, [])}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for byte in data if api.trickle else [data]:
                    time.sleep(api.trickle)
                    self.wfile.write(bytes([byte]) if api.trickle else data)  # type: ignore[arg-type]
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The trickle's reader hangs up mid-answer: expected, not worth a traceback.
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api(ca: trustme.CA) -> Iterator[Api]:
    server = Api(ca.issue_cert("127.0.0.1"))
    yield server
    server.server.shutdown()
    server.server.server_close()


def config(directory: Path, text: str, mode: int = 0o600) -> Path:
    path = keep_secret(directory / "check.ini", text)
    path.chmod(mode)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = generate.main(argv)
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, out + err


def test_the_queries_and_their_findings(
    api: Api, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(
        tmp_path,
        f"[icinga2-api]\nurl = {api.url}\nca = {ca_file}\n"
        f"username = checker\npassword = {PASSWORD}\n",
    )
    code, out = run(["check-icinga2", str(path)], capsys)
    assert (code, out) == (
        2,
        "error: service 'h!s': volatile is true: Icinga 2 then turns HARD at failure 1 and "
        "notifies on every failed test; ipMonitor's services are not volatile\n"
        "1 service(s) with ipMonitor alerting, 1 node(s): 1 error(s), 0 warning(s)\n",
    )
    token = "Basic " + b64encode(f"checker:{PASSWORD}".encode()).decode()
    assert {(r["override"], r["auth"]) for r in api.requests} == {("GET", token)}
    assert [r["path"] for r in api.requests] == [
        "/v1/objects/services",
        "/v1/objects/notifications",
        "/v1/objects/apilisteners",
        "/v1/objects/notificationcomponents",
        "/v1/objects/icingaapplications",
        "/v1/objects/zones",
        "/v1/objects/endpoints",
    ]
    assert api.requests[0]["body"]["filter"] == "service.vars.pop3_ipmon_alerting == true"


def test_a_missing_permission_is_unknown_naming_it(
    api: Api, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = config(tmp_path, f"username = checker\npassword = {PASSWORD}\n")
    api.missing.add("zones")
    argv = ["check-icinga2", "--api-url", api.url, "--api-ca", str(ca_file)]
    code, out = run([*argv, "--api-credentials", str(credentials)], capsys)
    assert (code, out) == (
        3,
        f"pop3_ipmon_config check-icinga2: UNKNOWN: {api.url}: cannot query Zone objects "
        "(HTTP 404: Icinga 2's answer when the API user lacks objects/query/Zone)\n",
    )


def test_a_certificate_it_cannot_verify(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    path = config(
        tmp_path, f"[icinga2-api]\nurl = {api.url}\nca = {other}\nusername = c\npassword = x\n"
    )
    code, out = run(["check-icinga2", str(path)], capsys)
    assert code == 3
    assert out.startswith(
        f"pop3_ipmon_config check-icinga2: UNKNOWN: {api.url}/v1/objects/services: "
        "[SSL: CERTIFICATE_VERIFY_FAILED]"
    ), out
    assert out.count("\n") == 1
    assert api.requests == []


def test_one_deadline_bounds_a_trickling_server(
    api: Api, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.trickle = 0.2  # a byte every 0.2 s: each read well within any socket timeout
    path = config(
        tmp_path,
        f"[icinga2-api]\nurl = {api.url}\nca = {ca_file}\nusername = c\npassword = x\n"
        "timeout = 1.5\n",
    )
    started = time.monotonic()
    code, out = run(["check-icinga2", str(path)], capsys)
    assert time.monotonic() - started < 5
    assert (code, out) == (
        3,
        f"pop3_ipmon_config check-icinga2: UNKNOWN: {api.url}/v1/objects/services: no answer "
        "within 1.5s\n",
    )


@pytest.mark.parametrize(
    ("text", "mode", "problem"),
    [
        (
            f"[icinga2-api]\nurl = https://m1:5665\nusername = c\npassword = {PASSWORD}\n",
            0o644,
            "API configuration {path} is readable by group or others (mode 0644): refused; "
            "chmod 600 it",
        ),
        (
            "[icinga2-api]\nurl = https://m1:5665\napi_url = x\n",
            0o600,
            "API configuration {path}: unknown key 'api_url' in [icinga2-api]",
        ),
        ("[other]\nurl = x\n", 0o600, "API configuration {path} has no [icinga2-api] section"),
        (
            f"[icinga2-api]\nurl = https://m1:5665\npassword {PASSWORD}\n",
            0o600,
            "API configuration {path}: Source contains parsing errors: '{path}'",
        ),
        (
            "[icinga2-api]\nurl = https://m1:5665\n",
            0o600,
            "no API credentials: give --api-credentials FILE, or credentials = (or username "
            "and password) in an [icinga2-api] section",
        ),
        (
            "[icinga2-api]\nurl = https://c:pw@m1:5665/v1\nusername = c\npassword = x\n",
            0o600,
            "API URL takes no path, query or user: 'https://***@m1:5665/v1'",
        ),
        (
            "[icinga2-api]\nurl = http://m1:5665\nusername = c\npassword = x\n",
            0o600,
            "API URL must be https://HOST[:PORT], not 'http://m1:5665'",
        ),
        (
            "[icinga2-api]\nurl = https://m1\ncredentials = /x\nusername = c\npassword = x\n",
            0o600,
            "API configuration {path}: give credentials = or username and password, not both",
        ),
    ],
)
def test_bad_files_are_one_line_and_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, mode: int, problem: str
) -> None:
    path = config(tmp_path, text, mode)
    code, out = run(["check-icinga2", str(path)], capsys)
    assert (code, out) == (
        3,
        f"pop3_ipmon_config check-icinga2: UNKNOWN: {problem.format(path=path)}\n",
    )


def test_a_credentials_file_others_may_read(tmp_path: Path) -> None:
    credentials = config(tmp_path, f"username = c\npassword = {PASSWORD}\n", 0o640)
    with pytest.raises(ApiError) as raised:
        icinga2_target.resolve(None, ["https://m1:5665"], None, credentials)
    assert str(raised.value) == (
        f"credentials file {credentials} is readable by group or others (mode 0640): refused; "
        "chmod 600 it"
    )


def test_the_options_win_over_the_file(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "[icinga2-api]\nurl = https://a:5665 https://b:5665\nca = /a\nusername = c\npassword = x\n",
    )
    target = icinga2_target.resolve(path, [], None, None)
    assert target.urls == ("https://a:5665", "https://b:5665")
    assert target.ca_file == Path("/a")
    credentials = config(tmp_path / "..", "username = d\npassword = y\n")
    target = icinga2_target.resolve(path, ["https://z:1"], Path("/z"), credentials)
    assert (target.urls, target.ca_file, target.credentials.username) == (
        ("https://z:1",),
        Path("/z"),
        "d",
    )
    assert PASSWORD not in repr(target) and "'y'" not in repr(target)


def test_a_usage_error_is_unknown_and_there_is_no_password_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        generate.main(["check-icinga2", "--api-password", PASSWORD])
    assert raised.value.code == 3
    assert capsys.readouterr().err == (
        "pop3_ipmon_config: error: unrecognized arguments: --api-password\n"
    )
    # The generators still need their definition, and say so.
    assert generate.main(["nagios"]) == 1
    assert capsys.readouterr().err == "pop3_ipmon_config: nagios needs the definition file\n"
