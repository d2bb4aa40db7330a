"""The Icinga 2 REST client against a local HTTPS server: requests, auth, errors."""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest
import trustme

from check_pop3_ipmon.alerting import icinga2
from check_pop3_ipmon.alerting.model import Interval, NextAlert, Phase, Publish, Schedule
from tests.support.icinga2 import keep_secret


class FakeApi:
    """Records requests; answers from `replies` (path -> (status, body)), else 200."""

    def __init__(self, cert: trustme.LeafCert, client_ca: Optional[trustme.CA] = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: dict[str, tuple[int, Any]] = {}
        self.delay = 0.0  # seconds before each reply's body, sent a byte at a time
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                api.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "accept": self.headers.get("Accept"),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                status, body = api.replies.get(self.path, (200, {"results": [{"code": 200}]}))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if api.delay:  # a trickle: each byte well within any socket timeout
                    for byte in data[:10]:
                        time.sleep(api.delay / 10)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    data = data[10:]
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        if client_ca is not None:
            client_ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api(ca: trustme.CA) -> Iterator[FakeApi]:
    api = FakeApi(ca.issue_cert("127.0.0.1"))
    yield api
    api.close()


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    return keep_secret(
        tmp_path / "api.conf", "# handler\nusername = pop3-ipmon\npassword = s3:cr=t\n"
    )


INTERVALS = {Interval.UP: 300, Interval.DOWN: 60, Interval.LOST: 900}


def actions(
    fake_api: FakeApi, ca_file: Path, credentials: Path, gate: bool = True
) -> icinga2.Icinga2Actions:
    api = icinga2.Icinga2Api(
        fake_api.url, credentials=icinga2.read_credentials(credentials), ca_file=ca_file
    )
    return icinga2.Icinga2Actions(
        api, "mail 1", "POP3/head office", intervals=INTERVALS, check_time=1000.25, gate=gate
    )


def test_every_action_as_a_request(fake_api: FakeApi, ca_file: Path, credentials: Path) -> None:
    service = actions(fake_api, ca_file, credentials)
    service.perform(Publish(Phase.DOWN, 2, 6))
    service.perform(NextAlert(2, 3))  # close the gate
    service.perform(NextAlert(None))  # closed already: no request
    service.perform(NextAlert(1, 3))  # open it for alert 3
    service.perform(Schedule(Interval.LOST, False))
    service.perform(Schedule(Interval.UP, True))
    path = "/v1/objects/services/mail%201!POP3%2Fhead%20office"
    token = "Basic " + base64.b64encode(b"pop3-ipmon:s3:cr=t").decode()
    assert all(r["auth"] == token and r["accept"] == "application/json" for r in fake_api.requests)
    gate_filter = {
        "filter": "notification.host_name == h && notification.service_name == s",
        "filter_vars": {"h": "mail 1", "s": "POP3/head office"},
    }
    assert [(r["path"], r["body"]) for r in fake_api.requests] == [
        (
            path,
            {
                "attrs": {
                    "vars.pop3_ipmon_state": "Down",
                    "vars.pop3_ipmon_alert": 2,
                    "vars.pop3_ipmon_failures": 6,
                }
            },
        ),
        ("/v1/objects/notifications", {**gate_filter, "attrs": {"times": icinga2.CLOSED}}),
        (
            "/v1/objects/notifications",
            {**gate_filter, "attrs": {"times": {"begin": 0}, "notification_number": 2}},
        ),
        (path, {"attrs": {"check_interval": 900}}),
        (path, {"attrs": {"check_interval": 300}}),
        (
            "/v1/actions/reschedule-check",
            {"type": "Service", "service": "mail 1!POP3/head office", "next_check": 1300.25},
        ),
    ]


def test_a_service_without_notifications_has_no_gate(
    fake_api: FakeApi, ca_file: Path, credentials: Path
) -> None:
    fake_api.replies["/v1/objects/notifications"] = (
        404,
        {"error": 404, "status": "No objects found."},
    )
    actions(fake_api, ca_file, credentials).perform(NextAlert(2, 1))
    assert len(fake_api.requests) == 1


def test_refusals_are_errors_with_icinga_s_reason(
    fake_api: FakeApi, ca_file: Path, credentials: Path
) -> None:
    service = actions(fake_api, ca_file, credentials)
    fake_api.replies["/v1/actions/reschedule-check"] = (
        403,
        {"error": 403, "status": "No objects found."},
    )
    with pytest.raises(icinga2.ApiError, match=r"HTTP 403 No objects found\."):
        service.perform(Schedule(Interval.UP, True))
    # Icinga 2 answers 500 with per-object codes when a modification fails.
    fake_api.replies["/v1/objects/services/mail%201!POP3%2Fhead%20office"] = (
        500,
        {"results": [{"code": 500, "status": "Attribute 'check_interval' could not be set"}]},
    )
    with pytest.raises(icinga2.ApiError, match="HTTP 500"):
        service.perform(Schedule(Interval.LOST, False))


def test_certificate_is_verified(fake_api: FakeApi, credentials: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    api = icinga2.Icinga2Api(
        fake_api.url, credentials=icinga2.read_credentials(credentials), ca_file=other
    )
    with pytest.raises(icinga2.ApiError, match="CERTIFICATE_VERIFY_FAILED"):
        api.request("/v1/actions/send-custom-notification", {})
    assert fake_api.requests == []


def test_client_certificate_instead_of_a_password(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    """ApiUser client_cn: the node's own certificate, no secret to keep."""
    api_server = FakeApi(ca.issue_cert("127.0.0.1"), client_ca=ca)
    try:
        client = ca.issue_cert("agent1.example.test")
        cert, key = tmp_path / "agent1.crt", tmp_path / "agent1.key"
        client.cert_chain_pems[0].write_to_path(str(cert))
        client.private_key_pem.write_to_path(str(key))
        api = icinga2.Icinga2Api(api_server.url, ca_file=ca_file, client_cert=cert, client_key=key)
        api.request("/v1/actions/send-custom-notification", {"x": 1})
        assert api_server.requests == [
            {
                "path": "/v1/actions/send-custom-notification",
                "auth": None,
                "accept": "application/json",
                "body": {"x": 1},
            }
        ]
        with pytest.raises(icinga2.ApiError, match="client certificate"):
            icinga2.Icinga2Api(api_server.url, ca_file=ca_file, client_cert=tmp_path / "none")
    finally:
        api_server.close()


def test_unreachable_api_is_an_error(credentials: Path, ca_file: Path) -> None:
    from tests.support.integration import free_port

    api = icinga2.Icinga2Api(
        f"https://127.0.0.1:{free_port()}",
        credentials=icinga2.read_credentials(credentials),
        ca_file=ca_file,
        timeout=5,
    )
    with pytest.raises(icinga2.ApiError, match="Connection refused"):
        api.request("/v1/status", {})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://icinga:5665", "must be https"),
        ("https://", "must be https"),
        ("https://icinga:5665/v1", "takes no path"),
        ("https://user@icinga:5665", "takes no path"),
    ],
)
def test_api_url_is_checked(url: str, message: str, credentials: Path) -> None:
    with pytest.raises(icinga2.ApiError, match=message):
        icinga2.Icinga2Api(url, credentials=icinga2.read_credentials(credentials))


def test_api_needs_a_way_to_authenticate() -> None:
    with pytest.raises(icinga2.ApiError, match="needs --api-credentials"):
        icinga2.Icinga2Api("https://icinga:5665")


def test_service_name_with_bang_host_is_refused(credentials: Path) -> None:
    api = icinga2.Icinga2Api(
        "https://icinga:5665", credentials=icinga2.read_credentials(credentials)
    )
    with pytest.raises(icinga2.ApiError, match="cannot name service"):
        icinga2.Icinga2Actions(api, "a!b", "s", intervals=INTERVALS, check_time=1)


def test_credentials_readable_by_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "api.conf"
    path.write_text("username = u\npassword = p\n")
    path.chmod(0o640)
    with pytest.raises(icinga2.ApiError, match=r"readable by group or others \(mode 0640\)"):
        icinga2.read_credentials(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("username = u\n", "needs both username and password"),
        ("password = p\n", "needs both username and password"),
        ("username = u\npassword = p\nhost = x\n", "line 3: expected username"),
        ("username u\n", "line 1: expected username"),
    ],
)
def test_credentials_file_format(tmp_path: Path, text: str, message: str) -> None:
    path = keep_secret(tmp_path / "api.conf", text)
    with pytest.raises(icinga2.ApiError, match=message):
        icinga2.read_credentials(path)


def test_credentials_symlink_is_not_followed(tmp_path: Path) -> None:
    target = keep_secret(tmp_path / "real.conf", "username = u\npassword = p\n")
    link = tmp_path / "api.conf"
    os.symlink(target, link)
    with pytest.raises(icinga2.ApiError, match="credentials file"):
        icinga2.read_credentials(link)


# -- issue 10, items 9, 10 and 11 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON answer: RecursionError"),
        ({"results": [{"code": "abc", "status": "odd"}]}, "odd"),
        ({"results": [{"code": [500]}]}, ""),
    ],
)
def test_a_hostile_api_answer_is_one_error_line(
    fake_api: FakeApi, ca_file: Path, credentials: Path, body: Any, problem: str
) -> None:
    """Before: deep JSON (RecursionError) or a code that is not a number (ValueError)
    escaped as a traceback."""
    service = actions(fake_api, ca_file, credentials)
    fake_api.replies[service.object_path] = (200, body)
    with pytest.raises(icinga2.ApiError) as raised:
        service.perform(Publish(Phase.DOWN, 1, 3))
    assert str(raised.value).endswith(problem)


def test_a_password_in_the_api_url_is_not_echoed(credentials: Path) -> None:
    with pytest.raises(icinga2.ApiError) as raised:
        icinga2.Icinga2Api(
            "https://root:s3cret@icinga.example:5665/?key=t0ken",
            credentials=icinga2.read_credentials(credentials),
        )
    message = str(raised.value)
    assert "s3cret" not in message and "t0ken" not in message
    assert message == (
        "API URL takes no path, query or user: 'https://***@icinga.example:5665/?***'"
    )


def test_api_timeout_bounds_all_requests_of_a_run(
    fake_api: FakeApi, ca_file: Path, credentials: Path
) -> None:
    """A server that trickles each reply and closes: before, each request had the
    whole --api-timeout (3 requests of 0.8 s passed a 2 s timeout)."""
    api = icinga2.Icinga2Api(
        fake_api.url, credentials=icinga2.read_credentials(credentials), ca_file=ca_file, timeout=2
    )
    fake_api.delay = 0.8
    api.request("/v1/one", {})
    api.request("/v1/two", {})
    with pytest.raises(icinga2.ApiError) as raised:
        api.request("/v1/three", {})
    assert str(raised.value).endswith(": no answer within 2s")
