"""The handler's log: a file, else syslog, else stderr (the engines discard its output)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.alerting.arguments import PROG
from check_pop3_ipmon.core import logfile

log = logging.getLogger(PROG)


def _syslog() -> Optional[logging.Handler]:
    """The local syslog socket, if there is one (containers often have none)."""
    if not os.path.exists("/dev/log"):
        return None
    import logging.handlers  # pickle, socket, ...: only where there is a syslog

    try:
        return logging.handlers.SysLogHandler(
            "/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
    except OSError:
        return None


class _LogFile(logging.FileHandler):
    """A log file that may fail to take a line (a full disk): the line goes to
    stderr instead, with the reason, rather than logging's traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"{PROG}: cannot log to {self.baseFilename}: {reason}: {record.getMessage()}",
            file=sys.stderr,
        )


def _open_log(path: Path) -> logging.Handler:
    """The log file through core.logfile: no symlink followed, no FIFO waited
    for, only a regular file written to."""
    handler = _LogFile(path, encoding="utf-8", delay=True)
    fd = logfile.open_append(path, "log file", 0o640)
    handler.stream = os.fdopen(fd, "a", encoding="utf-8", errors="replace")
    return handler


def setup_logging(log_file: Optional[Path]) -> str:
    """Log to the file, else syslog, else stderr; return which."""
    log.setLevel(logging.INFO)
    log.propagate = False
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    handler: logging.Handler
    where = "stderr"
    if log_file is not None:
        try:
            handler = _open_log(log_file)
            where = "file"
        except logfile.LogFileError as exc:
            # Said on stderr and then in syslog (or on stderr), never a traceback.
            print(f"{PROG}: {exc}", file=sys.stderr)
            where = setup_logging(None)
            log.error("%s; logging here instead", exc)
            return where
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    else:
        syslog = _syslog()
        handler = syslog or logging.StreamHandler(sys.stderr)
        if syslog is not None:
            where = "syslog"
            handler.setFormatter(logging.Formatter(f"{PROG}[{os.getpid()}]: %(message)s"))
        else:
            handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s %(message)s"))
    log.addHandler(handler)
    return where
