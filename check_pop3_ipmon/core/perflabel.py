"""Per-address perfdata labels that every metric store keeps as one name.

Icinga 2's GraphiteWriter keeps a label's dots as path levels and turns "::"
into ".", so '192.0.2.10_time' became four levels and '::1_time' an empty
one; InfluxDB, PNP4Nagios' RRD file names and OpenTSDB want letters, digits
and "_" as well. An address is written with those only, in one form per
address, so a graph's series keeps its name from one result to the next:

    192.0.2.10      ip4_192_0_2_10
    2001:db8::1     ip6_2001_db8_0_0_0_0_0_1   (all eight groups: no "__",
                                                no dotted IPv4 inside)
    fe80::1%eth0    ip6_fe80_0_0_0_0_0_0_1_eth0 (the zone after them)

The check writes labels with address_label (socket only: --all-addresses
loads nothing more); the report reads them back with label_address, which
also reads the labels of earlier versions ('127.0.0.1_time', '::1_time').
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False  # typing costs the check start-up time
if TYPE_CHECKING:
    from typing import Optional

IP4, IP6 = "ip4_", "ip6_"


def _safe(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in text)


def address_label(ip: str) -> str:
    """The label prefix for an address, without the "_" that joins it to its item."""
    address, _sep, zone = ip.partition("%")
    try:
        return IP4 + "_".join(str(byte) for byte in socket.inet_pton(socket.AF_INET, address))
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except OSError:  # not an address (getaddrinfo gives none such): still a safe name
        return "addr_" + _safe(ip)
    groups = "_".join(f"{int.from_bytes(packed[i : i + 2], 'big'):x}" for i in range(0, 16, 2))
    return IP6 + groups + ("_" + _safe(zone) if zone else "")


def label_address(prefix: str) -> Optional[str]:
    """The address a label prefix names ('ip4_127_0_0_1' or '127.0.0.1'), else None."""
    if prefix.startswith(IP4):
        return _ip4(prefix[len(IP4) :].split("_"))
    if prefix.startswith(IP6):
        return _ip6(prefix[len(IP6) :].split("_"))
    # An earlier version's label: the address as the resolver wrote it.
    import ipaddress

    try:
        ipaddress.ip_address(prefix.split("%", 1)[0])
    except ValueError:
        return None
    return prefix


def _ip4(parts: list[str]) -> Optional[str]:
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        return ".".join(str(int(p)) for p in parts)
    return None


_HEX = frozenset("0123456789abcdef")


def _ip6(parts: list[str]) -> Optional[str]:
    import ipaddress

    groups, zone = parts[:8], parts[8:]
    if len(groups) < 8 or not all(0 < len(g) <= 4 and set(g) <= _HEX for g in groups):
        return None
    if not all(zone):
        return None
    text = str(ipaddress.IPv6Address(b"".join(int(g, 16).to_bytes(2, "big") for g in groups)))
    return f"{text}%{'_'.join(zone)}" if zone else text
