"""--round-trip's private state file: the tokens of the messages it sent.

A message that has not arrived when its run ends stays pending; a later run
that finds it counts it as late and deletes it; one pending longer than
--lost-after is lost (and still deleted should it ever arrive, for
LOST_KEPT). UIDLs of messages that are not the check's are remembered so
that their headers are read once, not on every run. A message is the
check's only if it carries one of these tokens: nothing else is touched.

The file follows the alerting's rules: a private directory
(core.directories), a capped and validated read that moves an unusable file
aside (core.statestore), an atomic write (core.atomicfile), and a lock so
that two runs for the same mailbox never share a token list.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from check_pop3_ipmon.core import atomicfile, directories, statestore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

LOST_KEPT = 7 * 86400  # a lost token is still recognised (and its message deleted) this long
MAX_TOKENS = 1000
MAX_SEEN = 2000  # UIDLs known not to be ours
STATE_LIMIT = 512 * 1024
TOKEN = re.compile(r"[0-9a-f]{32}")
_UIDL = re.compile(r"[\x21-\x7e]{1,70}")  # RFC 1939 7: 1 to 70 printable characters


class StateError(Exception):
    """The state file cannot be used: one line, UNKNOWN."""


class Tokens:
    """The state: pending {token: sent at}, lost {token: lost at}, UIDLs not ours."""

    def __init__(self) -> None:
        self.pending: dict[str, float] = {}
        self.lost: dict[str, float] = {}
        self.not_ours: list[str] = []
        self.problem = ""  # an unusable file moved aside: said in the long output

    def owns(self, token: str) -> bool:
        return token in self.pending or token in self.lost

    def forget(self, token: str) -> None:
        self.pending.pop(token, None)
        self.lost.pop(token, None)

    def age(self, now: float, lost_after: float) -> list[str]:
        """Pending tokens older than `lost_after` become lost; old lost ones go."""
        newly = [t for t, sent in self.pending.items() if now - sent > lost_after]
        for token in newly:
            del self.pending[token]
            self.lost[token] = now
        for token, when in list(self.lost.items()):
            if now - when > LOST_KEPT:
                del self.lost[token]
        # Bounded whatever happens: the oldest go first.
        for table in (self.pending, self.lost):
            for token in sorted(table, key=table.__getitem__)[: max(0, len(table) - MAX_TOKENS)]:
                del table[token]
        return newly

    def remember_not_ours(self, uidls: list[str], present: set[str]) -> None:
        """Keep the UIDLs still in the mailbox, add the new ones, within MAX_SEEN."""
        kept = [u for u in self.not_ours if u in present]
        kept += [u for u in uidls if u not in kept and _UIDL.fullmatch(u)]
        self.not_ours = kept[-MAX_SEEN:]

    def dump(self) -> bytes:
        return json.dumps(
            {"version": 1, "pending": self.pending, "lost": self.lost, "not_ours": self.not_ours},
            sort_keys=True,
        ).encode("ascii")


def _parse(raw: bytes) -> Tokens:
    data = json.loads(raw.decode("ascii"))
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("not a round-trip state file (version 1)")
    tokens = Tokens()
    for name in ("pending", "lost"):
        table = data[name]
        if not isinstance(table, dict) or len(table) > MAX_TOKENS:
            raise ValueError(f"bad {name} table")
        for token, when in table.items():
            if not TOKEN.fullmatch(token) or not isinstance(when, (int, float)) or when < 0:
                raise ValueError(f"bad {name} entry")
            getattr(tokens, name)[token] = float(when)
    seen = data["not_ours"]
    if not isinstance(seen, list) or len(seen) > MAX_SEEN:
        raise ValueError("bad not_ours list")
    for uidl in seen:
        if not isinstance(uidl, str) or not _UIDL.fullmatch(uidl):
            raise ValueError("bad UIDL")
    tokens.not_ours = list(seen)
    return tokens


class StateFile:
    """The file, locked from open() to close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: Optional[int] = None

    def open(self) -> Tokens:
        import fcntl

        try:
            directories.private_directory(self.path.parent, "--state-file directory")
        except directories.DirectoryError as exc:
            raise StateError(str(exc)) from None
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open {lock_path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateError(
                f"another --round-trip run holds {self.path}: runs for one mailbox overlap "
                "(raise the check interval or -t)"
            ) from None
        self._lock = fd
        try:
            loaded = statestore.load(self.path, _parse, STATE_LIMIT)
        except statestore.Unreadable as exc:
            self.close()
            raise StateError(str(exc)) from None
        tokens = loaded.value or Tokens()
        if loaded.problem:
            tokens.problem = f"state file {self.path} unusable: {loaded.problem}"
        return tokens

    def save(self, tokens: Tokens) -> None:
        try:
            atomicfile.write_atomic(self.path, tokens.dump())
        except OSError as exc:
            raise StateError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
