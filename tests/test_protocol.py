"""Status-line parsing and sanitising (RFC 1939, RFC 2449 response codes)."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.protocol import parse_status_line, sanitise


@pytest.mark.parametrize(
    ("raw", "status", "text", "code"),
    [
        (b"+OK Dovecot ready.", "+OK", "Dovecot ready.", None),
        (b"+OK", "+OK", "", None),
        (b"-ERR [SYS/TEMP] busy", "-ERR", "[SYS/TEMP] busy", "SYS/TEMP"),
        (b"-ERR [IN-USE] locked", "-ERR", "[IN-USE] locked", "IN-USE"),
        (b"-ERR", "-ERR", "", None),
        (b"+ok fine", "", "+ok fine", None),
        (b"+OKLAHOMA", "", "+OKLAHOMA", None),
        (b"-ERRORS", "", "-ERRORS", None),
        (b"220 smtp ready", "", "220 smtp ready", None),
        (b"+OK \xff\xfe bad utf-8", "+OK", "\ufffd\ufffd bad utf-8", None),
    ],
)
def test_parse_status_line(raw: bytes, status: str, text: str, code: str) -> None:
    response = parse_status_line(raw)
    assert (response.status, response.text, response.code) == (status, text, code)
    assert response.ok == (status == "+OK")
    assert response.err == (status == "-ERR")


def test_sanitise_removes_controls_and_pipes_and_cuts() -> None:
    assert sanitise("a|b\x00c\x1b[0m\x7f\x85d\te") == "a b c [0m d e"
    long = sanitise("x" * 200)
    assert len(long) == 80 and long.endswith("...")
    assert sanitise("y" * 80) == "y" * 80
