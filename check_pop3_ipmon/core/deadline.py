"""One deadline over the whole test, as ipMonitor's Maximum Test Duration.

Every blocking step (resolving, connecting, each read, the TLS handshake) asks
the deadline how long it may still wait, so the sum can never exceed it: a
per-operation timeout would let a server that drips one byte a second keep us
forever.
"""

from __future__ import annotations

import time


class DeadlineExpired(Exception):
    """The test ran out of time while `phase` was under way."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def check(self, phase: str) -> float:
        """Return the time left, or raise DeadlineExpired naming `phase`."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExpired(phase)
        return left
