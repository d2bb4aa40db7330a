"""Read a file that holds a secret, refusing one that others may read.

As ssh refuses a private key: a secret in a file group or others can read is
as public as the file. One descriptor is opened (no symlink followed, no FIFO
waited on) and checked before a byte is read, so the name cannot be swapped
in between.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SIZE = 65536


class PrivateFileError(Exception):
    """Why the file cannot be used, in one line (never its content)."""


def read_private(path: Path, limit: int = MAX_SIZE) -> str:
    """The UTF-8 text of `path`, a regular file only its owner (or root) may access."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PrivateFileError(f"cannot open {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PrivateFileError(f"{path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise PrivateFileError(
                f"{path} has mode {mode:04o}: group/other may access it; chmod 600 it"
            )
        if info.st_uid not in (os.geteuid(), 0):
            raise PrivateFileError(f"{path} belongs to uid {info.st_uid}, not to this user")
        data = os.read(fd, limit + 1)
    except OSError as exc:
        raise PrivateFileError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise PrivateFileError(f"{path} is longer than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PrivateFileError(f"{path} is not UTF-8") from None
