"""--round-trip: submit a message by SMTP, then find it by POP3, within one deadline.

The message carries a fresh token (a header and its Message-ID); the POP3
leg logs in, lists UIDL and reads the headers (TOP n 0) of messages it has
not seen before, never a body (no RETR). It deletes only messages that carry
a token of its own state file (tokens.py): the one just sent, a late one of
an earlier run, or one counted lost. Imported only with --round-trip: the
plain check pays nothing for it.
"""

from __future__ import annotations

import re
import secrets
import time

from check_pop3_ipmon.check import pop3, smtp
from check_pop3_ipmon.check.failures import DELIVERY
from check_pop3_ipmon.check.link import Failure, Link, Phase
from check_pop3_ipmon.check.record import Record, field
from check_pop3_ipmon.check.tokens import StateError, StateFile, Tokens
from check_pop3_ipmon.core.deadline import Deadline

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Optional

    from check_pop3_ipmon.check.connection import Connection

HEADER = "X-Check-Pop3-Ipmon-Token"
ID_DOMAIN = "check-pop3-ipmon.invalid"  # RFC 6761: never a real domain
TOP_LINE_LIMIT = 1002  # RFC 5322 lines are at most 998 octets
TOP_MAX_LINES = 2000
MAX_LOOKED_AT = 500  # headers read in one session: a huge mailbox is read over several runs
_UIDL_LINE = re.compile(rb"([0-9]{1,9}) ([\x21-\x7e]{1,70})")
# A poll is not begun unless this much of the deadline is left for it.
POLL_MARGIN = 1.0


class RoundTripSettings(Record, kw_only=True):
    smtp: smtp.SmtpSettings
    state_file: Path
    delivery_warn: Optional[float] = None
    delivery_crit: Optional[float] = None  # also how long to wait; None: the whole deadline
    poll_interval: float = 1.0
    lost_after: float = 3600.0


class ScanResult(pop3.ProbeResult):
    # token -> time.monotonic() its headers were read, for the check's own messages
    found: dict[str, float] = field(default_factory=dict)
    deleted: int = 0
    uidls: set[str] = field(default_factory=set)  # every UIDL in the mailbox
    not_ours: list[str] = field(default_factory=list)  # UIDLs read and found not ours


class RoundTripResult(Record):
    settings: RoundTripSettings
    token: str = ""
    smtp: Optional[smtp.SmtpResult] = None
    pop3: Optional[ScanResult] = None  # the last POP3 session
    polls: int = 0
    delivery_time: Optional[float] = None
    failure: Optional[Failure] = None  # the state file, or the message did not arrive
    late: int = 0  # messages of earlier runs found (and deleted) now
    pending: int = 0
    lost: int = 0
    newly_lost: int = 0
    total: float = 0.0
    state_problem: str = ""


def _message(token: str, s: smtp.SmtpSettings, now: float) -> bytes:
    from email.utils import formatdate

    lines = [
        f"From: <{s.mail_from}>",
        f"To: <{s.mail_to}>",
        f"Subject: check_pop3_ipmon round trip {token}",
        f"Date: {formatdate(now)}",
        f"Message-ID: <{token}@{ID_DOMAIN}>",
        f"{HEADER}: {token}",
        "Auto-Submitted: auto-generated",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "A test message of check_pop3_ipmon --round-trip. The check deletes it",
        "when it finds it; it never touches a message without its own token.",
    ]
    return "\r\n".join(lines).encode("ascii")


def headers_token(lines: list[bytes]) -> Optional[str]:
    """The token of a message the check sent: its header and its Message-ID agree."""
    fields: dict[str, str] = {}
    name = ""
    for raw in lines:
        line = raw.decode("ascii", "replace")
        if not line:
            break
        if line[:1] in (" ", "\t") and name:
            fields[name] = f"{fields[name]} {line.strip()}".strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon:
            name = ""
            continue
        fields.setdefault(name, value.strip())
    token = fields.get(HEADER.lower(), "")
    if re.fullmatch(r"[0-9a-f]{32}", token) and fields.get("message-id") == (
        f"<{token}@{ID_DOMAIN}>"
    ):
        return token
    return None


class Scan(pop3.Pop3):
    """The POP3 dialog, then the mailbox read for the check's own messages."""

    def __init__(self, link: Link, result: ScanResult, tokens: Tokens, token: str) -> None:
        super().__init__(link, result)
        self.scan: ScanResult = result
        self.tokens = tokens
        self.token = token

    def converse(self, conn: Connection) -> None:
        super().converse(conn)
        if self.result.messages:
            with Phase(self.link, "stat", "during the mailbox scan", "UIDL/TOP reply"):
                self._scan(conn)

    def _scan(self, conn: Connection) -> None:
        conn.send_line("UIDL", "stat")
        reply = self._read(conn, "stat")
        if not reply.ok:
            raise self.link.stop(
                DELIVERY, f"--round-trip needs UIDL, which the server refuses: {reply.line[:80]}"
            )
        listing = []
        for line in conn.read_multiline("stat", TOP_LINE_LIMIT, 1_000_000):
            match = _UIDL_LINE.fullmatch(line)
            if match is not None:
                listing.append((int(match.group(1)), match.group(2).decode("ascii")))
        self.scan.uidls = {uidl for _n, uidl in listing}
        known = set(self.tokens.not_ours)
        looked_at = 0
        for number, uidl in listing:
            if uidl in known:
                continue
            if looked_at >= MAX_LOOKED_AT:
                break
            looked_at += 1
            conn.send_line(f"TOP {number} 0", "stat")
            reply = self._read(conn, "stat")
            if not reply.ok:
                continue  # gone meanwhile, or refused: not read, not touched
            headers = conn.read_multiline("stat", TOP_LINE_LIMIT, TOP_MAX_LINES)
            token = headers_token(headers)
            if token is None or not (token == self.token or self.tokens.owns(token)):
                self.scan.not_ours.append(uidl)
                continue
            self.scan.found[token] = time.monotonic()
            conn.send_line(f"DELE {number}", "stat")
            if self._read(conn, "stat").ok:
                self.scan.deleted += 1


def _scan(settings: pop3.Settings, tokens: Tokens, token: str, deadline: Deadline) -> ScanResult:
    result = ScanResult(settings)
    link = Link(settings, result, deadline)
    link.run(Scan(link, result, tokens, token))
    return result


def run(settings: pop3.Settings, rt: RoundTripSettings) -> RoundTripResult:
    """The whole round trip within settings.timeout; never raises for what a server does."""
    deadline = Deadline(settings.timeout)
    result = RoundTripResult(rt)
    state = StateFile(rt.state_file)
    try:
        tokens = state.open()
    except StateError as exc:
        result.failure = Failure("config", str(exc))
        return result
    try:
        _run(settings, rt=rt, deadline=deadline, result=result, state=state, tokens=tokens)
    except StateError as exc:
        result.failure = Failure("config", str(exc))
    finally:
        state.close()
        result.total = deadline.elapsed()
    return result


def _run(
    settings: pop3.Settings,
    *,
    rt: RoundTripSettings,
    deadline: Deadline,
    result: RoundTripResult,
    state: StateFile,
    tokens: Tokens,
) -> None:
    result.state_problem = tokens.problem
    now = time.time()
    result.newly_lost = len(tokens.age(now, rt.lost_after))
    token = result.token = secrets.token_hex(16)
    # Saved before sending: a run killed after the SMTP leg still knows its message.
    tokens.pending[token] = now
    state.save(tokens)
    sent = result.smtp = smtp.submit(rt.smtp, _message(token, rt.smtp, now), deadline)
    if not sent.data_sent:
        tokens.forget(token)  # nothing went out
    if sent.accepted is not None:
        _poll(
            settings,
            rt=rt,
            deadline=deadline,
            result=result,
            tokens=tokens,
            token=token,
            accepted_at=time.monotonic(),
        )
    result.pending = len(tokens.pending)
    result.lost = len(tokens.lost)
    state.save(tokens)


def _poll(
    settings: pop3.Settings,
    *,
    rt: RoundTripSettings,
    deadline: Deadline,
    result: RoundTripResult,
    tokens: Tokens,
    token: str,
    accepted_at: float,
) -> None:
    wait_until = deadline.end
    if rt.delivery_crit is not None:
        wait_until = min(wait_until, accepted_at + rt.delivery_crit)
    session_time = 0.0
    while True:
        began = time.monotonic()
        scan = result.pop3 = _scan(settings, tokens, token, deadline)
        result.polls += 1
        session_time = max(session_time, time.monotonic() - began)
        committed = scan.failure is None and scan.quit_problem is None
        if scan.failure is None:
            tokens.remember_not_ours(scan.not_ours, scan.uidls)
        for found, when in scan.found.items():
            if found == token:
                result.delivery_time = when - accepted_at
            else:
                result.late += 1
            # Deleted only once QUIT has committed the DELE (RFC 1939 6).
            if committed:
                tokens.forget(found)
        if scan.failure is not None or result.delivery_time is not None:
            return
        now = time.monotonic()
        if now >= wait_until:
            break
        # The last poll falls on --delivery-crit itself; none starts too late for the deadline.
        pause = min(rt.poll_interval, wait_until - now)
        if deadline.end - (now + pause) < POLL_MARGIN + 2 * session_time:
            break
        time.sleep(pause)
    waited = time.monotonic() - accepted_at
    result.failure = Failure(
        DELIVERY, f"message not delivered within {waited:.1f}s of its submission"
    )
