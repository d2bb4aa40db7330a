"""Strict checks for every value that reaches a command: macros are data.

A host address, a custom variable or a service name comes from the engine's
configuration or from whoever can edit it, and Nagios substitutes macros
unfiltered. Anything that is not plainly a host name, a NetBIOS name, an IP
address or an allow-listed service name is refused before anything runs, with
a message that shows the value (escaped) and says why.
"""

from __future__ import annotations

import ipaddress
import re

from check_pop3_ipmon.core.monitor_name import MAX_NAME, has_control, too_long

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
# NetBIOS allows more punctuation than this; the allow-list keeps what real
# machine names use and nothing a shell or PowerShell gives meaning to.
_NETBIOS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,14}")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# systemd unit names (no backslash escapes) and Windows service key names.
_SERVICE_NAMES = {
    "systemd": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}"),
    "windows": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}"),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Engine host names are display names (Icinga 2 allows almost anything); ours
# is an allow-list of what real host names use.
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@ -]{0,254}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MAX_KEY = 512
MAX_OUTPUT = 8192


class Refused(ValueError):
    """A value from outside failed validation: nothing may run."""


def shown(value: str, limit: int = 80) -> str:
    """The value as a quoted, escaped literal that is safe in one log line."""
    text = value if len(value) <= limit else value[:limit] + "..."
    return ascii(text)


def target(value: str, what: str = "target") -> str:
    """A host name (FQDN), a NetBIOS name or an IP address, else Refused."""
    if not value:
        raise Refused(f"{what} is empty: set the host's address or the recovery target")
    if "%" in value:
        address, _, scope = value.partition("%")
        if _SCOPE.fullmatch(scope) and _is_ip(address, v6_only=True):
            return value
    elif _is_ip(value):
        return value
    elif len(value) <= 253 and (_HOSTNAME.fullmatch(value) or _NETBIOS.fullmatch(value)):
        return value
    raise Refused(
        f"{what} {shown(value)} is not a host name, NetBIOS name or IP address; nothing run"
    )


def _is_ip(value: str, v6_only: bool = False) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == 6 or not v6_only


def service_name(value: str, platform: str) -> str:
    """A service name on the allow-list of `platform` (systemd, windows)."""
    if _SERVICE_NAMES[platform].fullmatch(value):
        return value
    raise Refused(
        f"service name {shown(value)} is not allowed for {platform} "
        f"(allowed: {_SERVICE_NAMES[platform].pattern})"
    )


def name(value: str, what: str) -> str:
    """A configuration name (action, credential set): letters, digits, _ . -"""
    if _NAME.fullmatch(value):
        return value
    raise Refused(f"{what} {shown(value)} is not a valid name (allowed: {_NAME.pattern})")


def host_name(value: str) -> str:
    if _HOST_NAME.fullmatch(value):
        return value
    raise Refused(
        f"host name {shown(value)} has characters a host name does not need "
        f"(allowed: {_HOST_NAME.pattern}); nothing run"
    )


def service_key(value: str) -> str:
    """An engine's service identity (host!service): printable, bounded."""
    if not value or len(value) > MAX_KEY or _CONTROL.search(value):
        raise Refused(f"service key {shown(value)} is empty, too long or has control characters")
    return value


def monitor_name(value: str) -> str:
    if too_long(value) or has_control(value):
        raise Refused(
            f"monitor name {shown(value)} is longer than {MAX_NAME} characters "
            "or has control characters"
        )
    return value


def text(value: str, limit: int = MAX_OUTPUT) -> str:
    """Free text for an environment variable: no NUL (execve cannot pass it), bounded."""
    return value.replace("\x00", "")[:limit]
