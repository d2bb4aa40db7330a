"""Per-service recovery state and the locks that make decisions on it atomic.

One lock file per service (fcntl.flock): a second handler run for the same
service while the first holds it (global and per-service handler, HA peers
sharing the state directory, a storm of results) waits for it, within its
deadline; if it cannot get it in time it notes its alert number in a
pending file, and the next run under the lock considers that alert's
actions. Reading the state, deciding and recording the action happen under
that lock, and the action is recorded before it runs, so a run that dies
half-way still counts against the cooldown. The state remembers which
alert numbers each action ran for in the current outage, so the same alert
decided again (not delivered, or a second handler) does not act twice.

Reboots of any host go through one more lock and one registry: two services
on the same machine must not both reboot it.

The state fails closed (core.statestore): only a missing file is a fresh
start. A file or lock that cannot be read or opened, and one whose content
is unusable (moved aside for the administrator), stop this run's actions;
the next run starts afresh (the file kept as NAME.unusable). Times must be finite,
non-negative and not in the future (a clock that was ahead is clamped to
now, and said so), counts non-negative whole numbers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from check_pop3_ipmon.core import directories, statestore
from check_pop3_ipmon.core.atomicfile import write_atomic

T = TypeVar("T")

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
LOCK_POLL = 0.05
# The alert numbers remembered per action and problem: far more than any
# max_alerts, and a bound on what a state file may hold.
MAX_ALERTS_KEPT = 100
PENDING_LIMIT = 4096


def slug(key: str) -> str:
    """A file name for a service key: readable part plus a hash (keys may collide once cleaned)."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{_SAFE.sub('_', key)[:60]}-{digest}"


class StateError(OSError):
    """The state directory cannot be trusted or used: nothing may run."""


def ensure_dir(path: Path) -> None:
    """Create it (0700), or refuse one others could plant state or locks in (core.directories)."""
    try:
        directories.private_directory(path, "state directory")
    except directories.DirectoryError as error:
        raise StateError(str(error)) from None


def _flock(fd: int, path: Path, wait: float) -> bool:
    """Take an exclusive flock, trying for up to `wait` seconds; whether we got it."""
    give_up = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StateError(f"cannot lock {path}: {error.strerror or error}") from None
        if time.monotonic() >= give_up:
            return False
        time.sleep(LOCK_POLL)


@contextlib.contextmanager
def locked(path: Path, wait: float = 0.0) -> Iterator[bool]:
    """Hold an exclusive flock on `path`, waiting up to `wait` seconds for it; yield
    whether we got it.

    A lock file that cannot be opened (not ours, a full disk, a symlink) is
    a StateError: nobody can tell whether another run holds it.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StateError(f"cannot open lock file {path}: {error.strerror or error}") from None
    try:
        yield _flock(fd, path, wait)
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _opened(path: Path, flags: int, wait: float) -> Iterator[int]:
    """A small file of ours, opened without following a symlink and under its own
    flock (held for one read or write); FileNotFoundError passes through."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise StateError(f"cannot open {path}: {error.strerror or error}") from None
    try:
        if not _flock(fd, path, wait):
            raise StateError(f"{path} stayed locked for {wait:.0f}s")
        try:
            yield fd
        except OSError as error:
            raise StateError(f"cannot use {path}: {error.strerror or error}") from None
    finally:
        os.close(fd)


def read_state(path: Path, parse: Callable[[Any], T], move: bool = True) -> Optional[T]:
    """The parsed file, None if there is none; StateError if unreadable or unusable."""
    try:
        loaded = statestore.load(path, lambda raw: parse(json.loads(raw)), move=move)
    except statestore.Unreadable as error:
        raise StateError(f"state: {error}") from None
    if loaded.problem:
        raise StateError(
            f"state: unusable state file {path}: {loaded.problem}; nothing run this time, "
            "the next run starts afresh"
        )
    return loaded.value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic: a reader (or a crash) sees the old file or the new one."""
    write_atomic(path, json.dumps(data, sort_keys=True).encode(), prefix=f".{path.name}.")


class Clock:
    """Checks times read from state against now; clamps future ones, noting each."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.notes: list[str] = []

    def time(self, value: object, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{what} is not a number")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what} is {value!r}, not a finite, non-negative time")
        if value > self.now:
            self.notes.append(
                f"{what} is {value - self.now:.0f}s in the future (a clock that was ahead?): "
                "taken as now"
            )
            return self.now
        return float(value)

    def optional(self, value: object, what: str) -> Optional[float]:
        return None if value is None else self.time(value, what)


def count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is {value!r}, not a non-negative whole number")
    return value


def alert_numbers(value: object, what: str) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_ALERTS_KEPT:
        raise ValueError(f"{what} is not a list of at most {MAX_ALERTS_KEPT} alert numbers")
    return [count(number, what) for number in value]


def mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


@dataclass
class ServiceState:
    """What recovery remembers about one service.

    A problem is one stretch of failures, with flapping folded in: it ends only
    when the service has stayed up for `settle` seconds. Nagios'
    $SERVICEPROBLEMID$ changes on every OK->problem change, which would give a
    flapping service a fresh action budget each time.

    `acted_at` holds, per action, the alert numbers it ran for since the last
    passing result: an alert that was not delivered is decided again at the
    next failure, with the same number, and must not run its action again.
    """

    problem_started: Optional[float] = None
    problem_actions: int = 0
    recovered_at: Optional[float] = None
    last_action: dict[str, float] = field(default_factory=dict)
    acted_at: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, clock: Clock) -> ServiceState:
        """Only values that make sense; anything else is a ValueError."""
        data = mapping(data, "the state")
        last = mapping(data.get("last_action", {}), "last_action")
        return cls(
            problem_started=clock.optional(data.get("problem_started"), "problem_started"),
            problem_actions=count(data.get("problem_actions", 0), "problem_actions"),
            recovered_at=clock.optional(data.get("recovered_at"), "recovered_at"),
            last_action={
                str(name): clock.time(when, f"last_action {str(name)[:64]!r}")
                for name, when in last.items()
            },
            acted_at={
                str(name): alert_numbers(numbers, f"acted_at {str(name)[:64]!r}")
                for name, numbers in mapping(data.get("acted_at", {}), "acted_at").items()
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "problem_started": self.problem_started,
            "problem_actions": self.problem_actions,
            "recovered_at": self.recovered_at,
            "last_action": self.last_action,
            "acted_at": self.acted_at,
        }

    def saw_ok(self, now: float) -> None:
        self.acted_at = {}  # a failure after this one is a new outage: alert 1 again
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

    def acted(self, action: str, now: float, alert: int) -> None:
        if self.problem_started is None:
            self.problem_started = now
        self.problem_actions += 1
        self.last_action[action] = now
        numbers = self.acted_at.setdefault(action, [])
        if alert not in numbers:
            numbers[:] = sorted([*numbers, alert])[-MAX_ALERTS_KEPT:]

    def acted_on(self, action: str, alert: int) -> bool:
        return alert in self.acted_at.get(action, ())


class Store:
    """The state directory: one lock and one JSON file per service, plus reboots."""

    def __init__(self, directory: Path, *, dry_run: bool = False) -> None:
        self.directory = directory
        self.move = not dry_run  # a dry run changes nothing, an unusable file included

    def service_lock(self, key: str) -> Path:
        return self.directory / f"{slug(key)}.lock"

    def service_file(self, key: str) -> Path:
        return self.directory / f"{slug(key)}.json"

    def load(self, key: str, clock: Clock) -> ServiceState:
        path = self.service_file(key)
        found = read_state(path, lambda data: ServiceState.from_json(data, clock), self.move)
        return ServiceState() if found is None else found

    def save(self, key: str, state: ServiceState) -> None:
        write_json(self.service_file(key), state.to_json())

    def pending_file(self, key: str) -> Path:
        return self.directory / f"{slug(key)}.pending"

    def remember(self, key: str, alert: int, wait: float) -> None:
        """Note an alert whose actions this run could not consider (another run held
        the service's lock): the next run under the lock considers them."""
        path = self.pending_file(key)
        with _opened(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, wait) as fd:
            os.write(fd, f"{alert}\n".encode())

    def take_pending(self, key: str, wait: float) -> list[int]:
        """The remembered alert numbers, emptying the file (call it under the service's lock)."""
        path = self.pending_file(key)
        try:
            with _opened(path, os.O_RDWR, wait) as fd:
                raw = os.read(fd, PENDING_LIMIT)
                os.ftruncate(fd, 0)
        except FileNotFoundError:
            return []
        words = raw.decode("ascii", "replace").split()
        return sorted({int(word) for word in words if word.isdigit() and 0 < int(word) < 10**6})

    @property
    def reboot_lock(self) -> Path:
        return self.directory / "reboots.lock"

    @property
    def reboot_file(self) -> Path:
        return self.directory / "reboots.json"

    def reboots(self, clock: Clock) -> dict[str, float]:
        """When each machine was last rebooted (by every name it was known by)."""

        def parse(data: object) -> dict[str, float]:
            return {
                str(name): clock.time(when, f"reboot of {str(name)[:64]!r}")
                for name, when in mapping(data, "the reboot registry").items()
            }

        found = read_state(self.reboot_file, parse, self.move)
        return {} if found is None else found

    def record_reboot(
        self, reboots: dict[str, float], identities: list[str], now: float, keep_for: float
    ) -> None:
        """Add this reboot; forget those past the cooldown, so the file stays under the cap."""
        updated = {name: when for name, when in reboots.items() if now - when < keep_for}
        updated.update((identity, now) for identity in identities)
        write_json(self.reboot_file, updated)
