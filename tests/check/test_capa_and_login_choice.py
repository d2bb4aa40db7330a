"""The pure parts of CAPA policy and login: what is offered, what is chosen."""

from __future__ import annotations

from typing import Optional

import pytest

from check_pop3_ipmon.check.auth import apop_digest, apop_timestamp, choose
from check_pop3_ipmon.check.capabilities import Capabilities, missing, normalise_name
from check_pop3_ipmon.check.login import Login
from check_pop3_ipmon.check.session import Settings

DOVECOT = ["CAPA", "TOP", "UIDL", "RESP-CODES", "USER", "SASL PLAIN LOGIN", "EXPIRE NEVER"]


@pytest.mark.parametrize(
    ("name", "offered"),
    [
        ("UIDL", True),
        ("uidl", True),
        ("PLAIN", True),  # a SASL mechanism on its own
        ("SASL PLAIN", True),
        ("SASL PLAIN LOGIN", True),
        ("SASL CRAM-MD5", False),
        ("CRAM-MD5", False),
        ("EXPIRE NEVER", True),
        ("EXPIRE 30", False),
        ("STLS", False),
        ("SASL", True),
        ("", False),
    ],
)
def test_offers(name: str, offered: bool) -> None:
    assert Capabilities(DOVECOT).offers(name) is offered


def test_plaintext_auth() -> None:
    assert Capabilities(DOVECOT).plaintext_auth() == ["USER", "SASL PLAIN", "SASL LOGIN"]
    assert Capabilities(["SASL GSSAPI CRAM-MD5", "STLS"]).plaintext_auth() == []


def test_missing_looks_for_stls_before_tls_only() -> None:
    before, after = ["STLS", "SASL"], ["USER", "SASL PLAIN"]
    assert missing(["STLS", "USER", "PLAIN"], after, before) == []
    assert missing(["STLS", "USER", "TOP"], before, after) == ["STLS", "USER", "TOP"]
    # A CAPA never read (the session failed first) judges nothing.
    assert missing(["STLS", "USER"], None, before) == []
    assert missing(["STLS", "USER"], after, None) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [("uidl", "UIDL"), (" sasl  plain ", "SASL PLAIN"), ("UIDL;rm", None), ("", None)],
)
def test_normalise_name(text: str, name: Optional[str]) -> None:
    assert normalise_name(text) == name


def test_apop_follows_rfc_1939s_example() -> None:
    greeting = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"
    assert apop_timestamp(greeting) == "<1896.697170952@dbc.mtview.ca.us>"
    assert apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") == (
        "c4c9334bac560ecc979e58001b3e22fb"
    )
    for greeting in ("+OK ready", "+OK <no-at-sign>", "+OK <a@b c>", "+OK a@b"):
        assert apop_timestamp(greeting) is None, greeting


@pytest.mark.parametrize(
    ("capa", "timestamp", "encrypted", "allow", "chosen"),
    [
        (DOVECOT, "<1@h>", True, False, "plain"),
        (DOVECOT, "<1@h>", False, True, "apop"),
        (DOVECOT, None, False, True, "plain"),
        (DOVECOT, None, False, False, None),
        (["USER"], None, True, False, "user"),
        (["SASL"], "<1@h>", False, False, "apop"),
        (["SASL"], None, True, False, None),
        (None, None, True, False, "user"),  # no CAPA: an RFC 1939 server speaks USER
        ([], "<1@h>", True, False, "user"),
    ],
)
def test_choose(
    capa: Optional[list[str]],
    timestamp: Optional[str],
    encrypted: bool,
    allow: bool,
    chosen: Optional[str],
) -> None:
    assert choose(capa, timestamp, encrypted, allow) == chosen


def test_settings_repr_hides_the_password() -> None:
    settings = Settings("127.0.0.1", 110, 10.0, login=Login("alice", "wonderland-secret"))
    assert "alice" in repr(settings)
    assert "wonderland-secret" not in repr(settings)
