"""Logging in: USER/PASS (RFC 1939), APOP (RFC 1939 7) and SASL PLAIN (RFC 5034, 4616).

Imported only when --login is given, and hashlib and base64 only by the method
that needs them: a greeting-only check pays for none of this. The password is
never written to the transcript (the -vvv output): those lines read ********.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from check_pop3_ipmon.check.capabilities import Capabilities
from check_pop3_ipmon.check.connection import Connection
from check_pop3_ipmon.check.login import AUTH_APOP, AUTH_PLAIN, AUTH_USER, Login
from check_pop3_ipmon.check.protocol import Response, parse_status_line

MASK = "********"
NAMES = {AUTH_USER: "USER", AUTH_APOP: "APOP", AUTH_PLAIN: "SASL PLAIN"}
PLAINTEXT = (AUTH_USER, AUTH_PLAIN)  # the password itself goes over the wire

# RFC 1939 7: the timestamp is a msg-id, "<" local "@" domain ">", printable ASCII.
_TIMESTAMP = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")


def apop_timestamp(greeting: str) -> Optional[str]:
    match = _TIMESTAMP.search(greeting)
    return match.group(0) if match else None


def _offered(capa: Optional[Sequence[str]], timestamp: Optional[str]) -> list[str]:
    if capa:
        offers = Capabilities(capa)
        found = [AUTH_PLAIN] if offers.offers("SASL PLAIN") else []
        found += [AUTH_USER] if offers.offers("USER") else []
    else:
        # No CAPA (an RFC 1939 server): USER/PASS is what such a server speaks.
        found = [AUTH_USER]
    return found + ([AUTH_APOP] if timestamp else [])


def choose(
    capa: Optional[Sequence[str]],
    timestamp: Optional[str],
    encrypted: bool,
    allow_plaintext: bool,
) -> Optional[str]:
    """The best method the server offers that we may use.

    Under TLS: SASL PLAIN (what current clients use), USER, then APOP (whose
    MD5 adds nothing once the channel is encrypted and needs the server to
    keep the password in clear). Without TLS, APOP first: it is the only one
    that does not send the password itself.
    """
    offered = _offered(capa, timestamp)
    order = (AUTH_PLAIN, AUTH_USER, AUTH_APOP) if encrypted else (AUTH_APOP, AUTH_PLAIN, AUTH_USER)
    for method in order:
        if method in offered and (encrypted or allow_plaintext or method not in PLAINTEXT):
            return method
    return None


def nothing_offered(capa: Optional[Sequence[str]], encrypted: bool) -> str:
    where = "" if encrypted else " without TLS"
    if capa:
        return (
            f"no login method offered{where}: CAPA lists neither USER nor SASL PLAIN "
            "and the greeting has no APOP timestamp"
        )
    return f"no login method usable{where}"


def authenticate(
    conn: Connection, method: str, login: Login, timestamp: Optional[str], phase: str
) -> Response:
    """Run the exchange; the last reply tells whether the login succeeded."""
    if method == AUTH_APOP:
        if timestamp is None:
            raise ValueError("APOP needs the greeting's timestamp")
        digest = apop_digest(timestamp, login.password)
        conn.send_line(f"APOP {login.username} {digest}", phase, f"APOP {login.username} {MASK}")
        return _reply(conn, phase)
    if method == AUTH_PLAIN:
        import base64

        conn.send_line("AUTH PLAIN", phase)
        raw = conn.read_line(phase, 4096)
        # RFC 5034 4: "+" and an (empty, for PLAIN) challenge. "-ERR" ends it;
        # anything else (even "+OK") is no login: nothing was sent to check.
        if raw != b"+" and not raw.startswith(b"+ "):
            reply = parse_status_line(raw)
            return reply if reply.err else Response("", reply.line, None, reply.line)
        token = base64.b64encode(f"\0{login.username}\0{login.password}".encode()).decode("ascii")
        conn.send_line(token, phase, MASK)
        return _reply(conn, phase)
    conn.send_line(f"USER {login.username}", phase)
    reply = _reply(conn, phase)
    if not reply.ok:
        return reply
    conn.send_line(f"PASS {login.password}", phase, f"PASS {MASK}")
    return _reply(conn, phase)


def apop_digest(timestamp: str, password: str) -> str:
    import hashlib

    # RFC 1939 7 mandates MD5: the protocol's digest, not our choice.
    return hashlib.md5((timestamp + password).encode("utf-8"), usedforsecurity=False).hexdigest()


def _reply(conn: Connection, phase: str) -> Response:
    return parse_status_line(conn.read_line(phase, 4096))
