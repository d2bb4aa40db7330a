"""The POP3 dialog: greeting, [STLS,] [CAPA, login, STAT, --probe,] QUIT.

Over link.py's connection, TLS and deadline; knows nothing of nagiosplugin:
it fills a ProbeResult and the plugin glue decides what state that is.
"""

from __future__ import annotations

import time

from check_pop3_ipmon.check.connection import ConnectionClosed, LineTooLong
from check_pop3_ipmon.check.failures import (
    BUSY,
    ERR_GREETING,
    LOGIN,
    NO_AUTH,
    NO_STARTTLS,
    NOT_SERVICE,
    STAT,
    TLS_ERROR,
)
from check_pop3_ipmon.check.link import (
    RESPONSE_LIMIT,
    TLS_NONE,
    TLS_STARTTLS,
    Dialog,
    Endpoint,
    Link,
    LinkResult,
    Phase,
)
from check_pop3_ipmon.check.login import AUTH_APOP
from check_pop3_ipmon.check.protocol import Response, parse_stat, parse_status_line, sanitise
from check_pop3_ipmon.check.record import field
from check_pop3_ipmon.core.deadline import DeadlineExpired

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional

    from check_pop3_ipmon.check.connection import Connection
    from check_pop3_ipmon.check.login import Login
    from check_pop3_ipmon.core.deadline import Deadline

CAPA_MAX_LINES = 200
# A login refusal's text is the finding itself; allow more of it than of a banner.
LOGIN_REPLY_WIDTH = 160
# --probe's multi-line answers: message 1's header (RFC 5322 lines may be
# 998 octets) or an empty UIDL list.
PROBE_LINE_LIMIT = 1002
PROBE_MAX_LINES = 10000
# Response codes that say "not now", not "not you" (RFC 2449 8.1.1, 8.1.2).
BUSY_CODES = ("LOGIN-DELAY", "IN-USE")


class Settings(Endpoint):
    """What to check, and how: from the command line, not changed after."""

    max_greeting: int = RESPONSE_LIMIT
    read_capa: bool = False  # CAPA where the session ends up (after TLS, if any)
    login: Optional[Login] = None
    probe: tuple[str, ...] = ()  # commands tried after STAT (--probe): UIDL, TOP


class ProbeResult(LinkResult):
    settings: Settings
    greeting_at: Optional[float] = None  # seconds from start to the greeting
    greeting: Optional[Response] = None
    quit_problem: Optional[str] = None
    capa: Optional[list[str]] = None  # the first CAPA read (before STLS, if any)
    capa_tls: Optional[list[str]] = None  # read again after STLS
    capa_refused: Optional[str] = None  # the server's -ERR to CAPA
    # --probe: each command's refusal ("" when it worked, None: not tried)
    probed: dict[str, Optional[str]] = field(default_factory=dict)
    login_method: Optional[str] = None
    messages: Optional[int] = None  # STAT after login
    mailbox_size: Optional[int] = None

    @property
    def final_capa(self) -> Optional[list[str]]:
        """The CAPA that holds as the session ends: after STLS, the one read then."""
        return self.capa_tls if self.settings.tls == TLS_STARTTLS else self.capa


class Pop3(Dialog):
    name = "POP3"

    def __init__(self, link: Link, result: ProbeResult) -> None:
        super().__init__(link)
        self.result = result
        self.settings: Settings = result.settings

    def converse(self, conn: Connection) -> None:
        s = self.settings
        if s.read_capa:
            self._capa(conn)
        if s.login is not None:
            self._login(conn, s.login)
            self._stat(conn)
            if s.probe:
                self._probe(conn, s.probe)

    def _read(self, conn: Connection, phase: str, limit: int = RESPONSE_LIMIT) -> Response:
        return parse_status_line(conn.read_line(phase, limit))

    def greet(self, conn: Connection) -> None:
        too_long = "greeting too long (no end of line within {limit} bytes)"
        with Phase(self.link, "greeting", "before the greeting", too_long=too_long):
            greeting = self._read(conn, "greeting", self.settings.max_greeting)
        self.link.lap("greeting")
        self.result.greeting_at = time.monotonic() - self.link.started
        self.result.greeting = greeting
        if greeting.err:
            raise self.link.stop(ERR_GREETING, f"server refuses service: {sanitise(greeting.line)}")
        if not greeting.ok:
            smtp = greeting.line[:4] in ("220 ", "220-") or greeting.line == "220"
            hint = " (an SMTP or FTP server answers)" if smtp else ""
            raise self.link.stop(
                NOT_SERVICE, f"not a {self.name} greeting{hint}: {sanitise(greeting.line)!r}"
            )

    def _read_capa(self, conn: Connection) -> list[str]:
        """CAPA's list; empty (and `capa_refused` set) when the server refuses it."""
        conn.send_line("CAPA", "capa")
        reply = self._read(conn, "capa")
        if not reply.ok:
            self.result.capa_refused = sanitise(reply.line)
            return []
        body = conn.read_multiline("capa", RESPONSE_LIMIT, CAPA_MAX_LINES)
        return [sanitise(line.decode("utf-8", "replace")) for line in body]

    def starttls(self, conn: Connection) -> None:
        with Phase(self.link, "capa", "before STLS completed", "CAPA reply"):
            capa = self.result.capa = self._read_capa(conn)
            if not any(line.split(" ", 1)[0].upper() == "STLS" for line in capa):
                raise self.link.stop(NO_STARTTLS, "server does not offer STLS")
            self.link.phase = "stls"
            conn.send_line("STLS", "stls")
            reply = self._read(conn, "stls")
        if not reply.ok:
            raise self.link.stop(TLS_ERROR, f"STLS refused: {sanitise(reply.line)}")
        self.link.lap("stls")

    def _capa(self, conn: Connection) -> None:
        """CAPA where the session now is; after STLS a new one (RFC 2595 4)."""
        with Phase(self.link, "capa", "after CAPA", "CAPA reply"):
            capa = self._read_capa(conn)
        if self.settings.tls == TLS_STARTTLS:
            self.result.capa_tls = capa
        else:
            self.result.capa = capa
        self.link.lap("capa")

    def _login(self, conn: Connection, login: Login) -> None:
        from check_pop3_ipmon.check import auth

        self.link.phase = "login"
        greeting = self.result.greeting
        timestamp = auth.apop_timestamp(greeting.line) if greeting is not None else None
        encrypted = self.settings.tls != TLS_NONE
        method = login.method or auth.choose(
            self.result.final_capa, timestamp, encrypted, login.allow_plaintext
        )
        if method is None:
            raise self.link.stop(NO_AUTH, auth.nothing_offered(self.result.final_capa, encrypted))
        if method in auth.PLAINTEXT and not encrypted and not login.allow_plaintext:
            # cli.py refuses this already; the session keeps its own promise.
            raise self.link.stop(NO_AUTH, "refusing to send the password without TLS")
        if method == AUTH_APOP and timestamp is None:
            raise self.link.stop(
                NO_AUTH, "APOP needs a timestamp <...@...> in the greeting; the server sent none"
            )
        self.result.login_method = method
        with Phase(self.link, "login", "during login", "login reply"):
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
        self.link.lap("login")  # a refusal's time counts too: servers delay failed logins
        if not reply.ok:
            user = sanitise(login.username)
            kind = BUSY if _busy(reply) else LOGIN
            line = sanitise(reply.line, LOGIN_REPLY_WIDTH)
            if fallback is not None:
                first = sanitise(refused.line, LOGIN_REPLY_WIDTH)
                raise self.link.stop(
                    kind,
                    f"login as {user} failed (APOP: {first}; then {auth.NAMES[fallback]}: {line})",
                )
            what = f"login as {user} failed ({auth.NAMES[method]})"
            if kind == BUSY:
                what += ", refused for now"
            raise self.link.stop(kind, f"{what}: {line}")

    def _stat(self, conn: Connection) -> None:
        """STAT: messages and octets in the maildrop (RFC 1939 5); read-only."""
        with Phase(self.link, "stat", "after STAT", "STAT reply"):
            conn.send_line("STAT", "stat")
            reply = self._read(conn, "stat")
        figures = parse_stat(reply)
        if figures is None:
            raise self.link.stop(STAT, f"STAT failed: {sanitise(reply.line)}")
        self.result.messages, self.result.mailbox_size = figures
        self.link.lap("stat")

    def _probe(self, conn: Connection, names: Sequence[str]) -> None:
        """--probe: try each command itself, for a server without CAPA (popa3d,
        solid-pop3d answer it -ERR but speak UIDL and TOP). Read-only, on
        message 1 at most; its time is not a phase of its own."""
        with Phase(self.link, "probe", "during --probe", "--probe reply"):
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

    def quit(self, conn: Connection) -> None:
        # The service has answered; a missing or bad QUIT reply is a WARNING
        # (recorded apart from `failure`), not a failed test.
        self.link.phase = "quit"
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
        self.link.lap("quit")
        self.link.phase = "done"
        if not reply.ok:
            self.result.quit_problem = f"QUIT answered {sanitise(reply.line)!r}"


def _busy(reply: Response) -> bool:
    code = (reply.code or "").split(" ", 1)[0].upper()
    return code in BUSY_CODES


def probe(
    settings: Settings,
    deadline: Optional[Deadline] = None,
    target: Optional[tuple[int, tuple[Any, ...]]] = None,
) -> ProbeResult:
    """Run the test. addresses.py passes its `deadline` and one resolved
    `target` (family, sockaddr) for each session it runs at once."""
    result = ProbeResult(settings)
    link = Link(settings, result, deadline, target)
    link.run(Pop3(link, result))
    return result
