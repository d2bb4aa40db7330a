"""The SMTP submission dialog of --round-trip: greeting, EHLO, STARTTLS, EHLO,
AUTH PLAIN or LOGIN, MAIL, RCPT, DATA, QUIT (RFC 5321, 3207, 4954, 6409, 8314).

Over link.py's connection, TLS, certificate checks and deadline, as the POP3
leg: the same verification, SNI and timings. Imported only with --round-trip.
"""

from __future__ import annotations

import base64
import re

from check_pop3_ipmon.check.connection import ConnectionClosed, LineTooLong
from check_pop3_ipmon.check.failures import (
    ERR_GREETING,
    LOGIN,
    NO_AUTH,
    NO_STARTTLS,
    NOT_SERVICE,
    SUBMIT,
    TLS_ERROR,
)
from check_pop3_ipmon.check.link import Dialog, Endpoint, Link, LinkResult, Phase
from check_pop3_ipmon.check.protocol import sanitise
from check_pop3_ipmon.check.record import Record
from check_pop3_ipmon.core.deadline import DeadlineExpired

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

    from check_pop3_ipmon.check.connection import Connection
    from check_pop3_ipmon.core.deadline import Deadline

PREFIX = "smtp_"  # its phases' perfdata labels: smtp_connect_time, ...
REPLY_LIMIT = 4096  # a reply line is at most 512 octets (RFC 5321 4.5.3.1.5)
REPLY_MAX_LINES = 200
_REPLY = re.compile(r"([2-5][0-9][0-9])([ -]?)(.*)")
AUTH_PLAIN, AUTH_LOGIN = "plain", "login"
AUTH_METHODS = (AUTH_PLAIN, AUTH_LOGIN)
REPLY_WIDTH = 160


class Reply(Record):
    code: int  # 0: not an SMTP reply
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        text = " ".join(self.lines)
        return sanitise(f"{self.code} {text}" if self.code else text, REPLY_WIDTH)


class SmtpSettings(Endpoint):
    """The submission server (--smtp-*): TLS always, AUTH always."""

    username: str = ""
    password: str = ""
    auth: Optional[str] = None  # one of AUTH_METHODS; None: PLAIN if offered, else LOGIN
    helo: str = "localhost"
    mail_from: str = ""
    mail_to: str = ""


class SmtpResult(LinkResult):
    settings: SmtpSettings
    greeting: Optional[Reply] = None
    extensions: Optional[list[str]] = None  # EHLO's after TLS
    auth_method: Optional[str] = None
    data_sent: bool = False  # the message went out: it may arrive even if no 250 came
    accepted: Optional[Reply] = None  # the 250 after the message
    quit_problem: Optional[str] = None


class Smtp(Dialog):
    name = "SMTP"

    def __init__(self, link: Link, result: SmtpResult, message: bytes) -> None:
        super().__init__(link)
        self.result = result
        self.settings: SmtpSettings = result.settings
        self.message = message

    def _reply(self, conn: Connection, phase: str) -> Reply:
        lines: list[str] = []
        code = 0
        while True:
            line = conn.read_line(PREFIX + phase, REPLY_LIMIT).decode("utf-8", "replace")
            match = _REPLY.fullmatch(line)
            if match is None or (code and int(match.group(1)) != code):
                return Reply(0, (*lines, line))
            code = int(match.group(1))
            lines.append(match.group(3))
            if match.group(2) != "-":
                return Reply(code, tuple(lines))
            if len(lines) >= REPLY_MAX_LINES:
                return Reply(0, tuple(lines))

    def _command(self, conn: Connection, line: str, phase: str, shown: str = "") -> Reply:
        conn.send_line(line, PREFIX + phase, shown or None)
        return self._reply(conn, phase)

    def _phase(self, name: str, what: str) -> Phase:
        return Phase(self.link, PREFIX + name, f"before the {what}", what)

    def greet(self, conn: Connection) -> None:
        with self._phase("greeting", "SMTP greeting"):
            greeting = self._reply(conn, "greeting")
        self.link.lap("greeting")
        self.result.greeting = greeting
        if greeting.code == 220:
            return
        if greeting.code in (421, 554):
            raise self.link.stop(ERR_GREETING, f"SMTP server refuses service: {greeting.text}")
        raise self.link.stop(NOT_SERVICE, f"not an SMTP greeting: {greeting.text!r}")

    def _ehlo(self, conn: Connection) -> list[str]:
        with self._phase("ehlo", "EHLO reply"):
            reply = self._command(conn, f"EHLO {self.settings.helo}", "ehlo")
        if reply.code != 250:
            raise self.link.stop(SUBMIT, f"SMTP EHLO refused: {reply.text}")
        return [sanitise(line) for line in reply.lines[1:]]

    def starttls(self, conn: Connection) -> None:
        extensions = self._ehlo(conn)
        if not any(line.upper() == "STARTTLS" for line in extensions):
            raise self.link.stop(NO_STARTTLS, "SMTP server does not offer STARTTLS")
        with self._phase("starttls", "STARTTLS reply"):
            reply = self._command(conn, "STARTTLS", "starttls")
        if reply.code != 220:
            raise self.link.stop(TLS_ERROR, f"SMTP STARTTLS refused: {reply.text}")
        self.link.lap("starttls")

    def converse(self, conn: Connection) -> None:
        self.result.extensions = self._ehlo(conn)  # after TLS, a new one (RFC 3207 4.2)
        self.link.lap("ehlo")
        self._auth(conn)
        self._submit(conn)

    def _offered(self) -> list[str]:
        for line in self.result.extensions or ():
            words = line.upper().split()
            if words and words[0] == "AUTH":
                return [word.lower() for word in words[1:]]
        return []

    def _auth(self, conn: Connection) -> None:
        s = self.settings
        offered = self._offered()
        method = s.auth or next((m for m in AUTH_METHODS if m in offered), None)
        if method is None:
            raise self.link.stop(
                NO_AUTH,
                "SMTP server offers no AUTH PLAIN or LOGIN"
                + (f" (it offers {', '.join(offered).upper()})" if offered else ""),
            )
        self.result.auth_method = method
        with self._phase("auth", "AUTH reply"):
            if method == AUTH_PLAIN:
                blob = _b64(f"\0{s.username}\0{s.password}")
                reply = self._command(conn, f"AUTH PLAIN {blob}", "auth", "AUTH PLAIN <hidden>")
            else:
                reply = self._command(conn, "AUTH LOGIN", "auth")
                if reply.code == 334:
                    reply = self._command(conn, _b64(s.username), "auth", "<user>")
                if reply.code == 334:
                    reply = self._command(conn, _b64(s.password), "auth", "<hidden>")
        self.link.lap("auth")
        if reply.code != 235:
            raise self.link.stop(
                LOGIN,
                f"SMTP login as {sanitise(s.username)} failed ({method.upper()}): {reply.text}",
            )

    def _submit(self, conn: Connection) -> None:
        s = self.settings
        with self._phase("submit", "reply to the message"):
            for command, wanted in (
                (f"MAIL FROM:<{s.mail_from}>", (250,)),
                (f"RCPT TO:<{s.mail_to}>", (250, 251)),
                ("DATA", (354,)),
            ):
                reply = self._command(conn, command, "submit")
                if reply.code not in wanted:
                    verb = command.split(":")[0].split()[0]
                    raise self.link.stop(
                        SUBMIT, f"SMTP server refused the message ({verb}): {reply.text}"
                    )
            self.result.data_sent = True
            for line in self.message.split(b"\r\n"):
                text = line.decode("ascii")
                conn.send_line("." + text if text.startswith(".") else text, PREFIX + "submit")
            reply = self._command(conn, ".", "submit")
        self.link.lap("submit")
        if reply.code != 250:
            raise self.link.stop(SUBMIT, f"SMTP server refused the message: {reply.text}")
        self.result.accepted = reply

    def quit(self, conn: Connection) -> None:
        # The message is in (or the failure recorded): a bad goodbye is a detail.
        self.link.phase = PREFIX + "quit"
        try:
            reply = self._command(conn, "QUIT", "quit")
        except DeadlineExpired:
            self.result.quit_problem = "no reply to SMTP QUIT within the deadline"
            return
        except (ConnectionClosed, LineTooLong, OSError) as exc:
            self.result.quit_problem = f"no reply to SMTP QUIT: {exc}"
            return
        self.link.lap("quit")
        if reply.code != 221:
            self.result.quit_problem = f"SMTP QUIT answered {reply.text!r}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def submit(
    settings: SmtpSettings, message: bytes, deadline: Optional[Deadline] = None
) -> SmtpResult:
    """Send `message` (CRLF lines, ASCII); the result says whether it was accepted."""
    result = SmtpResult(settings)
    link = Link(settings, result, deadline, prefix=PREFIX)
    link.run(Smtp(link, result, message))
    return result
