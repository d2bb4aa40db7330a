"""Debian 12's other POP3 servers, from their packages, on free loopback ports.

They conflict with dovecot-pop3d as packages, so CI does not install them:
.ci/run fetches them with `apt-get download` and unpacks them with
`dpkg-deb -x` into a temp dir it names in POP3_SERVERS_ROOT. Both run from
inetd (standalone popa3d would take port 110 on every address), so the
fixture does inetd's part: it accepts on a free loopback port and starts the
server with the connection as its standard input and output. The servers
are the real binaries; nothing here answers POP3.

Each drops to a user of its own (popa3d, spop3d), given by a temp passwd
file through nss_wrapper; popa3d also chroots to its compiled-in
/var/lib/popa3d, so it gets a private mount namespace (unshare -m) with a
temp dir bound over /var/lib. Nothing is written outside the temp dirs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from tests.support.integration import missing, require_root

ROOT_VARIABLE = "POP3_SERVERS_ROOT"
NSS_WRAPPER = Path("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so")
BINARIES = {"popa3d": "usr/sbin/popa3d", "solid-pop3d": "usr/sbin/solid-pop3d"}
# The unprivileged user each drops to (getpwnam): from nss_wrapper's passwd.
USERS = {"popa3d": "popa3d", "solid-pop3d": "spop3d"}


def binary(name: str) -> Path:
    root = os.environ.get(ROOT_VARIABLE)
    if not root:
        missing(
            f"{name} not unpacked: set {ROOT_VARIABLE} to a dir holding "
            f"`apt-get download {name}` unpacked with dpkg-deb -x (.ci/run does)"
        )
    path = Path(root) / BINARIES[name]
    if not path.exists():
        missing(f"{path} not found: unpack Debian's {name} package into ${ROOT_VARIABLE}")
    return path


class InetdServer:
    """One POP3 server binary, started per connection as inetd starts it."""

    def __init__(self, name: str, workdir: Path) -> None:
        require_root(name)
        self.name = name
        self.argv = [str(binary(name))]
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self._user(workdir)
        if name == "popa3d":
            self._popa3d(workdir)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.host = "127.0.0.1"
        self.port: int = self.listener.getsockname()[1]
        self.children: list[subprocess.Popen[bytes]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _user(self, workdir: Path) -> None:
        if not NSS_WRAPPER.exists():
            missing(f"{self.name} needs its user: install libnss-wrapper")
        (workdir / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/sh\n"
            f"{USERS[self.name]}:x:65534:65534::{workdir}:/usr/sbin/nologin\n"
        )
        (workdir / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        self.env.update(
            LD_PRELOAD=str(NSS_WRAPPER),
            NSS_WRAPPER_PASSWD=str(workdir / "passwd"),
            NSS_WRAPPER_GROUP=str(workdir / "group"),
        )

    def _popa3d(self, workdir: Path) -> None:
        unshare, mount = shutil.which("unshare"), shutil.which("mount")
        if unshare is None or mount is None:
            missing("popa3d needs unshare and mount (util-linux, mount)")
        (workdir / "varlib" / "popa3d").mkdir(parents=True)
        # "$0" and "$1": the paths are arguments, never part of the script.
        script = 'mount --bind "$0" /var/lib && exec "$1"'
        self.argv = [unshare, "-m", "sh", "-c", script, str(workdir / "varlib"), *self.argv]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.children.append(
                    subprocess.Popen(
                        self.argv,
                        stdin=conn.fileno(),
                        stdout=conn.fileno(),
                        stderr=subprocess.DEVNULL,
                        env=self.env,
                    )
                )

    def __enter__(self) -> InetdServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait(10)
