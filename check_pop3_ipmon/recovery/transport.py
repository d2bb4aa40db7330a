"""Where a command runs, and the argv we execute here to run it there.

One class a transport, behind one small interface (Transport): its method
name, the credential keys a set of that method must have, whether its
commands run on this machine, and the invocation. Adding one (WinRM, say)
is one class here plus its keys; nothing else tests the method by name.

Locally the argv runs as is (with `sudo -n --` in front when privileged and the
set asks for sudo). Over SSH the remote side gets one string, which the remote
login shell parses: for POSIX targets every word goes through shlex.quote
(and every word is either ours or validated); for Windows targets the script
travels as PowerShell's -EncodedCommand (base64 of UTF-16LE), which neither
cmd.exe nor PowerShell re-parses, and the only value in it, a service name,
matched a strict allow-list and sits in a single-quoted literal.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, Optional

SSH = "/usr/bin/ssh"
POWERSHELL = ("powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand")


@dataclass(frozen=True)
class CredentialSet:
    """A named set from the credentials file: how to reach a target, as whom."""

    name: str
    method: str = "local"
    user: Optional[str] = None
    identity_file: Optional[Path] = None
    known_hosts: Optional[Path] = None
    port: int = 22
    sudo: bool = False
    connect_timeout: float = 10.0
    # proxy_jump = [user@]host[:port]: (user, host, port) of the jump host,
    # reached with the same key and known_hosts file as the target.
    proxy_jump: Optional[tuple[str, str, int]] = None
    # A transport's own keys that have no field above, as the file gave them:
    # a new transport's key reaches its invocation without a field here.
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """What to run on the target: an argv (POSIX) or a PowerShell script (Windows)."""

    argv: tuple[str, ...] = ()
    script: Optional[str] = None
    privileged: bool = False


@dataclass(frozen=True)
class Invocation:
    """Exactly what runs on this machine, and how to show it."""

    argv: tuple[str, ...]
    remote: bool
    script: Optional[str] = None

    def show(self) -> str:
        text = shlex.join(self.argv)
        if self.script is not None:
            text += f"\n    (encoded PowerShell: {self.script})"
        return text


def powershell(body: str) -> str:
    """Wrap a script so that any error is a message on stderr and exit code 1."""
    return (
        "$ErrorActionPreference = 'Stop'; "
        f"try {{ {body} }} catch {{ [Console]::Error.WriteLine($_.Exception.Message); exit 1 }}; "
        "exit 0"
    )


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def ssh_options(credentials: CredentialSet) -> list[str]:
    """A fixed, self-contained client configuration: no user config, no agent, no tty."""
    if credentials.known_hosts is None or credentials.identity_file is None:
        raise ValueError(f"credential set {credentials.name}: ssh needs known_hosts and a key")
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(credentials.known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "IdentitiesOnly": "yes",
        "IdentityFile": str(credentials.identity_file),
        "IdentityAgent": "none",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "ConnectTimeout": str(max(1, int(credentials.connect_timeout))),
        "ServerAliveInterval": "5",
        "ServerAliveCountMax": "2",
        "ControlMaster": "no",
        "ControlPath": "none",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "ClearAllForwardings": "yes",
        "PermitLocalCommand": "no",
        "LogLevel": "ERROR",
    }
    argv = ["-F", "/dev/null"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    if credentials.proxy_jump is not None:
        argv += ["-o", f"ProxyCommand={_jump_command(argv, credentials.proxy_jump)}"]
    return argv


def _jump_command(options: Sequence[str], jump: tuple[str, str, int]) -> str:
    """ssh's own ProxyJump would start the jump host's ssh with none of the
    options above (only -F, here /dev/null: no BatchMode, the user's
    known_hosts and keys, the agent). So the jump's ssh is spelt out, with
    the same fixed options. ssh runs a ProxyCommand through /bin/sh, as it
    does for ProxyJump: every word is a validated value, quoted, and a % in
    it doubled (ssh expands %h and %p)."""
    user, host, port = jump
    words = [SSH, *options, "-T", "-W", "[%h]:%p", "-p", str(port), "-l", user, "--", host]
    return " ".join(
        word if word == "[%h]:%p" else shlex.quote(word.replace("%", "%%")) for word in words
    )


def _sudo(command: Command, credentials: CredentialSet) -> list[str]:
    return ["sudo", "-n", "--"] if command.privileged and credentials.sudo else []


class Transport:
    """How commands reach a target: the interface every transport implements."""

    method: ClassVar[str]  # `method = ...` in a credential set
    keys: ClassVar[tuple[str, ...]] = ()  # the keys a set of this method must have
    optional: ClassVar[tuple[str, ...]] = ()  # the keys it may have besides
    runs_here: ClassVar[bool] = False  # its commands run on this very machine

    def parse(self, values: Mapping[str, str]) -> dict[str, object]:
        """This method's own keys as CredentialSet fields; a key without a
        field of its own is kept, as given, in `extra`. Raises ValueError."""
        for key in self.keys:
            if key not in values:
                raise ValueError(f"method = {self.method} needs {key}")
        for key in values:
            if key not in COMMON and key not in (*self.keys, *self.optional):
                raise ValueError(f"{key} is not a key of method = {self.method}")
        parsed: dict[str, object] = {}
        extra = {}
        for key in (*self.keys, *self.optional):
            if key in values and key not in COMMON:
                if key in _FIELDS:
                    parsed[key] = self.value(key, values[key])
                else:
                    extra[key] = values[key]
        parsed["extra"] = extra
        return parsed

    def value(self, key: str, text: str) -> object:
        """One of its keys' value as its CredentialSet field holds it."""
        return text

    def invocation(
        self, command: Command, target: str, credentials: CredentialSet
    ) -> Invocation:  # pragma: no cover - every transport has its own
        raise NotImplementedError


class Ssh(Transport):
    method = "ssh"
    keys = ("user", "identity_file", "known_hosts")
    optional = ("proxy_jump",)

    def value(self, key: str, text: str) -> object:
        if key in ("identity_file", "known_hosts"):
            if not text.startswith("/"):
                raise ValueError(f"{key} needs an absolute path")
            return Path(text)
        return text

    def invocation(self, command: Command, target: str, credentials: CredentialSet) -> Invocation:
        if command.script is not None:
            remote = shlex.join([*POWERSHELL, encoded(powershell(command.script))])
        else:
            remote = shlex.join([*_sudo(command, credentials), *command.argv])
        argv = [
            SSH,
            *ssh_options(credentials),
            "-T",
            "-p",
            str(credentials.port),
            "-l",
            str(credentials.user),
            "--",
            target,
            remote,
        ]
        return Invocation(tuple(argv), remote=True, script=command.script)


class Local(Transport):
    """The engine's own account on this machine (with sudo where the set asks)."""

    method = "local"
    runs_here = True

    def invocation(self, command: Command, target: str, credentials: CredentialSet) -> Invocation:
        if command.script is not None:
            raise ValueError("a Windows command needs a credential set with method = ssh")
        return Invocation((*_sudo(command, credentials), *command.argv), remote=False)


TRANSPORTS: dict[str, Transport] = {t.method: t for t in (Ssh(), Local())}
# Keys every set may have, read by credentials.py whatever the method.
COMMON = frozenset({"method", "user", "port", "sudo", "connect_timeout", "proxy_jump"})
_FIELDS = frozenset(f.name for f in fields(CredentialSet)) - {"extra", "name"}


def transport(credentials: CredentialSet) -> Transport:
    return TRANSPORTS[credentials.method]


def invocation(command: Command, target: str, credentials: CredentialSet) -> Invocation:
    """The local argv that runs `command` on `target` with `credentials`."""
    return transport(credentials).invocation(command, target, credentials)


def substitute(argv: Sequence[str], **values: str) -> tuple[str, ...]:
    """Fill {target}/{service}: values are validated before they get here."""
    out = []
    for word in argv:
        filled = word
        for key, value in values.items():
            filled = filled.replace("{" + key + "}", value)
        out.append(filled)
    return tuple(out)
