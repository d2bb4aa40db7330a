"""One rule for the directories that hold state, locks and logs.

Whoever may write such a directory can plant or swap what is in it: a state
file that says "never act", a lock held for good, a log replaced by a
symlink. So the directory must be a real directory (not a symlink), owned by
the user the handler runs as (or root), and not writable by group or others.
A directory that is missing is created with the given mode; one that breaks
the rule is refused, with how to fix it, and nothing is written into it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class DirectoryError(OSError):
    """The directory cannot be trusted or used: one line saying why."""


def private_directory(path: Path, label: str, mode: int = 0o700) -> Path:
    """Create `path` (with `mode`) or check the one there; `label` names it in messages."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # something else is in its place: said below
    except OSError as error:
        raise DirectoryError(f"{label} {path}: {error.strerror or error}") from None
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError as error:
        raise DirectoryError(f"{label} {path}: {error.strerror or error}") from None
    problem = refusal(info, f"{label} {path}")
    if problem:
        raise DirectoryError(problem)
    return path


def refusal(info: os.stat_result, name: str) -> str:
    """Why a directory with this lstat must not be used ("" when it may)."""
    if stat.S_ISLNK(info.st_mode):
        return f"{name} is a symbolic link: refused; use the real directory"
    if not stat.S_ISDIR(info.st_mode):
        return f"{name} is not a directory"
    me = os.geteuid()
    if info.st_uid not in (0, me):
        return (
            f"{name} belongs to uid {info.st_uid}, not to this user (uid {me}) or root: "
            "refused; remove it, or chown it to this user"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"{name} has mode {stat.S_IMODE(info.st_mode):04o}: group/other may write it; "
            "run chmod 700 on it"
        )
    return ""
