"""The alert handler's own files: its log and its state directory (issue 10, items 7 and 9).

Faults for real: a FIFO nobody reads as --log-file (before: the handler hung
until the engine killed it), a directory or a symlink there, and a state
directory another user created first (before: accepted).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.alerting.test_handler_as_engines_run_it import SCRIPT, CommandFifo, fifo, nagios_args
from tests.support.integration import missing

__all__ = ["fifo"]
NOBODY = 65534


def run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    args = nagios_args(tmp_path, "CRITICAL", 1, **extra)
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_a_log_file_that_is_not_a_plain_file_is_refused_not_waited_for(
    tmp_path: Path, fifo: CommandFifo, kind: str
) -> None:
    path = tmp_path / "odd.log"
    victim = tmp_path / "victim"
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path.mkdir()
    else:
        victim.write_text("untouched\n")
        path.symlink_to(victim)
    done = run(tmp_path, **{"--log-file": str(path)})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr  # the result was still handled
    problem = {
        "fifo": "not a regular file",
        "directory": "Is a directory",
        "symlink": "Too many levels of symbolic links",
    }[kind]
    assert done.stderr.startswith(f"pop3_ipmon_alert: cannot open log file {path}: {problem}\n"), (
        done.stderr
    )
    assert fifo.lines()  # the alerting went on
    if kind == "symlink":
        assert victim.read_text() == "untouched\n"


def test_a_state_directory_another_user_owns_is_refused(tmp_path: Path, fifo: CommandFifo) -> None:
    if os.geteuid() != 0:
        missing("giving a directory to another user needs root")
    directory = tmp_path / "pop3_ipmon"  # beside retention.dat, as --state-beside puts it
    directory.mkdir(mode=0o755)
    os.chown(directory, NOBODY, NOBODY)
    done = run(tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2
    log = (tmp_path / "handler.log").read_text()
    assert (
        f"ERROR mail1!POP3: state directory {directory} belongs to uid {NOBODY}, not to this "
        "user (uid 0) or root: refused; remove it, or chown it to this user"
    ) in log, log
    assert list(directory.iterdir()) == []


# -- item 8: names are values, a long display name is shortened, not refused -------------------


def test_a_long_display_name_starting_with_a_dash_is_shortened_and_said(
    tmp_path: Path, fifo: CommandFifo
) -> None:
    """Before: exit 3, nothing counted, nothing logged (a name starting with '-'
    was taken for an option, one over 64 characters refused)."""
    name = "-" + "x" * 69
    args = [a for a in nagios_args(tmp_path, "CRITICAL", 1)]
    args += [f"--monitor-name={name}"]
    args[args.index("--service") : args.index("--service") + 2] = ["--service=-POP3"]
    done = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "handler.log").read_text()
    assert (
        f"WARNING mail1!-POP3: monitor name is 70 characters long; ipMonitor allows at most 64: "
        f"shortened to {name[:64]!r}"
    ) in log, log
    assert any(line.startswith("CHANGE_CUSTOM_SVC_VAR;mail1;-POP3;") for line in fifo.lines())


def test_the_shipped_commands_pass_names_as_single_words() -> None:
    from tests.packaging.test_sdist_and_wheel import ROOT

    nagios = (ROOT / "contrib/nagios/pop3_ipmon_commands.cfg").read_text()
    assert "'--host=$HOSTNAME$' '--service=$SERVICEDESC$'" in nagios
    icinga = (ROOT / "contrib/notify/pop3_ipmon_notify.conf").read_text()
    for word in ("--host=$host.name$", "--service=$service.name$",
                 "--monitor-name=$service.display_name$"):  # fmt: skip
        assert f'value = "{word}"' in icinga, word
