"""A real Nagios 4 from a temporary directory, for end-to-end tests.

Everything Nagios writes (log, status, retention, command FIFO, query socket,
check results) stays in the work directory, so several instances and the
system's own Nagios never meet. interval_length=1 makes every interval a
number of seconds; status.dat is rewritten every second. Nagios runs in the
foreground as a child in its own session and is stopped by its process id.

    nagios = Nagios(workdir, [objects.cfg, ...], resource={"USER1": "/plugins"})
    nagios.verify()                     # nagios4 -v
    nagios.start()
    nagios.command("SCHEDULE_FORCED_SVC_CHECK;host;svc;0")
    nagios.wait_for(lambda: ..., 30, "what we wait for")
    nagios.log_lines(); nagios.service_status("host", "svc")
    nagios.stop()
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.support.integration import find_program, require_root, stop_process_group, wait_until

LOG_LINE = re.compile(r"\[(\d+)\] (.*)")


@dataclass
class LogEntry:
    time: int
    text: str


@dataclass
class ServiceAlert:
    """A 'SERVICE ALERT' line: one check result Nagios logged."""

    time: int
    host: str
    service: str
    state: str
    state_type: str
    attempt: int
    output: str


class Nagios:
    def __init__(
        self,
        workdir: Path,
        object_files: Sequence[Path],
        resource: Optional[Mapping[str, str]] = None,
        settings: Optional[Mapping[str, str]] = None,
    ) -> None:
        require_root("Nagios")
        self.binary = find_program("nagios4", "nagios4-core")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for sub in ("var", "rw", "spool"):
            (workdir / sub).mkdir(exist_ok=True)
        self.config = workdir / "nagios.cfg"
        self.log = workdir / "var" / "nagios.log"
        self.status_file = workdir / "var" / "status.dat"
        self.command_file = workdir / "rw" / "nagios.cmd"
        self.retention_file = workdir / "var" / "retention.dat"
        self.precache = workdir / "var" / "objects.precache"
        self.process: Optional[subprocess.Popen[bytes]] = None
        resource_file = workdir / "resource.cfg"
        resource_file.write_text(
            "".join(f"${key}$={value}\n" for key, value in (resource or {}).items())
        )
        v = workdir / "var"
        main = {
            "log_file": str(self.log),
            "object_cache_file": str(v / "objects.cache"),
            "precached_object_file": str(self.precache),
            "resource_file": str(resource_file),
            "status_file": str(self.status_file),
            "status_update_interval": "1",
            "nagios_user": "root",
            "nagios_group": "root",
            "check_external_commands": "1",
            "command_file": str(self.command_file),
            "query_socket": str(v / "nagios.qh"),
            "lock_file": str(v / "nagios.lock"),
            "temp_file": str(v / "nagios.tmp"),
            "temp_path": str(v),
            "check_result_path": str(workdir / "spool"),
            "state_retention_file": str(self.retention_file),
            "retain_state_information": "1",
            "use_syslog": "0",
            "log_notifications": "1",
            "log_service_retries": "1",
            "log_host_retries": "1",
            "log_event_handlers": "1",
            "log_external_commands": "1",
            "log_initial_states": "1",
            "interval_length": "1",
            # Debian's nagios.cfg says 0: what the contrib settings must change.
            "enable_environment_macros": "0",
            "enable_event_handlers": "1",
            "enable_notifications": "1",
            "service_inter_check_delay_method": "n",
            "host_inter_check_delay_method": "n",
            "max_service_check_spread": "1",
            "max_host_check_spread": "1",
            "check_for_orphaned_services": "0",
            "check_service_freshness": "0",
            "check_host_freshness": "0",
            "event_handler_timeout": "30",
            "notification_timeout": "30",
            "illegal_macro_output_chars": "`~$&|'\"<>",
        }
        main.update(settings or {})
        lines = [f"{key}={value}" for key, value in main.items()]
        lines += [f"cfg_file={path}" for path in object_files]
        self.config.write_text("\n".join(lines) + "\n")

    def verify(self, precache: bool = False) -> subprocess.CompletedProcess[str]:
        """`nagios4 -v`: the configuration check an administrator runs.

        With precache, `-vp` also writes the resolved objects to self.precache.
        """
        return subprocess.run(
            [self.binary, "-vp" if precache else "-v", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self, wait: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, str(self.config)],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "nagios.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: self._started() or self.process is None or self.process.poll() is not None,
            wait,
            "Nagios to read its command file",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"nagios exited: {self.diagnostics()}")

    def _started(self) -> bool:
        return self.command_file.exists() and any(
            "Successfully launched command file worker" in entry.text for entry in self.entries()
        )

    def diagnostics(self) -> str:
        parts = []
        for path in (self.workdir / "nagios.out", self.log):
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def command(self, line: str) -> None:
        """Send one external command (without the [time] prefix)."""
        if "\n" in line:
            raise ValueError("one command per call")
        fd = os.open(self.command_file, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"[{int(time.time())}] {line}\n".encode())
        finally:
            os.close(fd)

    def entries(self) -> list[LogEntry]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match:
                out.append(LogEntry(int(match[1]), match[2]))
        return out

    def log_lines(self) -> list[str]:
        return [entry.text for entry in self.entries()]

    def service_alerts(self, host: str, service: str) -> list[ServiceAlert]:
        """Every logged check result of the service (log_service_retries=1 logs each SOFT one)."""
        alerts = []
        for entry in self.entries():
            if not entry.text.startswith("SERVICE ALERT: "):
                continue
            fields = entry.text[len("SERVICE ALERT: ") :].split(";", 5)
            if fields[0] == host and fields[1] == service:
                alerts.append(
                    ServiceAlert(
                        entry.time,
                        host,
                        service,
                        fields[2],
                        fields[3],
                        int(fields[4]),
                        fields[5] if len(fields) > 5 else "",
                    )
                )
        return alerts

    def status(self) -> list[tuple[str, dict[str, str]]]:
        """status.dat as (block type, fields) pairs; empty while it is being rewritten."""
        try:
            text = self.status_file.read_text(errors="replace")
        except FileNotFoundError:
            return []
        blocks: list[tuple[str, dict[str, str]]] = []
        current: Optional[dict[str, str]] = None
        for raw in text.splitlines():
            line = raw.strip()
            if line.endswith("{"):
                current = {}
                blocks.append((line[:-1].strip(), current))
            elif line == "}":
                current = None
            elif current is not None and "=" in line:
                key, value = line.split("=", 1)
                current[key] = value
        return blocks

    def service_status(self, host: str, service: str) -> dict[str, str]:
        for kind, fields in self.status():
            if (
                kind == "servicestatus"
                and fields.get("host_name") == host
                and fields.get("service_description") == service
            ):
                return fields
        return {}

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process_group(self.process, 15)
        self.process = None


def main_settings(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a nagios.cfg snippet (contrib/nagios-main/pop3_ipmon_main.cfg)."""
    settings = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


def object_block(kind: str, fields: Iterable[tuple[str, str]]) -> str:
    """One `define kind { ... }` block for a test's own objects."""
    body = "".join(f"    {key} {value}\n" for key, value in fields)
    return f"define {kind} {{\n{body}}}\n"
