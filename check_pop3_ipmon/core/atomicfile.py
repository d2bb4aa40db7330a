"""Replace a file atomically: a reader, or a crash, sees the old file or the new.

Shared by the alerting handler's and the recovery actions' state files, both
of which must never be seen half-written (a lost alert count or a repeated
action would follow).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, prefix: str = ".tmp-") -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over
    `path`, then fsync the directory so the rename itself survives a crash."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".json")
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
