"""Opening a log file to append to: the handlers' logs and recovery's audit log.

The path comes from a configuration or a command line, and whatever is at it
may be hostile or a mistake: a symlink (whoever planted it chooses the file
we write), a FIFO (a plain open waits for a reader until the engine kills
the handler), a directory. So the file is opened without following a
symlink and without blocking, then checked through the descriptor: only a
regular file is written to. One line says why not.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_APPEND = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | os.O_NOFOLLOW
    | os.O_NONBLOCK
    | os.O_NOCTTY
    | os.O_CLOEXEC
)


NOT_REGULAR = "not a regular file"


class LogFileError(OSError):
    """The log file cannot be opened or is not a regular file."""


def open_append(path: Path, label: str, mode: int = 0o640) -> int:
    """A descriptor appending to `path` (created with `mode`); LogFileError if unusable."""
    try:
        fd = os.open(path, _APPEND, mode)
    except OSError as error:
        # A FIFO without a reader: the non-blocking open fails with ENXIO.
        reason = NOT_REGULAR if error.errno == errno.ENXIO else error.strerror or str(error)
        raise LogFileError(f"cannot open {label} {path}: {reason}") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError as error:
        os.close(fd)
        raise LogFileError(f"cannot open {label} {path}: {error.strerror or error}") from None
    if not regular:
        os.close(fd)
        raise LogFileError(f"cannot open {label} {path}: {NOT_REGULAR}")
    # Blocking again for the writes: a regular file never blocks, and a
    # short write of a record must not pass unnoticed.
    os.set_blocking(fd, True)
    return fd
