"""Is a target this very machine? Reboot Server must never point at it.

A rebooted monitoring server takes every check and handler with it, so the
test is deliberately broad: loopback and unspecified addresses, every address
this machine can bind (which covers all its interfaces without parsing them),
its host name and FQDN (also as a NetBIOS-style short name), and every address
the target name resolves to. A name that does not resolve in time is refused
too: we cannot show it is someone else.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from typing import Optional, Union

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def own_address(address: Address) -> bool:
    """Loopback, unspecified, or bindable here (so configured on an interface)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((str(address), 0))
    except OSError as error:
        # Anything but "not an address of this machine" is doubt, and doubt refuses.
        return error.errno != errno.EADDRNOTAVAIL
    return True


def own_names() -> set[str]:
    names = set()
    for raw in (socket.gethostname(), socket.getfqdn()):
        name = raw.lower().rstrip(".")
        if name:
            names.add(name)
            names.add(name.split(".", 1)[0])
    return names


def resolve(name: str, timeout: float) -> Optional[list[Address]]:
    """Addresses of `name`, or None when it does not resolve within `timeout`."""
    found: list[Address] = []
    done = threading.Event()

    def work() -> None:
        try:
            for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP):
                found.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except (OSError, UnicodeError, ValueError):
            found.clear()
        done.set()

    # getaddrinfo cannot be cancelled: a daemon thread lets us stop waiting.
    threading.Thread(target=work, daemon=True).start()
    if not done.wait(timeout) or not found:
        return None
    return found


def monitoring_host(target: str, timeout: float = 5.0) -> Optional[str]:
    """Why `target` is (or may be) this machine, or None when it is another one."""
    try:
        literal: Optional[Address] = ipaddress.ip_address(target.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        return f"{target} is an address of this machine" if own_address(literal) else None
    name = target.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{target} is this machine (localhost)"
    # A single label (NetBIOS or short name) is compared with our short name too.
    if name in own_names():
        return f"{target} is this machine's name"
    addresses = resolve(name, timeout)
    if addresses is None:
        return f"{target} does not resolve, so it cannot be shown to be another machine"
    for address in addresses:
        if own_address(address):
            return f"{target} resolves to {address}, an address of this machine"
    return None
