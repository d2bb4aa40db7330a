"""Nagios' numeric custom variables reach the handler as environment macros, never
through /bin/sh (issue 10, item 14).

Before, the shipped ocsp command pasted $_SERVICEPOP3_IPMON_*$ into its shell
line: a variable changed at run time (CHANGE_CUSTOM_SVC_VAR), with an
illegal_macro_output_chars lacking ' and $, ran a command. Now the command
line holds no custom variable, and the handler takes them from
NAGIOS__SERVICEPOP3_IPMON_*, validated as numbers.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.alerting.test_handler_as_engines_run_it import SCRIPT, CommandFifo, fifo, nagios_args
from tests.packaging.test_sdist_and_wheel import ROOT

__all__ = ["fifo"]
SETTINGS = ("failures-per-alert", "max-alerts", "up-interval", "down-interval", "lost-interval")


def test_the_shipped_command_line_holds_no_custom_variable() -> None:
    text = (ROOT / "contrib/nagios/pop3_ipmon_commands.cfg").read_text()
    lines = [
        line for line in text.splitlines() if "pop3_ipmon_alert" in line and "command_line" in line
    ]
    assert lines
    for line in lines:
        assert not re.search(r"\$_(SERVICE|HOST)\w*\$", line), line
        # The front that leaves other services alone reads the environment
        # macro: in the line itself, or in the shipped forwarder it runs.
        if "pop3_ipmon_forward" in line:
            forward = (ROOT / "contrib/nagios/pop3_ipmon_forward").read_text()
            assert '"${NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT-}"' in forward
        else:
            assert '"$$NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT"' in line


def without_settings(tmp_path: Path, attempt: int) -> list[str]:
    args = nagios_args(tmp_path, "CRITICAL", attempt)
    out = []
    skip = False
    for word in args:
        if skip:
            skip = False
            continue
        if word.lstrip("-") in SETTINGS:
            skip = True
            continue
        out.append(word)
    return out


def handler(tmp_path: Path, attempt: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *without_settings(tmp_path, attempt)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


ENV = {
    "NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT": "2",
    "NAGIOS__SERVICEPOP3_IPMON_MAX_ALERTS": "2",
    "NAGIOS__SERVICEPOP3_IPMON_UP_INTERVAL": "5",
    "NAGIOS__SERVICEPOP3_IPMON_DOWN_INTERVAL": "1",
    "NAGIOS__SERVICEPOP3_IPMON_LOST_INTERVAL": "15",
}


def test_the_settings_come_from_the_environment_macros(tmp_path: Path, fifo: CommandFifo) -> None:
    run = handler(tmp_path, 1, **ENV)
    assert run.returncode == 0, run.stderr
    assert any("POP3_IPMON_STATE;Warn" in line for line in fifo.lines())


def test_a_hostile_environment_value_is_refused_as_data(tmp_path: Path, fifo: CommandFifo) -> None:
    marker = tmp_path / "pwned"
    hostile = {**ENV, "NAGIOS__SERVICEPOP3_IPMON_MAX_ALERTS": f"2';touch {marker};'"}
    run = handler(tmp_path, 1, **hostile)
    assert run.returncode == 3, run.stderr
    assert not marker.exists()
    # Before the log file is known: stderr (and syslog, where there is one).
    error = "NAGIOS__SERVICEPOP3_IPMON_MAX_ALERTS (for --max-alerts): expected a whole number"
    assert error in run.stderr
    assert fifo.lines() == []


def test_a_missing_interval_is_a_usage_error(tmp_path: Path, fifo: CommandFifo) -> None:
    env = {k: v for k, v in ENV.items() if "DOWN" not in k}
    run = handler(
        tmp_path, 1, **{k: v for k, v in os.environ.items() if not k.startswith("NAGIOS__")}, **env
    )
    assert run.returncode == 3
    assert (
        "--down-interval is required (or, for Nagios, NAGIOS__SERVICEPOP3_IPMON_DOWN_INTERVAL)"
        in run.stderr
    )
