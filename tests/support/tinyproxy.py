"""A real HTTP proxy (Debian's tinyproxy) on a loopback port, from a temp dir.

with TinyProxy(tmp_path) as squid:
    squid.url                  # http://127.0.0.1:PORT
    squid.requests()           # the request lines it was asked for: "CONNECT host:port"
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

from tests.support.integration import find_program, free_port, stop_process_group

# The HTTP version left out: http.client tunnels with 1.0 or 1.1 by Python version.
_REQUEST = re.compile(r"Request \(file descriptor \d+\): (.*?)(?: HTTP/1\.[01])?$")


class TinyProxy:
    def __init__(self, directory: Path, *, basic_auth: str = "") -> None:
        self.program = find_program("tinyproxy", "tinyproxy-bin")
        self.directory = directory
        self.port = free_port()
        self.log = directory / "tinyproxy.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log}"',
            "LogLevel Connect",
            f'PidFile "{directory / "tinyproxy.pid"}"',
            "MaxClients 20",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        if basic_auth:
            lines.append(f"BasicAuth {basic_auth.replace(':', ' ', 1)}")
        self.config = directory / "tinyproxy.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes]

    def requests(self) -> list[str]:
        if not self.log.exists():
            return []
        return [m.group(1) for m in map(_REQUEST.search, self.log.read_text().splitlines()) if m]

    def __enter__(self) -> TinyProxy:
        # -d: in the foreground, so the fixture owns (and ends) the process.
        self.process = subprocess.Popen(
            [self.program, "-d", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "tinyproxy.err").open("wb"),
            start_new_session=True,
        )
        end = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > end:
                    err = (self.directory / "tinyproxy.err").read_text(errors="replace")
                    stop_process_group(self.process, 5)
                    raise RuntimeError(f"tinyproxy did not listen on {self.port}: {err}") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        stop_process_group(self.process, 5)
