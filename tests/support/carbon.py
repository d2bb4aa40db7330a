"""A real carbon-cache (Debian's graphite-carbon) from a temporary directory.

Its own carbon.conf and storage-schemas.conf, every directory in the work
directory, the plaintext line receiver on a free loopback port (the one Icinga
2's GraphiteWriter talks to), the pickle and cache-query ports on free ones
too, tags off (they would call a graphite-web that is not there). Whisper files
land under `whisper_dir`, one directory level per metric path level: what a
Graphite user browses.

    carbon = Carbon(workdir); carbon.start()
    carbon.metrics()   # {"icinga2.h.services.s.cmd.perfdata.time.value", ...}
    carbon.values("icinga2.h.services.s.cmd.perfdata.time.value")  # whisper-fetch's points
    carbon.stop()
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from tests.support.integration import find_program, free_port, stop_process_group, wait_until


class Carbon:
    def __init__(self, workdir: Path) -> None:
        self.binary = find_program("carbon-cache", "graphite-carbon")
        self.workdir = workdir
        self.conf_dir = workdir / "conf"
        self.whisper_dir = workdir / "storage" / "whisper"
        for path in (self.conf_dir, self.whisper_dir, workdir / "log", workdir / "lists"):
            path.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        pickle_port, query_port = free_port(), free_port()
        (self.conf_dir / "carbon.conf").write_text(
            f"""\
[cache]
STORAGE_DIR = {workdir / "storage"}
LOCAL_DATA_DIR = {self.whisper_dir}
WHITELISTS_DIR = {workdir / "lists"}
CONF_DIR = {self.conf_dir}
LOG_DIR = {workdir / "log"}
PID_DIR = {workdir}
ENABLE_LOGROTATION = False
USER =
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query_port}
LOG_LISTENER_CONN_SUCCESS = False
"""
        )
        # One-second points for an hour: every test's result is kept.
        (self.conf_dir / "storage-schemas.conf").write_text(
            "[everything]\npattern = .*\nretentions = 1s:1h\n"
        )
        self.process: Optional[subprocess.Popen[bytes]] = None

    def start(self, wait: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, f"--config={self.conf_dir / 'carbon.conf'}", "--nodaemon", "start"],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "carbon.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self.process
        wait_until(lambda: process.poll() is not None or self._answers(), wait, "carbon-cache")
        if process.poll() is not None:
            raise RuntimeError(f"carbon-cache exited: {self.diagnostics()}")

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def metrics(self) -> set[str]:
        """The metric paths with a whisper file, dotted as Graphite shows them."""
        return {
            ".".join(path.relative_to(self.whisper_dir).with_suffix("").parts)
            for path in self.whisper_dir.rglob("*.wsp")
        }

    def values(self, metric: str) -> list[float]:
        """The points whisper holds for `metric` (python3-whisper's whisper-fetch)."""
        fetch = shutil.which("whisper-fetch") or find_program("whisper-fetch.py", "python3-whisper")
        path = self.whisper_dir.joinpath(*metric.split(".")).with_suffix(".wsp")
        since = str(int(time.time()) - 3000)
        proc = subprocess.run(
            [fetch, "--json", f"--from={since}", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [float(v) for v in json.loads(proc.stdout)["values"] if v is not None]

    def diagnostics(self) -> str:
        out = self.workdir / "carbon.out"
        return out.read_text(errors="replace")[-4000:] if out.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, 10)
