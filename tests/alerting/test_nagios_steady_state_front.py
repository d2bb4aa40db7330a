"""The shell fronts of the shipped ocsp commands start no Python in the steady state
(issue 18, item 6).

Each command line of contrib/nagios/pop3_ipmon_commands.cfg is expanded as
Nagios expands it (macros pasted in, $$ a literal $) and run as Nagios runs
a line with shell characters: /bin/sh -c, the environment macros set. $USER1$
holds a recording pop3_ipmon_alert (one line per run, its arguments) beside
the shipped pop3_ipmon_forward, so a test sees exactly when the handler ran.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.integration import free_port

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ROOT / "contrib" / "nagios" / "pop3_ipmon_commands.cfg"
FORWARD = ROOT / "contrib" / "nagios" / "pop3_ipmon_forward"


def command_line(name: str) -> str:
    text = COMMANDS.read_text()
    block = re.search(
        r"define command \{\s*command_name\s+" + re.escape(name) + r"\s*\n\s*command_line\s+(.*)\n",
        text,
    )
    assert block, name
    return block[1].strip()


def expand(line: str, macros: dict[str, str]) -> str:
    """Nagios' macro expansion: $NAME$ replaced, $$ a single $."""

    def one(match: re.Match[str]) -> str:
        name = match[1]
        return "$" if name == "" else macros.get(name, "")

    return re.sub(r"\$([A-Z0-9_]*)\$", one, line)


def plugins(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    recorder = directory / "pop3_ipmon_alert"
    runs = tmp_path / "runs"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(runs))}\nexit 0\n')
    recorder.chmod(0o755)
    (directory / "pop3_ipmon_forward").symlink_to(FORWARD)
    return directory


def run(  # noqa: PLR0917 - the columns of the table below
    tmp_path: Path, name: str, state: str, last: str, ipmon: str, ours: bool = True
) -> int:
    macros = {
        "USER1": str(tmp_path / "plugins"),
        "ARG1": "127.0.0.1",
        "ARG2": str(free_port()),  # nothing listens: the send fails, said on stderr
        "ARG3": str(tmp_path / "send_nsca.cfg"),
        "SERVICESTATE": state,
        "LASTSERVICESTATE": last,
        "SERVICECHECKTYPE": "PASSIVE",
        "HOSTNAME": "mail1",
        "SERVICEDESC": "POP3",
        "SERVICESTATETYPE": "HARD",
        "SERVICEATTEMPT": "1",
    }
    env = {
        "PATH": os.environ["PATH"],
        "NAGIOS_HOSTNAME": "mail1",
        "NAGIOS_SERVICEDESC": "POP3",
        "NAGIOS_SERVICESTATE": state,
        "NAGIOS_LASTSERVICESTATE": last,
        "NAGIOS_SERVICESTATEID": {"OK": "0", "WARNING": "1", "CRITICAL": "2"}[state],
        "NAGIOS_SERVICEOUTPUT": f"POP3 {state}",
    }
    if ours:
        env["NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT"] = "3"
        env["NAGIOS__SERVICEPOP3_IPMON_STATE"] = ipmon
    line = expand(command_line(name), macros)
    proc = subprocess.run(
        ["/bin/sh", "-c", line], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return proc.returncode


def handler_runs(tmp_path: Path) -> list[str]:
    runs = tmp_path / "runs"
    return runs.read_text().splitlines() if runs.exists() else []


@pytest.mark.parametrize("name", ["pop3-ipmon-alert", "pop3-ipmon-forward"])
@pytest.mark.parametrize(
    ("state", "last", "ipmon", "runs"),
    [
        ("OK", "OK", "Up", False),  # the steady state: nothing owed
        ("OK", "CRITICAL", "Down", True),  # the recovery
        ("OK", "CRITICAL", "Up", True),  # a SOFT failure passed: Warn was not yet published
        ("OK", "OK", "Down", True),  # an earlier run could not act: still owed
        ("OK", "OK", "Maintenance", True),
        ("CRITICAL", "OK", "Up", True),  # failure 1
        ("CRITICAL", "CRITICAL", "Down", True),
        ("WARNING", "WARNING", "Warn", True),
    ],
)
def test_the_handler_runs_only_where_something_is_owed(  # noqa: PLR0917 - parametrized
    tmp_path: Path, name: str, state: str, last: str, ipmon: str, runs: bool
) -> None:
    plugins(tmp_path)
    assert run(tmp_path, name, state, last, ipmon) == 0
    found = handler_runs(tmp_path)
    assert len(found) == int(runs), found
    if runs:
        assert found[0].startswith("nagios --command-file "), found
        assert found[0].endswith(" --check-type PASSIVE"), found
        assert f" --state {state} " in found[0], found


@pytest.mark.parametrize("name", ["pop3-ipmon-alert", "pop3-ipmon-forward"])
def test_other_services_start_no_python(tmp_path: Path, name: str) -> None:
    plugins(tmp_path)
    run(tmp_path, name, "CRITICAL", "OK", "", ours=False)
    assert handler_runs(tmp_path) == []


def test_both_commands_pass_the_handler_the_same_arguments() -> None:
    alert = command_line("pop3-ipmon-alert")
    forward = command_line("pop3-ipmon-forward")
    handler = alert[alert.index("$USER1$/pop3_ipmon_alert") :]
    assert forward.endswith(" -- " + handler)
    # Nagios' object files end a line at ';' (a comment): the fronts use || only.
    assert ";" not in alert + forward
