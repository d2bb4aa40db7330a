"""Fixtures for the recovery tests: a temp recovery setup, a recorder, sshd, restart scripts."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.recovery import Config, Facts, load_config
from tests.support.dovecot import Dovecot
from tests.support.sshd import Sshd

RECORDER = Path(__file__).resolve().parent.parent / "support" / "action_recorder.py"
SERVICE = "mail1!pop3"
# TEST-NET-2: never an address of the test machine, and nothing here connects to it.
REMOTE = "198.51.100.7"

FACTS = Facts(
    monitor="Mail POP3",
    host="mail1",
    address=REMOTE,
    state="CRITICAL",
    ipmon_state="Down",
    failures=3,
    output="POP3 CRITICAL - connection refused",
)


def facts(**changes: Any) -> Facts:
    return dataclasses.replace(FACTS, **changes)


@dataclasses.dataclass
class Recovery:
    """One recovery setup in a temp dir: config, state, audit log, recorder output."""

    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def records(self) -> Path:
        return self.root / "records.jsonl"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.ini"

    @property
    def path(self) -> Path:
        return self.root / "recovery.ini"

    def recorder(self, *options: str) -> str:
        """A config command line running the recorder (argv quoting)."""
        return shlex.join([sys.executable, str(RECORDER), str(self.records), *options])

    def write(self, body: str, **settings: object) -> Path:
        values: dict[str, object] = {
            "state_dir": self.state_dir,
            "audit_log": self.audit_log,
            "syslog": "off",
            "credentials_file": self.credentials_file,
        }
        values.update(settings)
        head = "".join(f"{key} = {value}\n" for key, value in values.items())
        self.path.write_text(f"[recovery]\n{head}\n{body}")
        return self.path

    def config(self, body: str, **settings: object) -> Config:
        return load_config(self.write(body, **settings))

    def credentials(self, text: str, mode: int = 0o600) -> Path:
        self.credentials_file.write_text(text)
        os.chmod(self.credentials_file, mode)
        return self.credentials_file

    def calls(self) -> list[dict[str, Any]]:
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines()]

    def audit(self, starting: bool = False) -> list[dict[str, Any]]:
        """The audit records: decisions and outcomes, and with `starting` also the
        record each action gets before it runs."""
        if not self.audit_log.exists():
            return []
        records = [json.loads(line) for line in self.audit_log.read_text().splitlines()]
        return [r for r in records if starting or r["result"] != "starting"]


@pytest.fixture
def recovery(tmp_path: Path) -> Recovery:
    return Recovery(tmp_path)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    workdir = tmp_path / "sshd"
    workdir.mkdir()
    server = Sshd(workdir)
    server.start()
    yield server
    server.stop()


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


@pytest.fixture
def restartable(dovecot: Dovecot, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Start/stop scripts for the test Dovecot; stops whatever instance they started."""
    conf = dovecot.config
    scripts = {
        # Detached (own session, no inherited stdio) so the SSH session can end.
        "start": script(
            tmp_path / "start-dovecot",
            f"exec setsid -f {dovecot.binary} -F -c {conf} "
            f"</dev/null >/dev/null 2>>{dovecot.workdir}/restarted.stderr\n",
        ),
        "stop": script(tmp_path / "stop-dovecot", f"exec {dovecot.binary} -c {conf} stop\n"),
    }
    yield scripts
    pidfile = dovecot.workdir / "run" / "master.pid"
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    if dovecot.process is None or dovecot.process.pid != pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
