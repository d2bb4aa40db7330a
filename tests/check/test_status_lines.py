"""Status-line parsing and sanitising (RFC 1939, RFC 2449 response codes)."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.check.protocol import expect_missing, parse_status_line, sanitise


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


@pytest.mark.parametrize(
    ("expected", "require_all", "missing"),
    [
        ((), False, []),
        (("+OK",), False, []),
        (("Dovecot", "Courier"), False, []),  # one is enough, as check_pop's -e
        (("Dovecot", "Courier"), True, ["Courier"]),  # -A: every one
        (("dovecot",), False, ["dovecot"]),  # case matters (strstr)
        (("Courier", "Exchange"), False, ["Courier", "Exchange"]),
        (("(",), False, ["("]),  # a plain string, not a pattern
        (("",), False, []),
        (("ready. ",), False, ["ready. "]),
    ],
)
def test_expect_missing_is_a_plain_substring_match(
    expected: tuple[str, ...], require_all: bool, missing: list[str]
) -> None:
    assert expect_missing("+OK Dovecot ready.", expected, require_all) == missing
