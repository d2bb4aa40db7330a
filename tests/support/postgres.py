"""A throw-away PostgreSQL cluster (Debian's postgresql), for Icinga Director.

initdb and the server run as the postgres user (PostgreSQL refuses root) in a
directory of their own under /tmp (pytest's tmp_path is root's, closed to
other users), listening on a free loopback port and a socket in that
directory; trust authentication, reachable only from this machine. Removed
on stop.

    pg = Postgres(); pg.start()
    pg.sql("CREATE DATABASE x")   # as the superuser, through the socket
    pg.stop()
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from tests.support.integration import free_port, missing, require_root

PREFIX = "pop3-ipmon-pg-"


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        missing("PostgreSQL not found: install the Debian package postgresql")
    return Path(found[-1]).parent


class Postgres:
    def __init__(self) -> None:
        require_root("PostgreSQL as the postgres user")
        self.bin = _bindir()
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            missing("no postgres user: install the Debian package postgresql")
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.root.chmod(0o755)
        os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self.started = False

    def _as_postgres(self, *argv: str, stdin: Optional[str] = None) -> str:
        proc = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self) -> None:
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self._as_postgres(
            str(self.bin / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.root), "-p", str(self.port), "-d", database, "-c", statement,
        )  # fmt: skip

    def diagnostics(self) -> str:
        log = self.root / "log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def stop(self) -> None:
        if self.started:
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
            self.started = False
        assert self.root.name.startswith(PREFIX) and str(self.root).startswith(
            tempfile.gettempdir()
        )
        shutil.rmtree(self.root, ignore_errors=True)
