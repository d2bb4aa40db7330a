"""Replace a file atomically: a reader, or a crash, sees the old file or the new.

Shared by the alerting handler's and the recovery actions' state files, both
of which must never be seen half-written (a lost alert count or a repeated
action would follow).
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def _create_beside(path: Path, prefix: str) -> tuple[int, str]:
    """A new private file beside `path`, as tempfile.mkstemp makes one (O_EXCL,
    0600, a random name): tempfile imports shutil and random, start-up time the
    alerting handler would pay after every result."""
    directory = os.path.dirname(os.fspath(path)) or "."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        temp = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}.json")
        try:
            return os.open(temp, flags, 0o600), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def write_atomic(path: Path, data: bytes, prefix: str = ".tmp-") -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over
    `path`, then fsync the directory so the rename itself survives a crash."""
    fd, temp = _create_beside(path, prefix)
    replaced = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        replaced = True
    finally:
        if not replaced:  # whatever failed goes on to the caller; leave no litter
            with contextlib.suppress(OSError):
                os.unlink(temp)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
