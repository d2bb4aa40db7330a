"""The handler's log: a file, else syslog, else stderr (the engines discard its output).

Not the `logging` module: it imports threading, traceback, string and more,
start-up time Nagios' ocsp_command pays after every result. A handler run
logs one to three lines, so a file descriptor opened O_APPEND (one write a
line, whole even with concurrent runs), the C `syslog` module or stderr do.
The lines look as logging wrote them ("2026-01-02 03:04:05,678 INFO ...").
"""

from __future__ import annotations

import os
import sys
import time

from check_pop3_ipmon.alerting.arguments import PROG
from check_pop3_ipmon.core import logfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO, Optional

# logging's numbers, which the recovery hook's lines come with.
INFO, WARNING, ERROR = 20, 30, 40
_NAMES = {INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}


class Log:
    """info/warning/error(format, *args), as a logging.Logger takes them."""

    def __init__(self) -> None:
        self.file: Optional[BinaryIO] = None  # unbuffered: one write(2) a line
        self.path: Optional[Path] = None
        self.syslog = False

    def reset(self) -> None:
        if self.file is not None:
            self.file.close()
        self.file, self.path, self.syslog = None, None, False

    def log(self, level: int, message: str, *args: object) -> None:
        text = message % args if args else message
        name = _NAMES.get(level, "INFO" if level < WARNING else "ERROR")
        if self.file is not None:
            self._to_file(self.file, name, text)
        elif self.syslog:
            import syslog

            priority = {INFO: syslog.LOG_INFO, WARNING: syslog.LOG_WARNING}
            syslog.syslog(priority.get(level, syslog.LOG_ERR), text)
        else:
            print(f"{PROG}: {name} {text}", file=sys.stderr)

    def _to_file(self, file: BinaryIO, name: str, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        line = f"{stamp},{int(now % 1 * 1000):03d} {name} {text}\n"
        try:
            file.write(line.encode("utf-8", "replace"))
        except OSError as exc:
            # A full disk: the line goes to stderr, with the reason, never a traceback.
            print(
                f"{PROG}: cannot log to {self.path}: {exc.strerror or exc}: {text}", file=sys.stderr
            )

    def info(self, message: str, *args: object) -> None:
        self.log(INFO, message, *args)

    def warning(self, message: str, *args: object) -> None:
        self.log(WARNING, message, *args)

    def error(self, message: str, *args: object) -> None:
        self.log(ERROR, message, *args)


log = Log()


def setup_logging(log_file: Optional[Path]) -> str:
    """Log to the file, else syslog, else stderr; return which."""
    log.reset()
    if log_file is not None:
        try:
            # core.logfile: no symlink followed, no FIFO waited for, only a
            # regular file written to.
            fd = logfile.open_append(log_file, "log file", 0o640)
            log.file = open(fd, "ab", buffering=0)
            log.path = log_file
            return "file"
        except logfile.LogFileError as exc:
            # Said on stderr and then in syslog (or on stderr), never a traceback.
            print(f"{PROG}: {exc}", file=sys.stderr)
            where = setup_logging(None)
            log.error("%s; logging here instead", exc)
            return where
    # The local syslog socket, if there is one (containers often have none).
    if os.path.exists("/dev/log"):
        import syslog

        syslog.openlog(PROG, syslog.LOG_PID, syslog.LOG_DAEMON)
        log.syslog = True
        return "syslog"
    return "stderr"
