"""Finding the programs integration tests need; skip or fail when one is missing.

A missing program skips its tests with the reason, unless REQUIRE_INTEGRATION=1
(as in CI): then it fails, so nothing can skip silently there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, NoReturn

import pytest

SBIN = ("/usr/sbin", "/sbin", "/usr/lib/nagios/plugins")


def required() -> bool:
    return os.environ.get("REQUIRE_INTEGRATION") == "1"


def missing(reason: str) -> NoReturn:
    if required():
        pytest.fail(f"{reason} (REQUIRE_INTEGRATION=1)", pytrace=False)
    pytest.skip(reason)


def find_program(name: str, package: str) -> str:
    path = shutil.which(name) or next(
        (str(Path(d) / name) for d in SBIN if (Path(d) / name).exists()), None
    )
    if path is None:
        missing(f"{name} not found: install the Debian package {package}")
    return path


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        missing(f"{what} needs root (tests run as root in CI)")


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on now (the server binds it next)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class RefusingPort:
    """A loopback port that refuses connections for as long as it is held:
    bound but not listening, so no other server (of this run or another
    one on the machine) can take it between choosing it and using it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port = int(self._sock.getsockname()[1])

    def close(self) -> None:
        self._sock.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until predicate() holds; fail the test naming `what` after `timeout` s."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process's session, SIGKILL it after `grace` seconds, and
    SIGKILL whatever is left of the group: no worker may outlive a test."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for_banner(
    host: str,
    port: int,
    banner: bytes,
    process: subprocess.Popen[bytes],
    *,
    wait: float,
    diagnostics: Callable[[], str],
) -> None:
    """Wait until a server started as `process` greets with `banner` on `port`."""
    name = Path(str(process.args[0] if isinstance(process.args, list) else process.args)).name
    end = time.monotonic() + wait
    while True:
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                sock.settimeout(2)
                if sock.recv(64).startswith(banner):
                    return
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {diagnostics()}")
        if time.monotonic() > end:
            raise RuntimeError(f"{name} did not greet on port {port}: {diagnostics()}")
        time.sleep(0.05)
