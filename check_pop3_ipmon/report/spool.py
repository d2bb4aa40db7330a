"""`pop3_ipmon_report spool`: Nagios' perfdata processing command, shared.

Nagios 4 has one service perfdata file and runs one command on it every
processing interval; PNP4Nagios, nagflux and Graphios each want that file
(or its lines) too. This command copies the closed file into the report's
spool, then hands the file itself on, as the site's command did: renamed
into the tool's spool directory (`--to DIR`: npcd, nagflux, Graphios), or
given to a command (`-- COMMAND ARG...`, `{}` standing for the file, else
appended: `process_perfdata.pl --bulk={}`), or, with neither, removed (as
the plain rotation's `mv` did). The downstream gets the very file Nagios
wrote, unchanged and once; it gets it even when the report's copy cannot
be made (the report is the newcomer: it must not cost a site its graphs).

Nagios waits for the command (it holds its event loop), so it only copies:
ingesting is for the cron job or timer.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from check_pop3_ipmon.report.safefile import open_regular

PROG = "pop3_ipmon_report"
COPY_PREFIX = "service-perfdata"
COMMAND_TIMEOUT = 50  # under Nagios' perfdata_timeout's default, 5 s short of a minute


def _free_name(directory: Path, stamp: int) -> Path:
    for suffix in range(1000):
        name = f"{COPY_PREFIX}.{stamp}" + (f".{suffix}" if suffix else "")
        if not os.path.lexists(directory / name):
            return directory / name
    raise FileExistsError(17, f"no free name in {directory}")


def copy_into(handle_path: Path, directory: Path, stamp: int) -> Path:
    """A copy of the file in `directory`, under a name the ingest job takes
    (`service-perfdata.<time>`), appearing whole: written to a hidden name
    first (created, never followed), then linked to its final name."""
    with open_regular(handle_path) as source:
        data = source.read()
    temp = directory / f".{COPY_PREFIX}.{os.getpid()}.{stamp}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        while True:
            final = _free_name(directory, stamp)
            try:
                os.link(temp, final)  # never replaces a file another run named so
                return final
            except FileExistsError:
                continue
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def hand_on(path: Path, to: Sequence[Path], command: Sequence[str], stamp: int) -> int:
    """Give `path` to the downstream; 0 when it took it."""
    if to:
        *copies, last = to
        for directory in copies:  # more than one tool: each its own copy
            copy_into(path, directory, stamp)
        try:
            os.rename(path, _free_name(last, stamp))
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: another file system, copy then remove
                raise
            copy_into(path, last, stamp)
            os.unlink(path)
        return 0
    if command:
        argv = [arg.replace("{}", str(path)) for arg in command]
        if not any("{}" in arg for arg in command):
            argv.append(str(path))
        try:
            # The administrator's command line from Nagios' configuration, no shell.
            done = subprocess.run(argv, timeout=COMMAND_TIMEOUT, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"{PROG}: spool: {command[0]}: {exc}", file=sys.stderr)
            return 1
        if done.returncode:
            print(f"{PROG}: spool: {command[0]} exited {done.returncode}", file=sys.stderr)
        return 1 if done.returncode else 0
    os.unlink(path)
    return 0


def spool(path: Path, into: Path, to: Sequence[Path], command: Sequence[str]) -> int:
    stamp = int(time.time())
    status = 0
    try:
        copy_into(path, into, stamp)
    except OSError as exc:
        print(
            f"{PROG}: spool: cannot copy {path} into {into}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        if not to and not command:
            return 1  # the file stays: Nagios appends to it, the next run copies it all
        status = 1
    try:
        status |= hand_on(path, to, command, stamp)
    except OSError as exc:
        print(f"{PROG}: spool: cannot hand {path} on: {exc.strerror or exc}", file=sys.stderr)
        status = 1
    return status
