"""The console script ends with os._exit() (no interpreter teardown): what it printed
must still arrive whole through a pipe, where stdout is block-buffered, with the
check's exit status, from the script and from `python -m` alike."""

from __future__ import annotations

import subprocess
import sys
from typing import Callable

import pytest

from tests.support.fakepop3 import FakePOP3, Script, greeting_then_quit
from tests.support.output import Run, plugin_command


@pytest.mark.parametrize(
    ("greeting", "code", "first"),
    [
        (b"+OK ready\r\n", 0, "POP3 OK - greeting in "),
        (b"-ERR [SYS/TEMP] busy\r\n", 2, "POP3 CRITICAL - server refuses service: "),
    ],
)
@pytest.mark.parametrize("how", ["script", "module"])
def test_output_and_status_survive_the_fast_exit(
    fake_pop3: Callable[[Script], FakePOP3], greeting: bytes, code: int, first: str, how: str
) -> None:
    server = fake_pop3(greeting_then_quit(greeting))
    command = plugin_command() if how == "script" else [sys.executable, "-m", "check_pop3_ipmon"]
    proc = subprocess.run(
        [*command, "-H", "127.0.0.1", "-p", str(server.port), "-vvv"],
        capture_output=True,  # pipes: stdout is block-buffered there
        timeout=60,
        check=False,
    )
    assert proc.returncode == code, proc.stdout
    assert proc.stderr == b""
    run = Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), 0.0)
    assert run.first.startswith(first), run.first
    assert "time" in run.perfdata
    # -vvv adds the transcript, and the perfdata comes last: the last bytes
    # written made it out too.
    assert any(line.startswith("S: ") for line in run.lines), run.stdout
    assert run.lines[-1].startswith("| ") and " time=" in run.lines[-1], run.lines[-1]
