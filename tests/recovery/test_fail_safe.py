"""Recovery fails closed, never silently (issue 10, items 1, 3, 4, 5 and 6).

Each fault is injected for real: a state file or lock this process may not
open (root without its file access override, bound by file modes as the
engine's user is), hostile state contents, a 1 GB sparse file under a memory
limit, a tmpfs that fills, a clock that was ahead (libfaketime), a SIGKILL of
the handler's process group. Each test fails without its fix: before it the
action ran (fail open), or the run died with a traceback and no record.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.recovery import Config, exit_code, run_actions
from check_pop3_ipmon.recovery.engine import OK, REFUSED, SKIPPED, WARNING
from check_pop3_ipmon.recovery.state import Store
from tests.recovery.conftest import REMOTE, SERVICE, Recovery, facts
from tests.recovery.test_cli import SCRIPT, alert
from tests.support.integration import find_program, missing, wait_until

T0 = 1_700_000_000.0
FRESH = "nothing run this time, the next run starts afresh; not run"


def page(recovery: Recovery, *options: str, **settings: object) -> Config:
    return recovery.config(
        f"""\
[service {SERVICE}]
actions = page

[action page]
type = external-process
alerts = 1-
command = {recovery.recorder(*options)}
""",
        **settings,
    )


def state_file(recovery: Recovery) -> Path:
    return Store(recovery.state_dir).service_file(SERVICE)


def plant(recovery: Recovery, content: bytes) -> Path:
    recovery.state_dir.mkdir(mode=0o700, exist_ok=True)
    path = state_file(recovery)
    path.write_bytes(content)
    return path


def cli(
    recovery: Recovery, *args: str, prefix: tuple[str, ...] = (), **options: Any
) -> subprocess.CompletedProcess[str]:
    argv = [*prefix, str(SCRIPT), "--config", str(recovery.path), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, **options)


def as_the_engines_user() -> tuple[str, ...]:
    """Root bound by file modes, as the engine's own user is (no DAC override)."""
    if os.geteuid() != 0:
        missing("an unreadable file needs root to drop its file access override")
    setpriv = find_program("setpriv", "util-linux")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--")


# -- item 1: only "no such file" is a fresh start --------------------------------------------


@pytest.mark.parametrize("which", ["state", "reboots", "lock"])
def test_an_unreadable_state_file_or_lock_runs_nothing(recovery: Recovery, which: str) -> None:
    """A state file left 0600 by a root run (here: mode 0, for root bound by modes),
    the reboot registry, or the service's lock: the action is refused, said why."""
    recovery.write(
        f"""\
[service {SERVICE}]
actions = reboot
target = {REMOTE}
allow_reboot = yes

[action reboot]
type = reboot-server
alerts = 1-
command = {recovery.recorder("reboot", "{target}")}
""",
        cooldown=0,
        reboot_cooldown="4h",
    )
    assert cli(recovery, *alert(1)).returncode == 0
    assert len(recovery.calls()) == 1
    store = Store(recovery.state_dir)
    path = {
        "state": store.service_file(SERVICE),
        "reboots": store.reboot_file,
        "lock": store.service_lock(SERVICE),
    }[which]
    path.chmod(0)
    run = cli(recovery, *alert(2), prefix=as_the_engines_user())
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2, run.stdout + run.stderr
    problem = (
        f"cannot open lock file {path}: Permission denied"
        if which == "lock"
        else f"state: cannot read {path}: Permission denied"
    )
    assert run.stdout == f"reboot (reboot-server) on {REMOTE}: refused - {problem}; not run\n"
    assert len(recovery.calls()) == 1  # the 4 h reboot cooldown held
    assert recovery.audit()[-1]["result"] == REFUSED
    assert recovery.audit()[-1]["reason"] == f"{problem}; not run"


# -- items 3 and 6: unusable contents are moved aside, loudly, and stop this run ----------


BAD_CONTENTS = [
    ("deep-nesting", b"[" * 60_000, "maximum recursion depth exceeded"),
    ("corrupt", b"{not json", "Expecting property name"),
    ("not-an-object", b"[1, 2]", "the state is not an object"),
    (
        "string-count",
        b'{"problem_actions": "2"}',
        "problem_actions is '2', not a non-negative whole number",
    ),
    (
        "negative-count",
        b'{"problem_actions": -1000000}',
        "problem_actions is -1000000, not a non-negative whole number",
    ),
    ("list-time", b'{"last_action": {"page": [1]}}', "last_action 'page' is not a number"),
    (
        "infinity",
        b'{"last_action": {"page": Infinity}}',
        "last_action 'page' is inf, not a finite, non-negative time",
    ),
    (
        "nan",
        b'{"last_action": {"page": NaN}}',
        "last_action 'page' is nan, not a finite, non-negative time",
    ),
    (
        "negative-time",
        b'{"problem_started": -5, "problem_actions": 1}',
        "problem_started is -5, not a finite, non-negative time",
    ),
    ("bool-count", b'{"problem_actions": true}', "problem_actions is True"),
    ("last-action-list", b'{"last_action": []}', "last_action is not an object"),
]


@pytest.mark.parametrize(
    ("content", "reason"),
    [case[1:] for case in BAD_CONTENTS],
    ids=[case[0] for case in BAD_CONTENTS],
)
def test_an_unusable_state_file_is_moved_aside_and_stops_this_run(
    recovery: Recovery, content: bytes, reason: str
) -> None:
    """Before: a crash (traceback, nothing logged, recovery off for good), or a
    cooldown (NaN) or cap (-1000000) bypassed. Now: refused once, then afresh."""
    config = page(recovery, cooldown="10m", max_actions=2)
    path = plant(recovery, content)
    (result,) = run_actions(SERVICE, 1, facts(), config, now=T0)
    assert result.result == REFUSED
    assert result.reason.startswith(f"state: unusable state file {path}: ")
    assert reason in result.reason
    assert result.reason.endswith(f"; moved to {path.name}.unusable; {FRESH}")
    assert exit_code([result]) == 2
    assert recovery.calls() == []
    assert path.with_name(path.name + ".unusable").read_bytes() == content
    assert recovery.audit()[-1]["reason"] == result.reason
    # The next run starts afresh: the file no longer blocks the service.
    assert [r.result for r in run_actions(SERVICE, 2, facts(), config, now=T0 + 1)] == [OK]
    assert len(recovery.calls()) == 1


def test_an_unusable_reboot_registry_is_moved_aside(recovery: Recovery) -> None:
    config = recovery.config(
        f"""\
[service {SERVICE}]
actions = reboot
target = {REMOTE}
allow_reboot = yes

[action reboot]
type = reboot-server
alerts = 1-
command = {recovery.recorder("reboot", "{target}")}
"""
    )
    recovery.state_dir.mkdir(mode=0o700)
    registry = Store(recovery.state_dir).reboot_file
    registry.write_bytes(b'{"198.51.100.7": NaN}')
    (result,) = run_actions(SERVICE, 1, facts(), config, now=T0)
    assert (result.result, result.reason) == (
        REFUSED,
        f"state: unusable state file {registry}: reboot of '198.51.100.7' is nan, not a "
        f"finite, non-negative time; moved to reboots.json.unusable; {FRESH}",
    )
    assert recovery.calls() == []


def test_a_1gb_state_file_is_not_read_whole(recovery: Recovery) -> None:
    """A sparse 1 GB file, the run limited to 512 MiB of address space: before, the
    whole file was read (2.1 GB RSS) and the run died; now 64 KiB + 1 byte."""
    page(recovery)
    path = plant(recovery, b"")
    with open(path, "r+b") as handle:
        handle.truncate(1 << 30)
    limit = 512 << 20

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    run = cli(recovery, *alert(1), preexec_fn=cap_memory)
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr, run.stderr
    assert run.returncode == 2, run.stdout
    assert run.stdout == (
        f"page (external-process) on {REMOTE}: refused - state: unusable state file {path}: "
        f"larger than 65536 bytes; moved to {path.name}.unusable; {FRESH}\n"
    )
    assert path.with_name(path.name + ".unusable").stat().st_size == 1 << 30
    assert recovery.calls() == []


# -- item 5: a clock that was ahead ------------------------------------------------------------


def test_future_times_are_clamped_to_now_and_said(recovery: Recovery) -> None:
    """Before: "last run -2590800s ago" still skipped a week later."""
    config = page(recovery, cooldown="10m", max_actions=100)
    ahead = T0 + 30 * 86400
    plant(recovery, json.dumps({"problem_actions": 1, "last_action": {"page": ahead}}).encode())
    warning, skipped = run_actions(SERVICE, 1, facts(), config, now=T0)
    assert (warning.result, warning.reason) == (
        WARNING,
        "state: last_action 'page' is 2592000s in the future (a clock that was ahead?): "
        "taken as now",
    )
    assert (skipped.result, skipped.reason) == (
        SKIPPED,
        "cooldown: last run 0s ago, cooldown 600s",
    )
    assert exit_code([warning, skipped]) == 0
    assert [r["result"] for r in recovery.audit()] == [WARNING, SKIPPED]
    # One cooldown after the clamp: it runs.
    assert [r.result for r in run_actions(SERVICE, 2, facts(), config, now=T0 + 600)] == [OK]


def test_a_clock_that_was_ahead_under_faketime(recovery: Recovery) -> None:
    """The handler itself runs 30 days ahead once (libfaketime), then on time."""
    faketime = find_program("faketime", "faketime")
    page(recovery, cooldown="10m", max_actions=100)

    def at(offset: str, n: int) -> subprocess.CompletedProcess[str]:
        run = cli(recovery, *alert(n), prefix=(faketime, "-f", offset))
        assert "Traceback" not in run.stderr, run.stderr
        return run

    assert at("+30d", 1).returncode == 0
    now = at("+0", 2)
    assert now.returncode == 0
    *warnings, skipped = now.stdout.splitlines()
    assert [line.split(" is ")[0] for line in warnings] == [
        "WARNING: state: problem_started",
        "WARNING: state: last_action 'page'",
    ]
    assert all(
        line.endswith("s in the future (a clock that was ahead?): taken as now")
        for line in warnings
    )
    assert skipped == (
        f"page (external-process) on {REMOTE}: skipped - cooldown: last run 0s ago, "
        "cooldown 600s"
    )
    later = at("+700s", 3)
    assert later.stdout.startswith(f"page (external-process) on {REMOTE}: ok - run ["), (
        later.stdout
    )
