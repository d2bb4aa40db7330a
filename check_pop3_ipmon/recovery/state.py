"""Per-service recovery state and the locks that make decisions on it atomic.

One lock file per service (fcntl.flock, non-blocking): a second handler run
for the same service while the first holds it (global and per-service
handler, HA peers sharing the state directory, a storm of results) does
nothing. Reading the state, deciding and recording the action happen under
that lock, and the action is recorded before it runs, so a run that dies
half-way still counts against the cooldown.

Reboots of any host go through one more lock and one registry: two services
on the same machine must not both reboot it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from check_pop3_ipmon.atomicfile import write_atomic

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(key: str) -> str:
    """A file name for a service key: readable part plus a hash (keys may collide once cleaned)."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{_SAFE.sub('_', key)[:60]}-{digest}"


class StateError(OSError):
    """The state directory cannot be trusted or used: nothing may run."""


def ensure_dir(path: Path) -> None:
    """Create it (0700), or refuse one others may write: they could plant state or locks."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(path, follow_symlinks=False)
    except OSError as error:
        raise StateError(f"state directory {path}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StateError(f"state directory {path} is not a directory")
    if info.st_mode & 0o022:
        raise StateError(
            f"state directory {path} has mode {stat.S_IMODE(info.st_mode):04o}: "
            "group/other may write it; run chmod 700 on it"
        )


@contextlib.contextmanager
def locked(path: Path) -> Iterator[bool]:
    """Hold an exclusive flock on `path` if free; yield whether we got it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged state file must not disable recovery for good; start afresh.
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic: a reader (or a crash) sees the old file or the new one."""
    write_atomic(path, json.dumps(data, sort_keys=True).encode(), prefix=f".{path.name}.")


@dataclass
class ServiceState:
    """What recovery remembers about one service.

    A problem is one stretch of failures, with flapping folded in: it ends only
    when the service has stayed up for `settle` seconds. Nagios'
    $SERVICEPROBLEMID$ changes on every OK->problem change, which would give a
    flapping service a fresh action budget each time.
    """

    problem_started: Optional[float] = None
    problem_actions: int = 0
    recovered_at: Optional[float] = None
    last_action: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceState:
        def number(value: object) -> Optional[float]:
            return float(value) if isinstance(value, (int, float)) else None

        last = data.get("last_action")
        return cls(
            problem_started=number(data.get("problem_started")),
            problem_actions=int(data.get("problem_actions") or 0),
            recovered_at=number(data.get("recovered_at")),
            last_action={
                str(k): float(v)
                for k, v in (last.items() if isinstance(last, dict) else ())
                if isinstance(v, (int, float))
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "problem_started": self.problem_started,
            "problem_actions": self.problem_actions,
            "recovered_at": self.recovered_at,
            "last_action": self.last_action,
        }

    def saw_ok(self, now: float) -> None:
        if self.problem_started is not None and self.recovered_at is None:
            self.recovered_at = now

    def saw_failure(self, now: float, settle: float) -> None:
        """Fold a failure into the current problem, or end the old one if it settled."""
        if self.recovered_at is None:
            return
        if now - self.recovered_at >= settle:
            self.problem_started = None
            self.problem_actions = 0
        self.recovered_at = None

    def acted(self, action: str, now: float) -> None:
        if self.problem_started is None:
            self.problem_started = now
        self.problem_actions += 1
        self.last_action[action] = now


class Store:
    """The state directory: one lock and one JSON file per service, plus reboots."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def service_lock(self, key: str) -> Path:
        return self.directory / f"{slug(key)}.lock"

    def service_file(self, key: str) -> Path:
        return self.directory / f"{slug(key)}.json"

    def load(self, key: str) -> ServiceState:
        return ServiceState.from_json(read_json(self.service_file(key)))

    def save(self, key: str, state: ServiceState) -> None:
        write_json(self.service_file(key), state.to_json())

    @property
    def reboot_lock(self) -> Path:
        return self.directory / "reboots.lock"

    @property
    def reboot_file(self) -> Path:
        return self.directory / "reboots.json"

    def last_reboot(self, identities: list[str]) -> Optional[float]:
        data = read_json(self.reboot_file)
        times = [data[i] for i in identities if isinstance(data.get(i), (int, float))]
        return max(times) if times else None

    def record_reboot(self, identities: list[str], now: float) -> None:
        data = read_json(self.reboot_file)
        for identity in identities:
            data[identity] = now
        write_json(self.reboot_file, data)
