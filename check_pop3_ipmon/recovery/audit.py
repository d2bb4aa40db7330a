"""The record of what recovery did: JSON lines in a file, and syslog.

Nagios throws an event handler's output away, so these are the only trace.
The file is opened before anything runs: a run that could not record what it
does does nothing. Each record is one write() on an O_APPEND descriptor, so
concurrent runs never interleave inside a line. Records hold argv lists and
results, never credentials (sets contain no secrets; key files stay unread).
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any, Optional

IDENT = "pop3_ipmon_recovery"


class AuditError(OSError):
    """The audit log cannot be written: nothing may run."""


class Audit:
    def __init__(self, path: Path, syslog_address: Optional[str]) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as error:
            raise AuditError(f"cannot open audit log {path}: {error.strerror}") from None
        self.logger: Optional[logging.Logger] = None
        if syslog_address and os.path.exists(syslog_address):
            handler = logging.handlers.SysLogHandler(
                address=syslog_address, facility=logging.handlers.SysLogHandler.LOG_DAEMON
            )
            handler.setFormatter(logging.Formatter(f"{IDENT}[{os.getpid()}]: %(message)s"))
            self.logger = logging.getLogger(f"{IDENT}.{id(self)}")
            self.logger.propagate = False
            self.logger.setLevel(logging.INFO)
            self.logger.addHandler(handler)

    def record(self, **fields: Any) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc)
        entry = {"when": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        entry.update(fields)
        line = json.dumps(entry, ensure_ascii=True, sort_keys=False) + "\n"
        os.write(self.fd, line.encode("ascii"))
        if self.logger is not None:
            summary = " ".join(
                f"{key}={json.dumps(entry[key], ensure_ascii=True)}"
                for key in ("service", "action", "target", "result", "reason", "duration")
                if key in entry
            )
            bad = entry.get("result") in ("failed", "refused")
            level = logging.WARNING if bad else logging.INFO
            self.logger.log(level, summary)
        return entry

    def close(self) -> None:
        os.close(self.fd)
        if self.logger is not None:
            for handler in list(self.logger.handlers):
                handler.close()
                self.logger.removeHandler(handler)
