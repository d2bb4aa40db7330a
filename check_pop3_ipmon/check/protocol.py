"""POP3 response lines (RFC 1939, RFC 2449 response codes), parsed strictly.

Server bytes are hostile: nothing here trusts their encoding, length or
content, and everything meant for a status line goes through `sanitise`.
"""

from __future__ import annotations

import re

from check_pop3_ipmon.check.record import Record

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Optional

OK = "+OK"
ERR = "-ERR"

# RFC 2449 section 8: "[" resp-code "]" at the start of the text.
_RESP_CODE = re.compile(r"\[([A-Za-z0-9/_-]+(?: [^\]]*)?)\]")
# Control characters (C0, DEL, C1) and the perfdata separator break status lines;
# bidirectional and zero-width format characters would let a banner reorder or
# hide text of the line it is quoted in ("Trojan Source", CVE-2021-42574).
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f|\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
# RFC 1939 5: "+OK nn mm", then anything; decimal digits only (no sign, no spaces inside).
_STAT = re.compile(r"([0-9]{1,18}) ([0-9]{1,18})(?: .*)?")
BANNER_WIDTH = 80


class Response(Record):
    status: str  # "+OK", "-ERR", or "" for anything that is not POP3
    text: str  # what follows the status indicator, decoded but not sanitised
    code: Optional[str]  # RFC 2449 response code without brackets, if any
    line: str  # the whole line, decoded but not sanitised

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def err(self) -> bool:
        return self.status == ERR


def decode(raw: bytes) -> str:
    """Bytes from the wire as text; invalid UTF-8 must not raise."""
    return raw.decode("utf-8", errors="replace")


def parse_status_line(raw: bytes) -> Response:
    """Parse one response line (without its line ending).

    Status indicators are upper case and end at a space or the end of the
    line: "+ok" and "+OKLAHOMA" are not POP3.
    """
    line = decode(raw)
    for status in (OK, ERR):
        if line == status or line.startswith(status + " "):
            text = line[len(status) + 1 :]
            match = _RESP_CODE.match(text)
            return Response(status, text, match.group(1) if match else None, line)
    return Response("", line, None, line)


def parse_stat(reply: Response) -> Optional[tuple[int, int]]:
    """(messages, octets) from a STAT reply, or None when it is not one."""
    if not reply.ok:
        return None
    match = _STAT.fullmatch(reply.text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def expect_missing(line: str, expected: Sequence[str], require_all: bool = False) -> list[str]:
    """The expected strings that make `line` a mismatch; empty when it matches.

    Plain, case-sensitive substrings, as check_pop's -e (strstr): one found
    is enough, or, with `require_all` (check_pop's -A), every one.
    """
    absent = [text for text in expected if text not in line]
    if require_all or len(absent) == len(expected):
        return absent
    return []


def sanitise(text: str, width: int = BANNER_WIDTH) -> str:
    """Make server text safe for a plugin status line: one line, no `|`, short."""
    clean = " ".join(_UNPRINTABLE.sub(" ", text).split())
    if len(clean) > width:
        clean = clean[: width - 3].rstrip() + "..."
    return clean
