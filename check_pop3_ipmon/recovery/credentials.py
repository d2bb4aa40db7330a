"""Named credential sets, read from a private file (core.private_files).

A set says how to reach a machine: `ssh` (OpenSSH client, key-based, BatchMode,
a dedicated known_hosts file, optional `sudo -n`) or `local` (this machine, as
the engine's user, optional `sudo -n`). Passwords and passphrases are not
supported on purpose: they would have to travel on a command line or through a
tty. Use a key without a passphrase readable only by the engine's user, and an
exact NOPASSWD sudoers rule.

Nothing in a set is secret by itself (the key file is, and ssh checks it too);
the file is still guarded so that who may act on which machine stays private.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.core import private_files
from check_pop3_ipmon.core.values import boolean
from check_pop3_ipmon.recovery import validate
from check_pop3_ipmon.recovery.config import duration
from check_pop3_ipmon.recovery.transport import COMMON, TRANSPORTS, CredentialSet

METHODS = tuple(TRANSPORTS)
COMMON_KEYS = COMMON
SECRETS = {"password", "passphrase", "sudo_password", "pass", "secret"}
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@\\-]{0,63}")


def keys() -> set[str]:
    """Every key a set may have: the common ones and each transport's own."""
    found = set(COMMON_KEYS)
    for transport in TRANSPORTS.values():
        found.update(transport.keys, transport.optional)
    return found


class CredentialError(ValueError):
    """The credentials file or a set in it cannot be used."""


LOCAL = CredentialSet("(engine's own account)")


def load(path: Path) -> Mapping[str, CredentialSet]:
    """Read the file under the rule for private files, then parse it."""
    try:
        text = private_files.read_text(path, f"credentials file {path}", secret=True)
    except private_files.PrivateFileError as error:
        raise CredentialError(str(error)) from None
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as error:
        # configparser quotes the offending line; keep values out of the message.
        raise CredentialError(
            f"credentials file {path}: syntax error ({type(error).__name__})"
        ) from None
    sets = {}
    for section in parser.sections():
        try:
            name = validate.name(section, "credential set")
            sets[name] = _set(name, dict(parser.items(section)))
        except (ValueError, validate.Refused) as error:
            raise CredentialError(f"credentials file {path} [{section}]: {error}") from None
    return sets


def _set(name: str, values: Mapping[str, str]) -> CredentialSet:
    for key in values:
        if key.lower() in SECRETS:
            raise ValueError(
                f"{key!r}: passwords are not supported; use an SSH key and a NOPASSWD "
                "sudoers rule (see contrib/RECOVERY.md)"
            )
        allowed = keys()
        if key not in allowed:
            raise ValueError(f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    method = values.get("method", "local")
    if method not in TRANSPORTS:
        raise ValueError(f"method must be one of {', '.join(TRANSPORTS)}")
    user = values.get("user")
    if user is not None and not _USER.fullmatch(user):
        raise ValueError(f"user {validate.shown(user)} is not a valid user name")
    own = TRANSPORTS[method].parse(values)
    port = values.get("port", "22")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port {validate.shown(port)} is not a port number")
    jump = _proxy_jump(values["proxy_jump"], user) if "proxy_jump" in values else None
    if jump is not None and method != "ssh":
        raise ValueError("proxy_jump needs method = ssh")
    return CredentialSet(
        name=name,
        method=method,
        user=user,
        **own,  # type: ignore[arg-type]
        port=int(port),
        sudo=boolean(values.get("sudo", "no")),
        connect_timeout=duration(values.get("connect_timeout", "10")),
        proxy_jump=jump,
    )


def _proxy_jump(text: str, user: Optional[str]) -> tuple[str, str, int]:
    """`[user@]host[:port]` (`[v6]:port` for an IPv6 address), as ssh -J takes
    one hop; the user defaults to the set's. One hop: a chain would need each
    hop's own key and known_hosts."""
    if "," in text:
        raise ValueError("proxy_jump takes one jump host, not a chain")
    jump_user, at, rest = text.rpartition("@")
    if not at:
        jump_user = user or ""
    port = "22"
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"proxy_jump {validate.shown(text)} is not [user@]host[:port]")
        port = tail[1:] or port
    elif rest.count(":") == 1:
        host, _, port = rest.partition(":")
    else:
        host = rest
    if not _USER.fullmatch(jump_user):
        raise ValueError(f"proxy_jump user {validate.shown(jump_user)} is not a valid user name")
    host = validate.target(host, "proxy_jump host")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"proxy_jump port {validate.shown(port)} is not a port number")
    return jump_user, host, int(port)


def check_identity(credentials: CredentialSet) -> None:
    """ssh would refuse a group-readable key with a vaguer message: say it first."""
    if credentials.identity_file is None:
        return
    try:
        info = os.stat(credentials.identity_file)
    except OSError as error:
        raise CredentialError(
            f"credential set {credentials.name}: identity file "
            f"{credentials.identity_file}: {error.strerror}"
        ) from None
    problem = private_files.refusal(info, f"identity file {credentials.identity_file}", secret=True)
    if problem:
        raise CredentialError(f"credential set {credentials.name}: {problem}")
