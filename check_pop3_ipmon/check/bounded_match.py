"""A regular expression search that ends at the deadline, whatever the pattern.

A backtracking pattern such as `(a+)+$` against a hostile greeting of a few
dozen characters runs for hours, and bounding the input does not help (40
characters are enough); recognising every backtracking pattern is not
possible. Python's re gives way only to a signal handler that raises, and
the one wall-clock timer signal (SIGALRM) is nagiosplugin's backstop, whose
handler ends the check with its own "Timeout: check execution aborted"
instead of our --timeout-state; a CPU-time timer (SIGVTALRM) would overrun
the wall-clock deadline on a loaded machine. So the search runs in a forked
child, killed when the deadline comes, while the parent waits on a pipe. A
fork costs about a millisecond and happens only with --expect-regex.
"""

from __future__ import annotations

import os
import re
import select
import signal

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional


def search(pattern: re.Pattern[str], text: str, seconds: float) -> Optional[bool]:
    """Whether `pattern` is found in `text`; None if the search did not finish
    within `seconds` (or the process searching died)."""
    if seconds <= 0:
        return None
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: search, answer one byte, leave without cleanup
        try:
            os.close(reader)
            os.write(writer, b"1" if pattern.search(text) else b"0")
        finally:
            os._exit(0)
    os.close(writer)
    answer = b""
    try:
        if select.select([reader], [], [], seconds)[0]:
            answer = os.read(reader, 1)
    finally:
        os.close(reader)
        if not answer:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return None if not answer else answer == b"1"
