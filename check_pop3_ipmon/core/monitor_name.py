"""ipMonitor's Monitor Name rule, once for every program: at most 64 characters,
no control characters. A display name only: it never names a file or an object."""

from __future__ import annotations

MAX_NAME = 64


def too_long(name: str) -> bool:
    return len(name) > MAX_NAME


def has_control(name: str) -> bool:
    return any(ord(ch) < 32 or ch == "\x7f" for ch in name)


def cut(name: str) -> str:
    """A name from outside made to fit, where refusing it would lose an alert."""
    return name[:MAX_NAME]
