"""Per-address perfdata labels: one name in every metric store, read back by the report."""

from __future__ import annotations

import re

import pytest

from check_pop3_ipmon.core.perflabel import address_label, label_address
from check_pop3_ipmon.report.perfdata import split_address


@pytest.mark.parametrize(
    ("ip", "label", "address"),
    [
        ("127.0.0.1", "ip4_127_0_0_1", "127.0.0.1"),
        ("192.0.2.10", "ip4_192_0_2_10", "192.0.2.10"),
        ("::1", "ip6_0_0_0_0_0_0_0_1", "::1"),
        ("2001:db8::1", "ip6_2001_db8_0_0_0_0_0_1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:AB", "ip6_2001_db8_0_0_0_0_0_ab", "2001:db8::ab"),
        ("fe80::1%eth0", "ip6_fe80_0_0_0_0_0_0_1_eth0", "fe80::1%eth0"),
        # A zone's dot would be a Graphite level: written "_", read back so.
        ("fe80::1%eth0.100", "ip6_fe80_0_0_0_0_0_0_1_eth0_100", "fe80::1%eth0_100"),
    ],
)
def test_address_labels_round_trip(ip: str, label: str, address: str) -> None:
    assert address_label(ip) == label
    assert re.fullmatch(r"[a-z0-9_]+", label)
    assert label_address(label) == address


def test_embedded_ipv4_is_written_in_hex() -> None:
    """No dotted quad inside an IPv6 label, whichever way the resolver wrote it."""
    assert address_label("::ffff:192.0.2.1") == "ip6_0_0_0_0_0_ffff_c000_201"
    assert address_label("::ffff:c000:201") == "ip6_0_0_0_0_0_ffff_c000_201"


def test_not_an_address_is_still_one_safe_name() -> None:
    assert address_label("pool.example.test") == "addr_pool_example_test"
    assert label_address("addr_pool_example_test") is None


@pytest.mark.parametrize(
    "prefix",
    ["ip4_127_0_0", "ip4_127_0_0_256", "ip4_1_2_3_4_5", "ip6_0_0_0_0_0_0_1", "ip6_0_0_0_0_0_0_0_g",
     "ip6_0_0_0_0_0_0_0_1__x", "ip6_00000_0_0_0_0_0_0_1", "greeting", "", "ip4_"],
)  # fmt: skip
def test_prefixes_that_name_no_address(prefix: str) -> None:
    assert label_address(prefix) is None


@pytest.mark.parametrize(
    ("label", "split"),
    [
        ("ip4_127_0_0_1_time", ("127.0.0.1", "time")),
        ("ip4_127_0_0_1_greeting_time", ("127.0.0.1", "greeting_time")),
        ("ip6_0_0_0_0_0_0_0_1_greeting_time", ("::1", "greeting_time")),
        ("ip6_fe80_0_0_0_0_0_0_1_eth0_connect_time", ("fe80::1%eth0", "connect_time")),
        # Labels of earlier versions, in reports' databases and perfdata files.
        ("127.0.0.1_greeting_time", ("127.0.0.1", "greeting_time")),
        ("::1_time", ("::1", "time")),
        ("fe80::1%eth0_quit_time", ("fe80::1%eth0", "quit_time")),
        ("ip4_127_0_0_1_messages", None),
        ("greeting_time", None),
        ("odd_time", None),
    ],
)
def test_report_reads_old_and_new_labels(label: str, split: object) -> None:
    assert split_address(label) == split
