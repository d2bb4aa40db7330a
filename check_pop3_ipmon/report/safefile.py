"""Files pop3_ipmon_report opens, safe as root and as the engine's user.

The perfdata directories are writable by the engine's user, the report's
output directory perhaps by a web user: any name in them may be a symbolic
link or a FIFO put there a moment ago. So inputs are opened without
following a link and without blocking (a FIFO would wait for a writer),
and read only when the opened file is a regular one; an output is written
to a new file created (O_EXCL) with its final mode, then renamed over the
name: nothing is ever done by name after the rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO


class UnsafeFile(OSError):
    """Not a regular file, or a symbolic link where none is taken."""


def open_regular(path: Path) -> BinaryIO:
    """`path` for reading: a regular file, not through a symbolic link, never blocking."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise UnsafeFile(exc.errno, "a symbolic link, not read") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(0, "not a regular file, not read")
        # Regular files never block; back to ordinary reads.
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def refuse_symlink(path: Path) -> None:
    """UnsafeFile if `path` is a symbolic link (a missing name is fine)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise UnsafeFile(0, "a symbolic link, refused")


def default_mode() -> int:
    """What a new file of a reader's report gets: 0666 less the umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_replacing(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file beside `path` with `mode`, then rename it over `path`."""
    refuse_symlink(path)
    directory = path.parent
    for attempt in range(100):
        temp = directory / f".{path.name}.{os.getpid()}.{attempt}.tmp"
        try:
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode
            )
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(17, f"no free temporary name beside {path}")
    done = False
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, mode)  # the umask took its part at creation: the mode asked, exactly
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, path)
        done = True
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
