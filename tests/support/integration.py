"""Finding the programs integration tests need; skip or fail when one is missing.

A missing program skips its tests with the reason, unless REQUIRE_INTEGRATION=1
(as in CI): then it fails, so nothing can skip silently there.
"""

from __future__ import annotations

import os
import shutil
import socket
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


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until predicate() holds; fail the test naming `what` after `timeout` s."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)
