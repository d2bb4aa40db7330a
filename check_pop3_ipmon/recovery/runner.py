"""Running one argv under the handler's deadline, never through a shell.

Each child gets its own session (process group) so that on expiry the whole
group is killed, not just the first process. Output goes to temporary files,
not pipes: a daemon the command starts may keep inherited descriptors open,
and waiting for EOF on a pipe would then wait for the daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Optional

from check_pop3_ipmon.core.deadline import Deadline

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C.UTF-8",
}
DETAIL = 300


@dataclass(frozen=True)
class StepResult:
    label: str
    argv: tuple[str, ...]
    rc: Optional[int]
    duration: float
    detail: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - 4096))
    lines = stream.read().decode("utf-8", "replace").strip().splitlines()
    text = lines[-1].strip() if lines else ""
    return "".join(c if c.isprintable() else "?" for c in text)[:DETAIL]


def run(
    label: str,
    argv: Sequence[str],
    deadline: Deadline,
    env: Optional[Mapping[str, str]] = None,
) -> StepResult:
    argv = tuple(argv)
    start = time.monotonic()
    if deadline.remaining() <= 0:
        return StepResult(label, argv, None, 0.0, "deadline reached before start", True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            child = subprocess.Popen(  # noqa: S603 - argv list, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env if env is not None else BASE_ENV),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            return StepResult(
                label, argv, None, time.monotonic() - start, f"cannot run: {error.strerror}"
            )
        timed_out = False
        try:
            rc: Optional[int] = child.wait(timeout=max(0.0, deadline.remaining()))
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(child.pid)
            child.wait()
            rc = None
        detail = _tail(err) or _tail(out)
        if timed_out:
            detail = f"killed at the deadline ({deadline.seconds:g}s); {detail}".rstrip("; ")
        return StepResult(label, argv, rc, time.monotonic() - start, detail, timed_out)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
