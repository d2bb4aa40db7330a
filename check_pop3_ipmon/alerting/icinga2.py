"""Icinga 2: actions through its REST API (/v1), with certificate verification.

The REST API takes intervals in seconds (the external command pipe's
CHANGE_*_INTERVAL take minutes) and works from any node that can reach the
zone's endpoint, which a satellite or agent running our handler needs. The
password never travels on a command line: it comes from a file only its owner
may read. Alternatively a client certificate authenticates (ApiUser client_cn).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from check_pop3_ipmon.alerting.errors import EngineError
from check_pop3_ipmon.alerting.model import Interval, NextAlert, Publish
from check_pop3_ipmon.core import private_files, redact
from check_pop3_ipmon.core.deadline import Deadline

if TYPE_CHECKING:
    from check_pop3_ipmon.alerting.model import Action

AUTHOR = "pop3_ipmon"


class ApiError(EngineError):
    """The API refused a request or could not be reached."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def read_credentials(path: Path) -> Credentials:
    """`username = ...` and `password = ...` lines from a file only its owner can read."""
    try:
        text = private_files.read_text(path, f"credentials file {path}", secret=True, limit=4096)
    except private_files.PrivateFileError as exc:
        raise ApiError(str(exc)) from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or key.strip() not in ("username", "password"):
            raise ApiError(
                f"credentials file {path} line {number}: expected username = or password ="
            )
        values[key.strip()] = value.strip()
    if not values.get("username") or "password" not in values:
        raise ApiError(f"credentials file {path} needs both username and password")
    return Credentials(values["username"], values["password"])


class Icinga2Api:
    def __init__(
        self,
        url: str,
        *,
        credentials: Optional[Credentials] = None,
        ca_file: Optional[Path] = None,
        client_cert: Optional[Path] = None,
        client_key: Optional[Path] = None,
        timeout: float = 10.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ApiError(f"API URL must be https://HOST[:PORT], not {redact.url(url)!r}")
        if parsed.path not in ("", "/") or parsed.query or parsed.username:
            # Shown redacted: a password put in the URL must not reach the log.
            raise ApiError(f"API URL takes no path, query or user: {redact.url(url)!r}")
        if credentials is None and client_cert is None:
            raise ApiError("the API needs --api-credentials or a client certificate")
        self.base = f"https://{parsed.netloc}"
        self.host = parsed.hostname
        try:
            self.port = parsed.port or 443
        except ValueError:
            raise ApiError(f"API URL has a bad port: {redact.url(url)!r}") from None
        self.credentials = credentials
        self.timeout = timeout
        # One deadline for every request of this run, not --api-timeout each:
        # a server that answers slowly and closes after each reply would
        # otherwise hold the handler for requests x timeout.
        self.deadline = Deadline(timeout)
        import ssl

        self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if client_cert is not None:
            try:
                self.context.load_cert_chain(
                    str(client_cert), str(client_key) if client_key else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise ApiError(f"client certificate {client_cert}: {exc}") from None

    def request(self, path: str, body: Mapping[str, Any], missing_ok: bool = False) -> Any:
        import http.client

        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.credentials is not None:
            token = f"{self.credentials.username}:{self.credentials.password}".encode()
            headers["Authorization"] = "Basic " + b64encode(token).decode()
        left = self.deadline.remaining()
        if left <= 0:
            raise ApiError(f"{self.base}{path}: no answer within {self.timeout:g}s")
        connection = http.client.HTTPSConnection(
            self.host, self.port, timeout=left, context=self.context
        )
        # The socket timeout bounds each read, not the answer: a peer that
        # sends a byte now and then would hold the handler past the engine's
        # own timeout. A timer cuts the connection at the deadline.
        expired = threading.Event()
        timer = threading.Timer(left, _cut, (connection, expired))
        timer.daemon = True
        timer.start()
        try:
            connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            data = _read_within(connection, response, self.deadline)
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if expired.is_set() or isinstance(exc, socket.timeout):  # TimeoutError in 3.10+
                # Its own text varies ("timed out", "_ssl.c:989: The handshake ...").
                raise ApiError(f"{self.base}{path}: no answer within {self.timeout:g}s") from None
            raise ApiError(f"{self.base}{path}: {redact.urls_in(str(exc))}") from None
        finally:
            timer.cancel()
            connection.close()
        if status == 404 and missing_ok:
            return {}
        if status >= 300:
            detail = data[:2000].decode("utf-8", "replace")
            raise ApiError(f"{path}: HTTP {status} {_status(detail) or reason}")
        try:
            answer = json.loads(data or b"{}")
        except (ValueError, RecursionError) as exc:  # deep nesting: RecursionError
            raise ApiError(f"{self.base}{path}: not a JSON answer: {type(exc).__name__}") from None
        for result in answer.get("results", []) if isinstance(answer, dict) else []:
            if isinstance(result, dict) and _failed(result):
                raise ApiError(f"{path}: {str(result.get('status', ''))[:300]}")
        return answer


def _read_within(connection: Any, response: Any, deadline: Deadline, limit: int = 1 << 20) -> bytes:
    """The reply's body, read chunk by chunk while the deadline lasts: a body that
    trickles in (a byte within every socket timeout) must not outlast it."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        left = deadline.remaining()
        if left <= 0:
            raise socket.timeout("the deadline passed while the reply came in")
        if connection.sock is not None:
            connection.sock.settimeout(left)
        chunk = response.read1(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit]


def _failed(result: Mapping[str, Any]) -> bool:
    """A result with a code of 300 or more, or one that is not a number (refused)."""
    code = result.get("code", 200)
    if isinstance(code, bool) or not isinstance(code, (int, float)):
        try:
            code = float(str(code)[:20])
        except ValueError:
            return True
    return not code < 300


def _cut(connection: Any, expired: threading.Event) -> None:
    """Shut the connection's socket down under a read blocked in another thread."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            # The plain socket's shutdown: SSLSocket's would race the reader.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _status(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail[:200]
    if isinstance(data, dict):
        return str(data.get("status") or data.get("results") or "")[:300]
    return ""


# A closed gate: PROBLEM notifications of the service wait for `times.begin`
# after its last HARD state change, which for a volatile service is its last
# check: ten years, so the notification timer never reaches it either.
CLOSED = {"begin": 10 * 365 * 86400}
OPEN = {"begin": 0}


class Icinga2Actions:
    """Performs our actions on one service.

    The service is volatile: each HARD non-OK result asks its notifications
    for a PROBLEM. Their `times.begin` is the gate that lets only the alert
    failures through; RECOVERY and ACKNOWLEDGEMENT never pass that filter.
    """

    def __init__(
        self,
        api: Icinga2Api,
        host: str,
        service: str,
        *,
        intervals: dict[Interval, float],
        check_time: float,
        gate: bool = True,
    ) -> None:
        if "!" in host or not host or not service:
            raise ApiError(f"cannot name service {service!r} on host {host!r} in the API")
        self.api = api
        self.host = host
        self.service = service
        self.full_name = f"{host}!{service}"
        self.object_path = "/v1/objects/services/" + "!".join(
            urllib.parse.quote(part, safe="") for part in (host, service)
        )
        self.intervals = intervals
        self.check_time = check_time
        self.gate = gate

    def perform(self, action: Action) -> None:
        if isinstance(action, Publish):
            attrs = {
                "vars.pop3_ipmon_state": action.phase.value,
                "vars.pop3_ipmon_alert": action.alert,
                "vars.pop3_ipmon_failures": action.failures,
            }
            self.api.request(self.object_path, {"attrs": attrs})
        elif isinstance(action, NextAlert):
            if not action.gate and not self.gate:
                return  # closed already (opening is always sent: it must not be missed)
            gate: dict[str, Any] = {"times": OPEN if action.gate else CLOSED}
            if action.gate and action.number:
                # Icinga 2 counts every notification it tried (a Recovery
                # nobody was owed, an Acknowledgement): the alert's number
                # is ours to give, as Nagios' is by itself.
                gate["notification_number"] = action.number - 1
            body = {
                "filter": "notification.host_name == h && notification.service_name == s",
                "filter_vars": {"h": self.host, "s": self.service},
                "attrs": gate,
            }
            # A service without notifications has nothing to gate.
            self.api.request("/v1/objects/notifications", body, missing_ok=True)
            self.gate = action.gate
        else:
            seconds = self.intervals[action.interval]
            self.api.request(self.object_path, {"attrs": {"check_interval": seconds}})
            if action.move:
                schedule = {
                    "type": "Service",
                    "service": self.full_name,
                    "next_check": self.check_time + seconds,
                }
                self.api.request("/v1/actions/reschedule-check", schedule)
