"""Macro values are data: only plain host names, NetBIOS names and addresses pass."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.recovery import validate

HOSTILE = [
    "x;touch /tmp/pwned",
    "$(reboot)",
    "`reboot`",
    "mail1 && reboot",
    "mail1|reboot",
    "-oProxyCommand=touch /tmp/pwned",
    "mail1\nreboot",
    "mail1 ",
    "mail1'",
    'mail1"',
    "../../etc/passwd",
    "mail1>out",
    "${IFS}",
    "",
    "a" * 300,
    "-v",
]


@pytest.mark.parametrize(
    "value",
    [
        "mail1",
        "MAIL1",
        "mail1.example.com",
        "mail1.example.com.",
        "mail-01.example.com",
        "FILESRV_01",  # NetBIOS
        "192.0.2.10",
        "2001:db8::10",
        "fe80::1%eth0",
    ],
)
def test_plain_targets_pass(value: str) -> None:
    assert validate.target(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_are_refused_with_the_value_shown(value: str) -> None:
    with pytest.raises(validate.Refused) as raised:
        validate.target(value)
    message = str(raised.value)
    assert "\n" not in message
    if value:
        assert validate.shown(value) in message


@pytest.mark.parametrize("value", ["x;touch /tmp/pwned", "$(reboot)", "a`b`", "m\x00n"])
def test_hostile_host_names_are_refused(value: str) -> None:
    with pytest.raises(validate.Refused):
        validate.host_name(value)


def test_host_names_may_be_display_names() -> None:
    assert validate.host_name("mail server 1") == "mail server 1"


@pytest.mark.parametrize(
    ("platform", "value"),
    [("systemd", "dovecot"), ("systemd", "getty@tty1.service"), ("windows", "MSExchangePOP3")],
)
def test_service_names_on_the_allow_list(platform: str, value: str) -> None:
    assert validate.service_name(value, platform) == value


@pytest.mark.parametrize(
    ("platform", "value"),
    [
        ("systemd", "dovecot;reboot"),
        ("systemd", "-H"),
        ("systemd", "dove cot"),
        ("windows", "MSExchange'; Restart-Computer; '"),
        ("windows", "a@b"),  # fine for systemd, not a Windows service key name
        ("windows", "$(Restart-Computer)"),
    ],
)
def test_service_names_off_the_list_are_refused(platform: str, value: str) -> None:
    with pytest.raises(validate.Refused, match="is not allowed"):
        validate.service_name(value, platform)


def test_monitor_name_is_capped_at_64() -> None:
    assert validate.monitor_name("m" * 64)
    with pytest.raises(validate.Refused, match="longer than 64"):
        validate.monitor_name("m" * 65)


def test_free_text_loses_nul_and_is_bounded() -> None:
    assert validate.text("a\x00b") == "ab"
    assert len(validate.text("x" * 100_000)) == validate.MAX_OUTPUT
