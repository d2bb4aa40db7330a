"""The POP3 test itself: resolve, connect, TLS, greeting, QUIT; with timings.

Knows nothing of nagiosplugin: it returns a ProbeResult and the plugin glue
decides what state that is. Every failure a server can cause ends up as a
`Failure` in the result, never as an exception to the caller.
"""

from __future__ import annotations

import socket
import threading
import time

from check_pop3_ipmon.connection import (
    Connection,
    ConnectionClosed,
    Dialer,
    LineTooLong,
    TooManyLines,
)
from check_pop3_ipmon.deadline import Deadline, DeadlineExpired
from check_pop3_ipmon.protocol import Response, parse_status_line, sanitise
from check_pop3_ipmon.record import Record

# typing costs start-up time too; annotations are strings here anyway.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from check_pop3_ipmon.tls import TLSInfo

TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT = "none", "starttls", "implicit"
CAPA_MAX_LINES = 200
RESPONSE_LIMIT = 4096

# Failure kinds: the glue maps each to a state (some are configurable).
RESOLVE = "resolve"
REFUSED = "refused"
TIMEOUT = "timeout"
CONNECT = "connect"
TLS_VERIFY = "tls-verify"
TLS_ERROR = "tls"
NO_STLS = "no-stls"
CLOSED = "closed"
TOO_LONG = "too-long"
ERR_GREETING = "err"
NOT_POP3 = "not-pop3"
CONFIG = "config"  # our side is set up wrong (e.g. an unreadable --ca-file): UNKNOWN

# What each phase is called in "no ... within 10s".
_WAITING_FOR = {
    "resolve": "DNS answer",
    "connect": "connection",
    "tls": "TLS handshake",
    "greeting": "greeting",
    "capa": "CAPA reply",
    "stls": "STLS reply",
    "quit": "QUIT reply",
}


class Settings(Record):
    """What to check, and how: from the command line, not changed after."""

    __slots__ = (
        "ca_file",
        "family",
        "host",
        "insecure",
        "max_greeting",
        "port",
        "sni",
        "timeout",
        "tls",
        "tls_min_version",
    )

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        *,
        family: int = socket.AF_UNSPEC,
        tls: str = TLS_NONE,
        sni: Optional[str] = None,
        ca_file: Optional[str] = None,
        insecure: bool = False,
        tls_min_version: Optional[str] = None,
        max_greeting: int = RESPONSE_LIMIT,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.family = family
        self.tls = tls
        self.sni = sni
        self.ca_file = ca_file
        self.insecure = insecure
        self.tls_min_version = tls_min_version
        self.max_greeting = max_greeting


class Failure(Record):
    __slots__ = ("kind", "message")

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message


class ProbeResult(Record):
    __slots__ = (
        "address",
        "capa",
        "failure",
        "greeting",
        "greeting_at",
        "quit_problem",
        "settings",
        "timings",
        "tls",
        "total",
        "transcript",
        "tried",
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.address: Optional[str] = None  # "127.0.0.1:110" or "[::1]:110" once resolved
        self.tried: list[str] = []  # every address a connect was begun to
        self.timings: dict[str, float] = {}  # phase -> seconds
        self.total = 0.0
        self.greeting_at: Optional[float] = None  # seconds from start to the greeting
        self.greeting: Optional[Response] = None
        self.failure: Optional[Failure] = None
        self.quit_problem: Optional[str] = None
        self.tls: Optional[TLSInfo] = None
        self.capa: Optional[list[str]] = None
        self.transcript: list[str] = []


def _format_address(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _literal(host: str, port: int) -> Optional[tuple[Any, ...]]:
    """getaddrinfo()'s answer for an address literal, without asking the resolver."""
    for family, sockaddr in ((socket.AF_INET, (host, port)), (socket.AF_INET6, (host, port, 0, 0))):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)
    return None


class FamilyMismatch(OSError):
    """An address literal of the other family than -4/-6 asks for."""


def resolve(host: str, port: int, family: int, deadline: Deadline) -> list[tuple[Any, ...]]:
    """getaddrinfo() bounded by the deadline.

    getaddrinfo() cannot be interrupted, so a slow resolver runs in a daemon
    thread that we stop waiting for; the process exits without it. Address
    literals skip it: it costs a millisecond or two even for those.
    """
    literal = _literal(host, port)
    if literal is not None:
        if family not in (socket.AF_UNSPEC, literal[0]):
            wanted = "IPv4" if family == socket.AF_INET else "IPv6"
            raise FamilyMismatch(f"{host} is not an {wanted} address")
        return [literal]
    answer: list[Any] = []

    def run() -> None:
        try:
            answer.append(
                socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            )
        except (OSError, UnicodeError) as exc:
            answer.append(exc)

    worker = threading.Thread(target=run, name="resolve", daemon=True)
    worker.start()
    worker.join(deadline.check("resolve"))
    if not answer:
        raise DeadlineExpired("resolve")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    found: list[tuple[Any, ...]] = answer[0]
    return found


class _Session:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.deadline = Deadline(settings.timeout)
        self.result = ProbeResult(settings)
        self._mark = self.deadline.start
        self.phase = "resolve"

    def _lap(self, done: str, next_phase: str) -> None:
        now = time.monotonic()
        self.result.timings[done] = now - self._mark
        self._mark = now
        self.phase = next_phase

    def run(self) -> ProbeResult:
        conn: Optional[Connection] = None
        try:
            conn = self._connect()
            if self.settings.tls == TLS_IMPLICIT:
                self._tls(conn)
            self._greeting(conn)
            if self.settings.tls == TLS_STARTTLS:
                self._starttls(conn)
            self._quit(conn)
        except _Stop:
            pass
        except DeadlineExpired as exc:
            waiting_for = _WAITING_FOR.get(exc.phase, exc.phase)
            self._fail(TIMEOUT, f"no {waiting_for} within {self.settings.timeout:g}s")
        except OSError as exc:
            # Whatever the network does mid-session (unreachable, TLS record
            # errors): a finding about the service, not a crash.
            self._fail(CLOSED, f"connection failed during {self.phase}: {exc.strerror or exc}")
        finally:
            if conn is not None:
                conn.close()
            self.result.total = self.deadline.elapsed()
        return self.result

    def _fail(self, kind: str, message: str) -> None:
        if self.result.failure is None:
            self.result.failure = Failure(kind, message)

    def _stop(self, kind: str, message: str) -> _Stop:
        self._fail(kind, message)
        return _Stop()

    def _connect(self) -> Connection:
        s = self.settings
        try:
            infos = resolve(s.host, s.port, s.family, self.deadline)
        except socket.gaierror as exc:
            raise self._stop(RESOLVE, f"cannot resolve {s.host}: {exc.strerror or exc}") from exc
        except FamilyMismatch as exc:
            raise self._stop(RESOLVE, str(exc)) from exc
        except (OSError, UnicodeError) as exc:
            raise self._stop(RESOLVE, f"cannot resolve {s.host}: {exc}") from exc
        self._lap("resolve", "connect")
        candidates = [(family, sockaddr) for family, _type, _proto, _name, sockaddr in infos]
        dialer = Dialer(candidates, self.deadline, "connect")
        try:
            sock, index = dialer.connect()
        except DeadlineExpired as exc:
            self._tried(candidates, dialer.started, dialer.started - 1)
            if dialer.started > 1:
                raise self._stop(
                    TIMEOUT,
                    f"no connection within {s.timeout:g}s ({dialer.started} addresses tried)",
                ) from exc
            raise
        except OSError as exc:
            self._tried(candidates, dialer.started, dialer.failed)
            if isinstance(exc, ConnectionRefusedError):
                raise self._stop(REFUSED, f"connection refused by {self.result.address}") from exc
            raise self._stop(
                CONNECT, f"cannot connect to {self.result.address or s.host}: {exc.strerror or exc}"
            ) from exc
        self._tried(candidates, dialer.started, index)
        self._lap("connect", "tls" if s.tls == TLS_IMPLICIT else "greeting")
        conn = Connection(sock, self.deadline, self.result.transcript)
        if dialer.reset:
            conn.reset_seen()
        return conn

    def _tried(
        self, candidates: list[tuple[int, Any]], started: int, reported: Optional[int]
    ) -> None:
        """Record the addresses tried and the one the result speaks of."""
        self.result.tried = [
            _format_address(sockaddr) for _family, sockaddr in candidates[:started]
        ]
        if reported is not None and reported >= 0:
            self.result.address = self.result.tried[reported]

    def _tls(self, conn: Connection) -> None:
        from check_pop3_ipmon import tls

        s = self.settings
        try:
            context = tls.make_context(s.ca_file, s.insecure, s.tls_min_version)
        except (OSError, ValueError) as exc:
            raise self._stop(CONFIG, f"cannot use --ca-file {s.ca_file}: {exc}") from exc
        try:
            self.result.tls = tls.handshake(conn, context, s.sni or s.host, "tls")
        except tls.TLSFailed as exc:
            raise self._stop(TLS_VERIFY if exc.verify else TLS_ERROR, str(exc)) from exc
        except ConnectionClosed as exc:
            raise self._stop(CLOSED, f"{exc} during the TLS handshake") from exc
        self._lap("tls", "greeting" if s.tls == TLS_IMPLICIT else "quit")

    def _read(self, conn: Connection, phase: str, limit: int = RESPONSE_LIMIT) -> Response:
        return parse_status_line(conn.read_line(phase, limit))

    def _greeting(self, conn: Connection) -> None:
        try:
            greeting = self._read(conn, "greeting", self.settings.max_greeting)
        except ConnectionClosed as exc:
            raise self._stop(CLOSED, f"{exc} before the greeting") from exc
        except LineTooLong as exc:
            raise self._stop(
                TOO_LONG, f"greeting too long (no end of line within {exc.limit} bytes)"
            ) from exc
        self._lap("greeting", "capa" if self.settings.tls == TLS_STARTTLS else "quit")
        self.result.greeting_at = self.deadline.elapsed()
        self.result.greeting = greeting
        if greeting.err:
            raise self._stop(ERR_GREETING, f"server refuses service: {sanitise(greeting.line)}")
        if not greeting.ok:
            smtp = greeting.line[:4] in ("220 ", "220-") or greeting.line == "220"
            hint = " (an SMTP or FTP server answers)" if smtp else ""
            raise self._stop(NOT_POP3, f"not a POP3 greeting{hint}: {sanitise(greeting.line)!r}")

    def _starttls(self, conn: Connection) -> None:
        try:
            conn.send_line("CAPA", "capa")
            capa: list[str] = []
            if self._read(conn, "capa").ok:
                body = conn.read_multiline("capa", RESPONSE_LIMIT, CAPA_MAX_LINES)
                capa = [sanitise(line.decode("utf-8", "replace")) for line in body]
            self.result.capa = capa
            if not any(line.split(" ", 1)[0].upper() == "STLS" for line in capa):
                raise self._stop(NO_STLS, "server does not offer STLS")
            self.phase = "stls"
            conn.send_line("STLS", "stls")
            reply = self._read(conn, "stls")
        except ConnectionClosed as exc:
            raise self._stop(CLOSED, f"{exc} before STLS completed") from exc
        except LineTooLong as exc:
            raise self._stop(TOO_LONG, f"CAPA reply too long (over {exc.limit} bytes)") from exc
        except TooManyLines as exc:
            raise self._stop(TOO_LONG, f"CAPA reply too long (over {exc.max_lines} lines)") from exc
        if not reply.ok:
            raise self._stop(TLS_ERROR, f"STLS refused: {sanitise(reply.line)}")
        self._lap("stls", "tls")
        self._tls(conn)

    def _quit(self, conn: Connection) -> None:
        # The service has answered; a missing or bad QUIT reply is a WARNING
        # (recorded apart from `failure`), not a failed test.
        try:
            conn.send_line("QUIT", "quit")
            reply = self._read(conn, "quit")
        except DeadlineExpired:
            self.result.quit_problem = f"no reply to QUIT within {self.settings.timeout:g}s"
            return
        except ConnectionClosed as exc:
            self.result.quit_problem = f"no reply to QUIT: {exc}"
            return
        except LineTooLong:
            self.result.quit_problem = "QUIT reply too long"
            return
        except OSError as exc:
            self.result.quit_problem = f"no reply to QUIT: {exc.strerror or exc}"
            return
        self._lap("quit", "done")
        if not reply.ok:
            self.result.quit_problem = f"QUIT answered {sanitise(reply.line)!r}"


class _Stop(Exception):
    """A failure has been recorded; end the session."""


def probe(settings: Settings) -> ProbeResult:
    return _Session(settings).run()
