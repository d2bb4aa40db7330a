"""One rule for the files that hold secrets or decide what runs.

A credentials file (POP3 password, Icinga 2 API user, recovery credential
sets) and the recovery configuration (which says what runs as the engine's
user) are read the same way: opened without following a symlink and without
blocking (a FIFO must not hang the caller), then checked through the open
descriptor (fstat), so the name cannot be swapped between check and read.
The file must be a regular file owned by root or by the user reading it, and
nobody else may write it; a secret, nobody else may read it either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union

MAX_SIZE = 65536
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class PrivateFileError(Exception):
    """Why the file was refused: one line, never any of its content."""


def refusal(info: os.stat_result, label: str, *, secret: bool) -> str:
    """Why a file with this fstat must not be used ("" when it may)."""
    if not stat.S_ISREG(info.st_mode):
        return f"{label} is not a regular file"
    mode = stat.S_IMODE(info.st_mode)
    if secret and mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"{label} is readable by group or others (mode {mode:04o}): refused; chmod 600 it"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        fix = "chmod 600" if secret else "chmod go-w"
        return f"{label} is writable by group or others (mode {mode:04o}): refused; {fix} it"
    if secret and mode & (stat.S_IXGRP | stat.S_IXOTH):
        return f"{label} is accessible by group or others (mode {mode:04o}): refused; chmod 600 it"
    if info.st_uid not in (0, os.geteuid()):
        return (
            f"{label} belongs to uid {info.st_uid}, not to root or this user "
            f"(uid {os.geteuid()}): refused"
        )
    return ""


def read_text(path: Union[str, Path], label: str, *, secret: bool, limit: int = MAX_SIZE) -> str:
    """The file's text, if the rule allows it; `label` names it in messages."""
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        raise PrivateFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        problem = refusal(os.fstat(fd), label, secret=secret)
    except OSError as exc:
        problem = f"cannot read {label}: {exc.strerror or exc}"
    if problem:
        os.close(fd)
        raise PrivateFileError(problem)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise PrivateFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise PrivateFileError(f"{label} is longer than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PrivateFileError(f"{label} is not UTF-8") from None
