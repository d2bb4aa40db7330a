"""The POP3 test itself: resolve, connect, TLS, greeting, [CAPA, login, STAT,] QUIT.

Knows nothing of nagiosplugin: it returns a ProbeResult and the plugin glue
decides what state that is. Every failure a server can cause ends up as a
`Failure` in the result, never as an exception to the caller.
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
from check_pop3_ipmon.check.login import AUTH_APOP, Login
from check_pop3_ipmon.check.phases import WAITING_FOR
from check_pop3_ipmon.check.protocol import Response, parse_stat, parse_status_line, sanitise
from check_pop3_ipmon.check.record import Record
from check_pop3_ipmon.core.deadline import Deadline, DeadlineExpired

# typing costs start-up time too; annotations are strings here anyway.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional

    from check_pop3_ipmon.check.tls import TLSInfo

TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT = "none", "starttls", "implicit"
CAPA_MAX_LINES = 200
RESPONSE_LIMIT = 4096
# A login refusal's text is the finding itself; allow more of it than of a banner.
LOGIN_REPLY_WIDTH = 160

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
NO_AUTH = "no-auth"  # no usable login method (none offered, no APOP timestamp)
LOGIN = "login"
BUSY = "busy"  # the login refused for now: [LOGIN-DELAY], [IN-USE] (RFC 2449 8.1, 3206)
STAT = "stat"
# --probe's multi-line answers: message 1's header (RFC 5322 lines may be
# 998 octets) or an empty UIDL list.
PROBE_LINE_LIMIT = 1002
PROBE_MAX_LINES = 10000
# Response codes that say "not now", not "not you" (RFC 2449 8.1.1, 8.1.2).
BUSY_CODES = ("LOGIN-DELAY", "IN-USE")


class Settings(Record):
    """What to check, and how: from the command line, not changed after."""

    __slots__ = (
        "ca_file",
        "family",
        "host",
        "insecure",
        "login",
        "max_greeting",
        "port",
        "probe",
        "read_capa",
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
        read_capa: bool = False,  # CAPA where the session ends up (after TLS, if any)
        login: Optional[Login] = None,
        probe: tuple[str, ...] = (),  # commands tried after STAT (--probe): UIDL, TOP
    ) -> None:
        self.probe = probe
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
        self.read_capa = read_capa
        self.login = login


class Failure(Record):
    __slots__ = ("kind", "message")

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message


class ProbeResult(Record):
    __slots__ = (
        "address",
        "capa",
        "capa_refused",
        "capa_tls",
        "failure",
        "greeting",
        "greeting_at",
        "login_method",
        "mailbox_size",
        "messages",
        "probed",
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
        self.capa: Optional[list[str]] = None  # the first CAPA read (before STLS, if any)
        self.capa_tls: Optional[list[str]] = None  # read again after STLS
        self.capa_refused: Optional[str] = None  # the server's -ERR to CAPA
        # --probe: each command's refusal ("" when it worked, None: not tried)
        self.probed: dict[str, Optional[str]] = {}
        self.login_method: Optional[str] = None
        self.messages: Optional[int] = None  # STAT after login
        self.mailbox_size: Optional[int] = None
        self.transcript: list[str] = []

    @property
    def final_capa(self) -> Optional[list[str]]:
        """The CAPA that holds as the session ends: after STLS, the one read then."""
        return self.capa_tls if self.settings.tls == TLS_STARTTLS else self.capa


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


class _Session:
    def __init__(
        self,
        settings: Settings,
        deadline: Optional[Deadline] = None,
        target: Optional[tuple[int, tuple[Any, ...]]] = None,
    ) -> None:
        """`deadline` and `target` (family, sockaddr) come from addresses.py,
        which resolves once and runs one session per address."""
        self.settings = settings
        self.deadline = deadline or Deadline(settings.timeout)
        self.target = target
        self.result = ProbeResult(settings)
        self._started = self._mark = self.deadline.start if target is None else time.monotonic()
        self.phase = "resolve"

    def _lap(self, done: str) -> None:
        now = time.monotonic()
        self.result.timings[done] = now - self._mark
        self._mark = now

    def run(self) -> ProbeResult:
        s = self.settings
        conn: Optional[Connection] = None
        try:
            conn = self._connect()
            if s.tls == TLS_IMPLICIT:
                self._tls(conn)
            self._greeting(conn)
            if s.tls == TLS_STARTTLS:
                self._starttls(conn)
            if s.read_capa:
                self._capa(conn)
            if s.login is not None:
                self._login(conn, s.login)
                self._stat(conn)
                if s.probe:
                    self._probe(conn, s.probe)
            self._quit(conn)
        except _Stop:
            pass
        except DeadlineExpired as exc:
            waiting_for = WAITING_FOR.get(exc.phase, exc.phase)
            self._fail(TIMEOUT, f"no {waiting_for} within {self.settings.timeout:g}s")
        except OSError as exc:
            # Whatever the network does mid-session (unreachable, TLS record
            # errors): a finding about the service, not a crash.
            self._fail(CLOSED, f"connection failed during {self.phase}: {exc.strerror or exc}")
        finally:
            if conn is not None:
                conn.close()
            self.result.total = time.monotonic() - self._started
        return self.result

    def _fail(self, kind: str, message: str) -> None:
        if self.result.failure is None:
            self.result.failure = Failure(kind, message)

    def _stop(self, kind: str, message: str) -> _Stop:
        self._fail(kind, message)
        return _Stop()

    def _resolve(self) -> list[tuple[Any, ...]]:
        s = self.settings
        if self.target is not None:
            family, sockaddr = self.target
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        try:
            infos = resolve(s.host, s.port, s.family, self.deadline)
        except (OSError, UnicodeError) as exc:
            raise self._stop(RESOLVE, cannot_resolve(s.host, exc)) from exc
        self._lap("resolve")
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
        self._lap("connect")
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
        from check_pop3_ipmon.check import tls

        s = self.settings
        self.phase = "tls"
        try:
            context = tls.make_context(s.ca_file, s.insecure, s.tls_min_version, self.deadline)
        except (OSError, ValueError) as exc:
            raise self._stop(CONFIG, f"cannot use --ca-file {s.ca_file}: {exc}") from exc
        # A server that cannot meet --tls-min-version just fails the handshake.
        hint = f" (with --tls-min-version {s.tls_min_version})" if s.tls_min_version else ""
        try:
            self.result.tls = tls.handshake(conn, context, s.sni or s.host, "tls")
        except tls.TLSFailed as exc:
            if exc.verify:
                raise self._stop(TLS_VERIFY, str(exc)) from exc
            raise self._stop(TLS_ERROR, f"{exc}{hint}") from exc
        except ConnectionClosed as exc:
            raise self._stop(CLOSED, f"{exc} during the TLS handshake{hint}") from exc
        self._lap("tls")

    def _read(self, conn: Connection, phase: str, limit: int = RESPONSE_LIMIT) -> Response:
        return parse_status_line(conn.read_line(phase, limit))

    def _greeting(self, conn: Connection) -> None:
        too_long = "greeting too long (no end of line within {limit} bytes)"
        with _Phase(self, "greeting", "before the greeting", too_long=too_long):
            greeting = self._read(conn, "greeting", self.settings.max_greeting)
        self._lap("greeting")
        self.result.greeting_at = time.monotonic() - self._started
        self.result.greeting = greeting
        if greeting.err:
            raise self._stop(ERR_GREETING, f"server refuses service: {sanitise(greeting.line)}")
        if not greeting.ok:
            smtp = greeting.line[:4] in ("220 ", "220-") or greeting.line == "220"
            hint = " (an SMTP or FTP server answers)" if smtp else ""
            raise self._stop(NOT_POP3, f"not a POP3 greeting{hint}: {sanitise(greeting.line)!r}")

    def _read_capa(self, conn: Connection) -> list[str]:
        """CAPA's list; empty (and `capa_refused` set) when the server refuses it."""
        conn.send_line("CAPA", "capa")
        reply = self._read(conn, "capa")
        if not reply.ok:
            self.result.capa_refused = sanitise(reply.line)
            return []
        body = conn.read_multiline("capa", RESPONSE_LIMIT, CAPA_MAX_LINES)
        return [sanitise(line.decode("utf-8", "replace")) for line in body]

    def _starttls(self, conn: Connection) -> None:
        with _Phase(self, "capa", "before STLS completed", "CAPA reply"):
            capa = self.result.capa = self._read_capa(conn)
            if not any(line.split(" ", 1)[0].upper() == "STLS" for line in capa):
                raise self._stop(NO_STLS, "server does not offer STLS")
            self.phase = "stls"
            conn.send_line("STLS", "stls")
            reply = self._read(conn, "stls")
        if not reply.ok:
            raise self._stop(TLS_ERROR, f"STLS refused: {sanitise(reply.line)}")
        self._lap("stls")
        self._tls(conn)

    def _capa(self, conn: Connection) -> None:
        """CAPA where the session now is; after STLS a new one (RFC 2595 4)."""
        with _Phase(self, "capa", "after CAPA", "CAPA reply"):
            capa = self._read_capa(conn)
        if self.settings.tls == TLS_STARTTLS:
            self.result.capa_tls = capa
        else:
            self.result.capa = capa
        self._lap("capa")

    def _login(self, conn: Connection, login: Login) -> None:
        from check_pop3_ipmon.check import auth

        self.phase = "login"
        greeting = self.result.greeting
        timestamp = auth.apop_timestamp(greeting.line) if greeting is not None else None
        encrypted = self.settings.tls != TLS_NONE
        method = login.method or auth.choose(
            self.result.final_capa, timestamp, encrypted, login.allow_plaintext
        )
        if method is None:
            raise self._stop(NO_AUTH, auth.nothing_offered(self.result.final_capa, encrypted))
        if method in auth.PLAINTEXT and not encrypted and not login.allow_plaintext:
            # cli.py refuses this already; the session keeps its own promise.
            raise self._stop(NO_AUTH, "refusing to send the password without TLS")
        if method == AUTH_APOP and timestamp is None:
            raise self._stop(
                NO_AUTH, "APOP needs a timestamp <...@...> in the greeting; the server sent none"
            )
        self.result.login_method = method
        with _Phase(self, "login", "during login", "login reply"):
            reply = auth.authenticate(conn, method, login, timestamp, "login")
            refused = reply
            # GNU mailutils and solid-pop3d put a timestamp in every greeting,
            # but most users have no APOP secret: with no --auth, USER/PASS is
            # tried next where it may be (TLS, or --allow-plaintext-login) -
            # what choose() would have picked without the timestamp.
            fallback = (
                None
                if reply.ok or login.method is not None or method != AUTH_APOP or _busy(reply)
                else auth.choose(self.result.final_capa, None, encrypted, login.allow_plaintext)
            )
            if fallback is not None:
                self.result.login_method = fallback
                reply = auth.authenticate(conn, fallback, login, None, "login")
        self._lap("login")  # a refusal's time counts too: servers delay failed logins
        if not reply.ok:
            user = sanitise(login.username)
            kind = BUSY if _busy(reply) else LOGIN
            line = sanitise(reply.line, LOGIN_REPLY_WIDTH)
            if fallback is not None:
                first = sanitise(refused.line, LOGIN_REPLY_WIDTH)
                raise self._stop(
                    kind,
                    f"login as {user} failed (APOP: {first}; then {auth.NAMES[fallback]}: {line})",
                )
            what = f"login as {user} failed ({auth.NAMES[method]})"
            if kind == BUSY:
                what += ", refused for now"
            raise self._stop(kind, f"{what}: {line}")

    def _stat(self, conn: Connection) -> None:
        """STAT: messages and octets in the maildrop (RFC 1939 5); read-only."""
        with _Phase(self, "stat", "after STAT", "STAT reply"):
            conn.send_line("STAT", "stat")
            reply = self._read(conn, "stat")
        figures = parse_stat(reply)
        if figures is None:
            raise self._stop(STAT, f"STAT failed: {sanitise(reply.line)}")
        self.result.messages, self.result.mailbox_size = figures
        self._lap("stat")

    def _probe(self, conn: Connection, names: Sequence[str]) -> None:
        """--probe: try each command itself, for a server without CAPA (popa3d,
        solid-pop3d answer it -ERR but speak UIDL and TOP). Read-only, on
        message 1 at most; its time is not a phase of its own."""
        with _Phase(self, "probe", "during --probe", "--probe reply"):
            for name in names:
                if name == "TOP" and not self.result.messages:
                    self.result.probed[name] = None  # TOP needs a message to show
                    continue
                command = {"UIDL": "UIDL 1", "TOP": "TOP 1 0"}[name]
                if not self.result.messages:
                    command = "UIDL"  # every message's id: none, in an empty mailbox
                conn.send_line(command, "probe")
                reply = self._read(conn, "probe")
                if reply.ok and command != "UIDL 1":
                    conn.read_multiline("probe", PROBE_LINE_LIMIT, PROBE_MAX_LINES)
                self.result.probed[name] = "" if reply.ok else sanitise(reply.line)

    def _quit(self, conn: Connection) -> None:
        # The service has answered; a missing or bad QUIT reply is a WARNING
        # (recorded apart from `failure`), not a failed test.
        self.phase = "quit"
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
        self._lap("quit")
        self.phase = "done"
        if not reply.ok:
            self.result.quit_problem = f"QUIT answered {sanitise(reply.line)!r}"


def _busy(reply: Response) -> bool:
    code = (reply.code or "").split(" ", 1)[0].upper()
    return code in BUSY_CODES


class _Stop(Exception):
    """A failure has been recorded; end the session."""


class _Phase:
    """One phase of the session: named while it runs, and what the server does
    wrong in it (closing, too long a reply) recorded as the session's Failure.

    A class, not contextlib: the plain check would pay for importing it.
    """

    def __init__(
        self, session: _Session, name: str, closed: str, reply: str = "", too_long: str = ""
    ) -> None:
        self.session = session
        self.name = name
        self.closed = closed  # "{exc} <closed>": when the server closed the connection
        # What was too long, "{reply} too long (over N bytes|lines)", or the whole text.
        self.too_long = too_long or f"{reply} too long (over {{limit}} {{unit}})"

    def __enter__(self) -> None:
        self.session.phase = self.name

    def __exit__(self, kind: object, exc: Optional[BaseException], trace: object) -> None:
        if isinstance(exc, ConnectionClosed):
            raise self.session._stop(CLOSED, f"{exc} {self.closed}") from exc
        if isinstance(exc, LineTooLong):
            text = self.too_long.format(limit=exc.limit, unit="bytes")
            raise self.session._stop(TOO_LONG, text) from exc
        if isinstance(exc, TooManyLines):
            text = self.too_long.format(limit=exc.max_lines, unit="lines")
            raise self.session._stop(TOO_LONG, text) from exc


def probe(
    settings: Settings,
    deadline: Optional[Deadline] = None,
    target: Optional[tuple[int, tuple[Any, ...]]] = None,
) -> ProbeResult:
    """Run the test. addresses.py passes its `deadline` and one resolved
    `target` (family, sockaddr) for each session it runs at once."""
    return _Session(settings, deadline, target).run()
