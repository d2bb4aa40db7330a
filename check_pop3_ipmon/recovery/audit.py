"""The record of what recovery did: JSON lines in a file, and syslog.

Nagios throws an event handler's output away, so these are the only trace.
The file is opened before anything runs (core.logfile: a regular file,
reached without following a symlink and without waiting on a FIFO), in a
directory only this user (or root) may write (core.directories): a run that
could not record what it does, safely, does nothing. An action gets a
"starting" record before it runs (so a full disk, or the engine killing the
handler's process group at its timeout, cannot leave an action that ran with
no record) and its outcome after. Each record is one write() on an O_APPEND
descriptor, so concurrent runs never interleave inside a line; syslog gets
the same record even when the file cannot take it. Records hold argv lists
and results, never credentials (sets contain no secrets; key files stay
unread).
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any, Optional

from check_pop3_ipmon.core import directories, logfile

IDENT = "pop3_ipmon_recovery"
BAD = ("failed", "refused", "error", "deferred")


class AuditError(OSError):
    """The audit log cannot be written: nothing (more) may run."""


def _syslog(address: Optional[str]) -> Optional[logging.Logger]:
    if not address or not os.path.exists(address):
        return None
    try:
        handler = logging.handlers.SysLogHandler(
            address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
    except OSError:
        return None  # no syslog daemon listening: the file is the record
    handler.setFormatter(logging.Formatter(f"{IDENT}[{os.getpid()}]: %(message)s"))
    logger = logging.getLogger(f"{IDENT}.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


class Audit:
    def __init__(self, path: Path, syslog_address: Optional[str]) -> None:
        self.path = path
        self.fd: Optional[int] = None
        self.logger = _syslog(syslog_address)
        message = ""
        try:
            directories.private_directory(path.parent, "audit log directory", 0o750)
            self.fd = logfile.open_append(path, "audit log")
        except directories.DirectoryError as error:
            message = f"cannot open audit log {path}: {error}"
        except logfile.LogFileError as error:
            message = str(error)
        if message:
            self.warn(f"nothing run: {message}")
            self.close()
            raise AuditError(message) from None

    def warn(self, message: str) -> None:
        """A line for syslog alone (the file is what failed)."""
        if self.logger is not None:
            self.logger.error("%s", message)

    def record(self, **fields: Any) -> dict[str, Any]:
        """Write one record to the file and syslog; AuditError if the file refused it."""
        now = datetime.datetime.now(datetime.timezone.utc)
        entry = {"when": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        entry.update(fields)
        line = json.dumps(entry, ensure_ascii=True, sort_keys=False) + "\n"
        failure = None
        try:
            if self.fd is not None:
                os.write(self.fd, line.encode("ascii"))
        except OSError as error:
            failure = f"cannot write audit log {self.path}: {error.strerror or error}"
        if self.logger is not None:
            summary = " ".join(
                f"{key}={json.dumps(entry[key], ensure_ascii=True)}"
                for key in ("service", "action", "target", "result", "reason", "duration")
                if key in entry
            )
            bad = entry.get("result") in BAD or failure
            self.logger.log(logging.WARNING if bad else logging.INFO, "%s", summary)
        if failure:
            self.warn(failure)
            raise AuditError(failure)
        return entry

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.logger is not None:
            for handler in list(self.logger.handlers):
                handler.close()
                self.logger.removeHandler(handler)
