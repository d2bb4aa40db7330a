"""A real NSCA daemon (Debian's nsca) from a temporary directory, for end-to-end tests.

It listens on a free loopback port and writes the passive results that
send_nsca delivers into a Nagios' command file, as a central Nagios of a
distributed setup gets them. Both configuration files are private (0600:
they hold the shared password) and name the same encryption (Rijndael-256,
which Debian's libmcrypt build offers). The daemon runs in the foreground
(-f, one process, --single) in its own session and is stopped by its id.

    daemon = Nsca(workdir, central.command_file)
    daemon.start()
    daemon.client_config, daemon.port     # what send_nsca needs (-c, -p)
    daemon.stop()
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from tests.support.integration import find_program, free_port, require_root, stop_process_group

ENCRYPTION = 16  # Rijndael-256 (send_nsca.cfg's list)


def private_file(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


class Nsca:
    def __init__(self, workdir: Path, command_file: Path) -> None:
        require_root("the NSCA daemon (nsca_user root)")
        self.binary = find_program("nsca", "nsca")
        self.send_nsca = find_program("send_nsca", "nsca-client")
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        password = secrets.token_hex(16)
        self.config = private_file(
            workdir / "nsca.cfg",
            "".join(
                f"{key}={value}\n"
                for key, value in {
                    "pid_file": workdir / "nsca.pid",
                    "server_port": self.port,
                    "server_address": "127.0.0.1",
                    "nsca_user": "root",
                    "nsca_group": "root",
                    "debug": 1,
                    "command_file": command_file,
                    "alternate_dump_file": workdir / "nsca.dump",
                    "aggregate_writes": 0,
                    "append_to_file": 0,
                    "max_packet_age": 30,
                    "password": password,
                    "decryption_method": ENCRYPTION,
                }.items()
            ),
        )
        self.client_config = private_file(
            workdir / "send_nsca.cfg", f"password={password}\nencryption_method={ENCRYPTION}\n"
        )

    def start(self, wait: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-f", "-c", str(self.config), "--single"],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "nsca.out", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        end = time.monotonic() + wait
        while not self._greets():
            if self.process.poll() is not None:
                raise RuntimeError(f"nsca exited: {self.diagnostics()}")
            if time.monotonic() > end:
                raise RuntimeError(f"nsca did not listen on port {self.port}: {self.diagnostics()}")
            time.sleep(0.1)

    def _greets(self) -> bool:
        """NSCA sends its initialisation packet (IV and time) to each client."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.settimeout(2)
                return len(sock.recv(16)) > 0
        except OSError:
            return False

    def diagnostics(self) -> str:
        out = self.workdir / "nsca.out"
        return out.read_text(errors="replace")[-2000:] if out.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process_group(self.process, 10)
        self.process = None
