"""Icinga 2's REST API (/v1), read only: object queries for check-icinga2.

Every request is a query: POST with `X-HTTP-Method-Override: GET`, so that
the filter and the attribute list travel in the body, never in a URL a proxy
or the API's own log could keep. The certificate is verified (the cluster's
CA file), the password comes from a file only its owner may read, and one
deadline bounds all requests of a run, a server that trickles its answer
included.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
from base64 import b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from check_pop3_ipmon.alerting.errors import EngineError
from check_pop3_ipmon.core import private_files, redact
from check_pop3_ipmon.core.deadline import Deadline

LIMIT = 16 << 20  # an answer for thousands of services, never unbounded


class ApiError(EngineError):
    """The API refused a query or could not be reached: one line."""


class NotFound(ApiError):
    """HTTP 404: no such object, or (Icinga 2 says the same) not permitted."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never the password, in a traceback or a log
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def parse_credentials(text: str, label: str) -> Credentials:
    """`username = ...` and `password = ...` lines (comments with #)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or key.strip() not in ("username", "password"):
            raise ApiError(f"{label} line {number}: expected username = or password =")
        values[key.strip()] = value.strip()
    if not values.get("username") or "password" not in values:
        raise ApiError(f"{label} needs both username and password")
    return Credentials(values["username"], values["password"])


def read_credentials(path: Path) -> Credentials:
    """The credentials from a file only its owner can read (0600)."""
    label = f"credentials file {path}"
    try:
        text = private_files.read_text(path, label, secret=True, limit=4096)
    except private_files.PrivateFileError as exc:
        raise ApiError(str(exc)) from None
    return parse_credentials(text, label)


def check_url(url: str) -> urllib.parse.SplitResult:
    """An https://HOST[:PORT] URL, or ApiError saying why not (redacted)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise ApiError(f"API URL must be https://HOST[:PORT], not {redact.url(url)!r}")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        # Shown redacted: a password put in the URL must not be printed.
        raise ApiError(f"API URL takes no path, query or user: {redact.url(url)!r}")
    try:
        parsed.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ApiError(f"API URL has a bad port: {redact.url(url)!r}") from None
    return parsed


class Icinga2Query:
    """Queries one node's API."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        ca_file: Optional[Path] = None,
        deadline: Optional[Deadline] = None,
    ) -> None:
        parsed = check_url(url)
        self.base = f"https://{parsed.netloc}"
        self.host = parsed.hostname or ""
        self.port = parsed.port or 443
        self.credentials = credentials
        self.deadline = deadline or Deadline(30.0)
        import ssl

        try:
            self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ApiError(f"CA file {ca_file}: {reason}") from None

    def objects(
        self,
        plural: str,
        attrs: Sequence[str],
        *,
        name: str = "",
        joins: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The `results` of /v1/objects/<plural>[/<name>] with only `attrs`."""
        path = f"/v1/objects/{plural}"
        if name:
            path += "/" + urllib.parse.quote(name, safe="")
        body: dict[str, Any] = {"attrs": list(attrs)}
        if joins:
            body["joins"] = list(joins)
        answer = self.request(path, body)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise ApiError(f"{path}: the answer has no results list")
        return [result for result in results if isinstance(result, dict)]

    def request(self, path: str, body: Mapping[str, Any]) -> Any:
        import http.client

        token = f"{self.credentials.username}:{self.credentials.password}".encode()
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-HTTP-Method-Override": "GET",
            "Authorization": "Basic " + b64encode(token).decode(),
        }
        left = self.deadline.remaining()
        if left <= 0:
            raise ApiError(f"{self.base}{path}: no answer within {self.deadline.seconds:g}s")
        connection = http.client.HTTPSConnection(
            self.host, self.port, timeout=left, context=self.context
        )
        # The socket timeout bounds each read, not the answer: a timer cuts
        # the connection at the deadline.
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
            if expired.is_set() or isinstance(exc, socket.timeout):
                raise ApiError(
                    f"{self.base}{path}: no answer within {self.deadline.seconds:g}s"
                ) from None
            raise ApiError(f"{self.base}{path}: {redact.urls_in(str(exc))}") from None
        finally:
            timer.cancel()
            connection.close()
        if status == 404:
            raise NotFound(f"{self.base}{path}: HTTP 404 {_status(data) or reason}")
        if status >= 300:
            raise ApiError(f"{self.base}{path}: HTTP {status} {_status(data) or reason}")
        try:
            return json.loads(data or b"{}")
        except (ValueError, RecursionError) as exc:
            raise ApiError(f"{self.base}{path}: not a JSON answer: {type(exc).__name__}") from None


def _read_within(connection: Any, response: Any, deadline: Deadline) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline.remaining()
        if left <= 0:
            raise socket.timeout("the deadline passed while the reply came in")
        if connection.sock is not None:
            connection.sock.settimeout(left)
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > LIMIT:
            raise ValueError(f"answer longer than {LIMIT} bytes")


def _cut(connection: Any, expired: threading.Event) -> None:
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _status(data: bytes) -> str:
    detail = data[:2000].decode("utf-8", "replace")
    try:
        parsed = json.loads(detail)
    except ValueError:
        return " ".join(detail.split())[:200]
    if isinstance(parsed, dict):
        return " ".join(str(parsed.get("status") or "").split())[:300]
    return ""
