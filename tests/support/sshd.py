"""A real OpenSSH server on loopback, from a temporary configuration, as root.

Debian's openssh-server: `sshd -D -e -f <temp sshd_config>` on a free port
with a fresh host key, one test client key in authorized_keys, password and
keyboard-interactive logins off. The client side gets a known_hosts file
holding exactly this server's key, as a recovery credential set would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

from tests.support.integration import find_program, free_port, require_root, wait_for_banner

# sshd refuses to start without its privilege separation directory, which
# systemd normally creates (RuntimeDirectory) when the service starts.
PRIVSEP_DIR = Path("/run/sshd")


class Sshd:
    def __init__(self, workdir: Path, user: str = "root", *, jump_host: bool = False) -> None:
        """`jump_host`: allows TCP forwarding, as a jump host (ssh -J, -W) needs."""
        self.jump_host = jump_host
        require_root("sshd")
        self.binary = find_program("sshd", "openssh-server")
        self.keygen = find_program("ssh-keygen", "openssh-client")
        self.client = find_program("ssh", "openssh-client")
        self.workdir = workdir
        self.user = user
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log = workdir / "sshd.log"
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.client_key = workdir / "client_ed25519"
        self.authorized_keys = workdir / "authorized_keys"
        self.known_hosts = workdir / "known_hosts"
        self.config = workdir / "sshd_config"
        self._setup()

    def _keygen(self, path: Path, comment: str) -> None:
        subprocess.run(
            [self.keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            capture_output=True,
        )

    def _setup(self) -> None:
        self._keygen(self.host_key, "test host key")
        self._keygen(self.client_key, "check_pop3_ipmon recovery test")
        self.authorized_keys.write_text(Path(f"{self.client_key}.pub").read_text())
        os.chmod(self.authorized_keys, 0o600)
        key_type, key = Path(f"{self.host_key}.pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {key_type} {key}\n")
        self.config.write_text(
            f"""\
ListenAddress {self.host}:{self.port}
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {self.authorized_keys}
# pytest's temp dirs sit under world-writable /tmp, which StrictModes rejects.
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {self.user}
UsePAM no
PrintMotd no
X11Forwarding no
AllowTcpForwarding {"yes" if self.jump_host else "no"}
AllowAgentForwarding no
LogLevel VERBOSE
"""
        )

    def start(self, wait: float = 15.0) -> None:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        check = subprocess.run(
            [self.binary, "-t", "-f", str(self.config)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"sshd -t rejected the test config: {check.stderr}")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for_banner(
            self.host,
            self.port,
            b"SSH-2.0-",
            self.process,
            wait=wait,
            diagnostics=lambda: self.log.read_text(errors="replace"),
        )
        end = time.monotonic() + wait
        # connections() subtracts this probe: wait until sshd has logged it.
        while "Connection from " not in self.log.read_text(errors="replace"):
            if time.monotonic() > end:
                raise RuntimeError("sshd did not log the readiness probe")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.process = None

    def connections(self) -> int:
        """TCP connections sshd saw, not counting start()'s own readiness probe."""
        return self.log.read_text(errors="replace").count("Connection from ") - 1

    def logins(self) -> int:
        """How many sessions were accepted so far (from sshd's log)."""
        return self.log.read_text(errors="replace").count("Accepted publickey")

    def credentials(self) -> str:
        """A credential set (INI section body) for this server and the test key."""
        return (
            "method = ssh\n"
            f"user = {self.user}\n"
            f"identity_file = {self.client_key}\n"
            f"known_hosts = {self.known_hosts}\n"
            f"port = {self.port}\n"
        )
