"""What every test shares, whatever the protocol: resolve, connect, TLS and
its certificate, the phases and their times, and the one deadline.

A protocol is a Dialog (pop3.py, smtp.py): the lines it exchanges after the
connection is up, and its own STARTTLS command. This module knows no
protocol; import-linter keeps it so (setup.cfg). Every failure a server can
cause ends up as a `Failure` in the result, never as an exception to the
caller.
"""

from __future__ import annotations

import socket
import time

from check_pop3_ipmon.check.connection import (
    Connection,
    ConnectionClosed,
    Dialer,
    LineTooLong,
    TooManyLines,
)
from check_pop3_ipmon.check.failures import (
    CLOSED,
    CONFIG,
    CONNECT,
    REFUSED,
    RESOLVE,
    TIMEOUT,
    TLS_ERROR,
    TLS_VERIFY,
    TOO_LONG,
)
from check_pop3_ipmon.check.phases import WAITING_FOR
from check_pop3_ipmon.check.record import Record, field
from check_pop3_ipmon.core.deadline import Deadline, DeadlineExpired

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any, ClassVar, Optional

    from check_pop3_ipmon.check.tls import TLSInfo

TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT = "none", "starttls", "implicit"
RESPONSE_LIMIT = 4096


class Endpoint(Record):
    """Where to test, and how to reach it: from the command line, not changed after."""

    host: str
    port: int
    timeout: float
    family: int = socket.AF_UNSPEC
    tls: str = TLS_NONE
    sni: Optional[str] = None
    ca_file: Optional[str] = None
    insecure: bool = False
    tls_min_version: Optional[str] = None


class Failure(Record):
    kind: str  # failures.KINDS
    message: str


class LinkResult(Record):
    """What the connection found; a dialog's result adds what the protocol did."""

    settings: Endpoint
    address: Optional[str] = None  # "127.0.0.1:110" or "[::1]:110" once resolved
    tried: list[str] = field(default_factory=list)  # every address a connect was begun to
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    total: float = 0.0
    failure: Optional[Failure] = None
    tls: Optional[TLSInfo] = None
    transcript: list[str] = field(default_factory=list)


class Dialog:
    """One protocol's side of a session, over the Link's connection."""

    name: ClassVar[str]  # "POP3": the status line's service name

    def __init__(self, link: Link) -> None:
        self.link = link

    def greet(self, conn: Connection) -> None:
        """Read the server's greeting (after implicit TLS, if any)."""
        raise NotImplementedError  # pragma: no cover - every dialog has its own

    def starttls(self, conn: Connection) -> None:
        """Ask for TLS in the protocol's own way; the Link then shakes hands."""
        raise NotImplementedError  # pragma: no cover

    def converse(self, conn: Connection) -> None:
        """Everything between the greeting (or TLS) and the goodbye."""

    def quit(self, conn: Connection) -> None:
        """Say goodbye; a bad goodbye is the dialog's to record, not a failure."""


def _format_address(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def literal_family(host: str) -> Optional[int]:
    """AF_INET or AF_INET6 when `host` is an address literal, else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


def _literal(host: str, port: int) -> Optional[tuple[Any, ...]]:
    """getaddrinfo()'s answer for an address literal, without asking the resolver."""
    family = literal_family(host)
    if family is None:
        return None
    sockaddr = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)


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

    import threading  # only names need it: literals return above

    worker = threading.Thread(target=run, name="resolve", daemon=True)
    worker.start()
    worker.join(deadline.check("resolve"))
    if not answer:
        raise DeadlineExpired("resolve")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    found: list[tuple[Any, ...]] = answer[0]
    return found


def cannot_resolve(host: str, exc: BaseException) -> str:
    if isinstance(exc, FamilyMismatch):
        return str(exc)
    return f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}"


class Link:
    """One session: the connection a dialog talks over, timed phase by phase."""

    def __init__(
        self,
        settings: Endpoint,
        result: LinkResult,
        deadline: Optional[Deadline] = None,
        target: Optional[tuple[int, tuple[Any, ...]]] = None,
        *,
        prefix: str = "",
    ) -> None:
        """`deadline` and `target` (family, sockaddr) come from addresses.py,
        which resolves once and runs one session per address; `prefix` names
        this leg's phases ("smtp_") where a test has more than one."""
        self.settings = settings
        self.deadline = deadline or Deadline(settings.timeout)
        self.target = target
        self.result = result
        self.prefix = prefix
        # A session within a larger test (a poll of --round-trip, an address
        # of --all-addresses) is timed from its own start.
        self.started = self._mark = self.deadline.start if deadline is None else time.monotonic()
        self.phase = "resolve"

    def lap(self, done: str) -> None:
        now = time.monotonic()
        self.result.timings[self.prefix + done] = now - self._mark
        self._mark = now

    def run(self, dialog: Dialog) -> LinkResult:
        s = self.settings
        conn: Optional[Connection] = None
        try:
            conn = self._connect()
            if s.tls == TLS_IMPLICIT:
                self.tls(conn)
            dialog.greet(conn)
            if s.tls == TLS_STARTTLS:
                dialog.starttls(conn)
                self.tls(conn)
            dialog.converse(conn)
            dialog.quit(conn)
        except Stop:
            pass
        except DeadlineExpired as exc:
            waiting_for = WAITING_FOR.get(exc.phase, exc.phase)
            self.fail(TIMEOUT, f"no {waiting_for} within {self.settings.timeout:g}s")
        except OSError as exc:
            # Whatever the network does mid-session (unreachable, TLS record
            # errors): a finding about the service, not a crash.
            self.fail(CLOSED, f"connection failed during {self.phase}: {exc.strerror or exc}")
        finally:
            if conn is not None:
                conn.close()
            self.result.total = time.monotonic() - self.started
        return self.result

    def fail(self, kind: str, message: str) -> None:
        if self.result.failure is None:
            self.result.failure = Failure(kind, message)

    def stop(self, kind: str, message: str) -> Stop:
        self.fail(kind, message)
        return Stop()

    def _resolve(self) -> list[tuple[Any, ...]]:
        s = self.settings
        if self.target is not None:
            family, sockaddr = self.target
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        try:
            infos = resolve(s.host, s.port, s.family, self.deadline)
        except (OSError, UnicodeError) as exc:
            raise self.stop(RESOLVE, cannot_resolve(s.host, exc)) from exc
        self.lap("resolve")
        return infos

    def _connect(self) -> Connection:
        s = self.settings
        infos = self._resolve()
        self.phase = "connect"
        candidates = [(family, sockaddr) for family, _type, _proto, _name, sockaddr in infos]
        dialer = Dialer(candidates, self.deadline, "connect")
        try:
            sock, index = dialer.connect()
        except DeadlineExpired as exc:
            self._tried(candidates, dialer.started, dialer.started - 1)
            if dialer.started > 1:
                raise self.stop(
                    TIMEOUT,
                    f"no connection within {s.timeout:g}s ({dialer.started} addresses tried)",
                ) from exc
            raise
        except OSError as exc:
            self._tried(candidates, dialer.started, dialer.failed)
            if isinstance(exc, ConnectionRefusedError):
                raise self.stop(REFUSED, f"connection refused by {self.result.address}") from exc
            raise self.stop(
                CONNECT, f"cannot connect to {self.result.address or s.host}: {exc.strerror or exc}"
            ) from exc
        self._tried(candidates, dialer.started, index)
        self.lap("connect")
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

    def tls(self, conn: Connection) -> None:
        from check_pop3_ipmon.check import tls

        s = self.settings
        self.phase = "tls"
        try:
            context = tls.make_context(s.ca_file, s.insecure, s.tls_min_version, self.deadline)
        except (OSError, ValueError) as exc:
            raise self.stop(CONFIG, f"cannot use --ca-file {s.ca_file}: {exc}") from exc
        # A server that cannot meet --tls-min-version just fails the handshake.
        hint = f" (with --tls-min-version {s.tls_min_version})" if s.tls_min_version else ""
        try:
            self.result.tls = tls.handshake(conn, context, s.sni or s.host, "tls")
        except tls.TLSFailed as exc:
            if exc.verify:
                raise self.stop(TLS_VERIFY, str(exc)) from exc
            raise self.stop(TLS_ERROR, f"{exc}{hint}") from exc
        except ConnectionClosed as exc:
            raise self.stop(CLOSED, f"{exc} during the TLS handshake{hint}") from exc
        self.lap("tls")


class Stop(Exception):
    """A failure has been recorded; end the session."""


class Phase:
    """One phase of the session: named while it runs, and what the server does
    wrong in it (closing, too long a reply) recorded as the session's Failure.

    A class, not contextlib: the plain check would pay for importing it.
    """

    def __init__(
        self, link: Link, name: str, closed: str, reply: str = "", too_long: str = ""
    ) -> None:
        self.link = link
        self.name = name
        self.closed = closed  # "{exc} <closed>": when the server closed the connection
        # What was too long, "{reply} too long (over N bytes|lines)", or the whole text.
        self.too_long = too_long or f"{reply} too long (over {{limit}} {{unit}})"

    def __enter__(self) -> None:
        self.link.phase = self.name

    def __exit__(self, kind: object, exc: Optional[BaseException], trace: object) -> None:
        if isinstance(exc, ConnectionClosed):
            raise self.link.stop(CLOSED, f"{exc} {self.closed}") from exc
        if isinstance(exc, LineTooLong):
            text = self.too_long.format(limit=exc.limit, unit="bytes")
            raise self.link.stop(TOO_LONG, text) from exc
        if isinstance(exc, TooManyLines):
            text = self.too_long.format(limit=exc.max_lines, unit="lines")
            raise self.link.stop(TOO_LONG, text) from exc
