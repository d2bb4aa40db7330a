"""Reading a state file: one size cap, one validation hook, one failure policy.

Both handlers keep small JSON state files and must agree on what a present
but bad file means:

- no file: a fresh start (the only case that is);
- a file that cannot be read (not ours to read, a directory or a FIFO in
  its place, an I/O error): `Unreadable`, and the caller does nothing it
  would need that state for. The file may be fine, only not readable by
  this user (a root run by hand): guessing would repeat an alert or an
  action;
- a file that can be read but not used (corrupt, truncated, deeply nested,
  values out of range, over the size cap): moved aside to NAME.unusable
  (only the latest is kept, for the administrator) and reported, so that it
  cannot block the service for good.

Writing goes through check_pop3_ipmon.core.atomicfile (temporary file, fsync,
rename, directory fsync).
"""

from __future__ import annotations

import os
import stat

from check_pop3_ipmon.core.record import Record

# The alerting handler reads its state after every result: typing and
# dataclasses would cost it start-up time each run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable, Generic, Optional, TypeVar

    T = TypeVar("T")

MAX_STATE = 65536
# What a parser may raise on hostile content: json raises RecursionError for
# deep nesting, float("inf") arithmetic OverflowError, a missing key KeyError.
PARSE_ERRORS = (ValueError, KeyError, TypeError, RecursionError, OverflowError)


class Unreadable(Exception):
    """The state file is there but cannot be read: nothing may rely on it."""


class _Loaded(Record):
    """The parsed state, or None (no file, or moved aside: see `problem`)."""

    __slots__ = ("problem", "value")

    def __init__(self, value: object, problem: str = "") -> None:
        self.value = value
        self.problem = problem


if TYPE_CHECKING:  # what the type checker sees: the same, generic in the value

    class Loaded(Generic[T]):
        value: Optional[T]
        problem: str

        def __init__(self, value: Optional[T], problem: str = "") -> None: ...

else:
    Loaded = _Loaded


def read_capped(path: Path, limit: int = MAX_STATE) -> Optional[bytes]:
    """At most `limit` + 1 bytes of the file, or None if there is none."""
    try:
        # O_NONBLOCK: a FIFO put in its place must not hang the handler.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError as exc:
        os.close(fd)
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    if not regular:
        os.close(fd)
        raise Unreadable(f"cannot read {path}: not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(limit + 1)
        except OSError as exc:  # an I/O error
            raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from None


def move_aside(path: Path) -> str:
    """Keep an unusable file for the administrator, out of the way; say where."""
    aside = path.with_name(path.name + ".unusable")
    try:
        os.replace(path, aside)
    except OSError as exc:
        return f"not moved aside: {exc.strerror or exc}"
    return f"moved to {aside.name}"


def load(
    path: Path, parse: Callable[[bytes], T], limit: int = MAX_STATE, *, move: bool = True
) -> Loaded[T]:
    """Read and parse the state file under the policy above.

    `parse` gets the raw bytes and raises one of PARSE_ERRORS on anything it
    does not accept (the validation hook). `move` False (a dry run) leaves
    an unusable file where it is. Raises Unreadable.
    """
    raw = read_capped(path, limit)
    if raw is None:
        return Loaded(None)
    if len(raw) > limit:
        reason = f"larger than {limit} bytes"
    else:
        try:
            return Loaded(parse(raw))
        except PARSE_ERRORS as exc:
            reason = (str(exc) or type(exc).__name__) if raw else "empty file"
    return Loaded(None, f"{reason}; {move_aside(path) if move else 'left in place'}")
