"""One small JSON file per service: read and written under a lock, replaced atomically.

Two handler runs for the same service must not interleave (a slow API call
and the next check's handler), and a crash or a full disk must never leave a
half-written file: we write a temporary file beside it, fsync, and rename.
The lock is a separate file that is never removed, so nobody can end up
holding a lock on a file another run has already replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time

from check_pop3_ipmon.alerting.model import Interval, Memory, Phase
from check_pop3_ipmon.core import directories, statestore
from check_pop3_ipmon.core.atomicfile import write_atomic

TYPE_CHECKING = False  # typing: start-up time on every result
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

# hashlib loads OpenSSL (milliseconds per run); the built-in SHA-256 is the same hash.
if TYPE_CHECKING:
    from hashlib import sha256 as _sha256
else:
    try:
        from _sha256 import sha256 as _sha256  # Python < 3.12
    except ImportError:
        try:
            from _sha2 import sha256 as _sha256  # Python 3.12 and later
        except ImportError:
            from hashlib import sha256 as _sha256

VERSION = 1


class StateError(Exception):
    """The state directory or a state file cannot be used."""


def prepare_directory(directory: Path) -> Path:
    """Create the directory (mode 0700) or refuse one that another user owns, that
    group or others may write, or that is a symlink (core.directories)."""
    try:
        return directories.private_directory(directory, "state directory")
    except directories.DirectoryError as exc:
        raise StateError(str(exc)) from None


def file_stem(host: str, service: str) -> str:
    """A fixed-length name: host and service names may hold any character."""
    return _sha256(f"{host}\0{service}".encode()).hexdigest()[:40]


def _memory_from(data: Any, host: str, service: str) -> Memory:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("unknown format")
    if data.get("host") != host or data.get("service") != service:
        raise ValueError("belongs to another service")
    failures, alerts = data["failures"], data["alerts"]
    if not (isinstance(failures, int) and isinstance(alerts, int)):
        raise ValueError("counts are not integers")
    if failures < 0 or alerts < 0:
        raise ValueError("negative counts")
    last = data["last_result"]
    if not isinstance(last, str):
        raise ValueError("last_result is not text")
    gate = data.get("gate", True)
    if not isinstance(gate, bool):
        raise ValueError("gate is not true or false")
    offset = data.get("offset", 0)  # absent in files from before it existed
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError("offset is not a count")
    held = data.get("held", False)  # absent in files from before it existed
    if not isinstance(held, bool):
        raise ValueError("held is not true or false")
    return Memory(
        failures, alerts, Phase(data["phase"]), Interval(data["interval"]), gate, last, offset, held
    )


class Slot:
    """One service's state while its lock is held."""

    def __init__(self, directory: Path, host: str, service: str) -> None:
        self.directory = directory
        self.host = host
        self.service = service
        self.path = directory / f"{file_stem(host, service)}.json"
        self.problem = ""  # why a present file was not used

    def load(self) -> Memory:
        """The state; a fresh one if there is none or it was unusable (see
        core.statestore: starting afresh loses at most one outage's count,
        refusing would stop all alerting for the service)."""

        def parse(raw: bytes) -> Memory:
            return _memory_from(json.loads(raw), self.host, self.service)

        try:
            loaded = statestore.load(self.path, parse)
        except statestore.Unreadable as exc:
            raise StateError(str(exc)) from None
        if loaded.problem:
            self.problem = (
                f"ignored unusable state file {self.path}: {loaded.problem}; counting starts afresh"
            )
        return Memory() if loaded.value is None else loaded.value

    def save(self, memory: Memory) -> None:
        record = memory.as_dict()
        record.update(
            version=VERSION,
            host=self.host,
            service=self.service,
            phase=memory.phase.value,
            interval=memory.interval.value,
            updated=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        )
        data = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode()
        write_atomic(self.path, data)


@contextlib.contextmanager
def locked(directory: Path, host: str, service: str, wait: float = 20.0) -> Iterator[Slot]:
    """Hold the service's lock (waiting up to `wait` seconds) and yield its slot."""
    slot = Slot(directory, host, service)
    lock_path = directory / f"{file_stem(host, service)}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise StateError(f"cannot open lock file {lock_path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise StateError(
                        f"{lock_path} still locked after {wait:g}s: another handler hangs"
                    ) from None
                time.sleep(0.02)
        yield slot
    finally:
        os.close(fd)  # releases the lock
