"""Recovery fails closed, never silently (issue 10, items 1, 3, 4, 5 and 6).

Each fault is injected for real: a state file or lock this process may not
open (root without its file access override, bound by file modes as the
engine's user is), hostile state contents, a 1 GB sparse file under a memory
limit, a tmpfs that fills, a clock that was ahead (libfaketime), a SIGKILL of
the handler's process group. Each test fails without its fix: before it the
action ran (fail open), or the run died with a traceback and no record.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.recovery import Config, exit_code, run_actions
from check_pop3_ipmon.recovery.engine import OK, REFUSED, SKIPPED, WARNING
from check_pop3_ipmon.recovery.state import Store
from tests.alerting.test_handler_as_engines_run_it import CommandFifo, fifo
from tests.recovery.conftest import REMOTE, SERVICE, Recovery, facts
from tests.recovery.test_alert_runs_actions import configure, handler
from tests.recovery.test_command_line import SCRIPT, alert
from tests.support.integration import find_program, missing, wait_until

__all__ = ["fifo"]  # the alerting tests' FIFO fixture, used here too
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


def plant(recovery: Recovery, content: bytes, key: str = SERVICE) -> Path:
    """Put `content` where the service's recovery state lives."""
    recovery.state_dir.mkdir(mode=0o700, exist_ok=True)
    path = Store(recovery.state_dir).service_file(key)
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
        f"page (external-process) on {REMOTE}: skipped - cooldown: last run 0s ago, cooldown 600s"
    )
    later = at("+700s", 3)
    assert later.stdout.startswith(f"page (external-process) on {REMOTE}: ok - run ["), later.stdout


# -- item 3 through the alert handler: logged everywhere, exit 4 -------------------------------


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A syslog socket of our own (the config's `syslog` address)."""
    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(0.5)
        yield address, server


def received(server: socket.socket) -> list[str]:
    lines = []
    while True:
        try:
            lines.append(server.recv(65536).decode())
        except socket.timeout:
            return lines


def test_a_crashing_state_through_the_alert_handler_is_logged_everywhere(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery, syslog: tuple[str, socket.socket]
) -> None:
    """Before: a traceback, exit 1 ("undelivered"), nothing in any log, and the
    same again on every later result. Now the first result after the damage
    (here one that sends no alert) says so everywhere, exits 4, moves it aside."""
    address, server = syslog
    beside = configure(recovery)
    recovery.write(recovery.path.read_text().split("\n\n", 1)[1], syslog=address, cooldown=0)
    (recovery.root / "pop3_ipmon-recovery.ini").write_text(recovery.path.read_text())
    path = plant(recovery, b"[" * 60_000, "mail1!POP3")
    run = handler(tmp_path, beside, "CRITICAL", 1)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 4
    reason = recovery.audit()[-1]["reason"]
    assert reason.startswith(f"state: unusable state file {path}: maximum recursion depth")
    assert reason.endswith(f"; moved to {path.name}.unusable; {FRESH}")
    log = (tmp_path / "handler.log").read_text().splitlines()
    assert log[-1].endswith(f"ERROR mail1!POP3: recovery at alert 0: refused - {reason}")
    (message,) = received(server)
    assert message.startswith("<28>pop3_ipmon_recovery[")  # daemon.warning
    assert f'result="refused" reason={json.dumps(reason)}' in message
    # Not for good: alert 1 acts.
    assert handler(tmp_path, beside, "CRITICAL", 2).returncode == 0
    # Alert 1 (Nagios' PROBLEM 1) published for the notification, and its action ran.
    assert "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1" in fifo.lines()
    assert len(recovery.calls()) == 1


def test_a_credentials_path_that_is_a_directory_is_refused(recovery: Recovery) -> None:
    recovery.credentials_file.mkdir()
    recovery.write(
        f"""\
[service {SERVICE}]
actions = restart
credentials = admin

[action restart]
type = restart-service
alerts = 1
services = dovecot
"""
    )
    run = cli(recovery, *alert(1))
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2
    assert run.stdout == (
        f"restart (restart-service) on {REMOTE}: refused - credentials file "
        f"{recovery.credentials_file} is not a regular file\n"
    )


# -- ENOSPC: a tmpfs that fills ----------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, really full when filled (root); the test fills it itself."""
    if os.geteuid() != 0:
        missing("a full disk (tmpfs) needs root")
    mount = find_program("mount", "mount")
    path = tmp_path / "disk"
    path.mkdir(mode=0o700)
    made = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        missing(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run([find_program("umount", "mount"), str(path)], check=False)


def test_a_full_disk_under_the_state_runs_nothing(recovery: Recovery, tiny_disk: Path) -> None:
    """The action could not be counted first: it must not run (it would repeat)."""
    page(recovery, cooldown=0, state_dir=tiny_disk / "state")
    assert cli(recovery, *alert(1)).returncode == 0
    fill(tiny_disk)
    run = cli(recovery, *alert(2))
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2
    first, *rest = run.stdout.splitlines()
    assert first == (
        f"page (external-process) on {REMOTE}: refused - state: cannot record the action in "
        f"{tiny_disk / 'state'}: No space left on device; not run"
    )
    assert rest == [f"FAILED: state: cannot save {tiny_disk / 'state'}: No space left on device"]
    assert len(recovery.calls()) == 1
    assert [r["result"] for r in recovery.audit()] == ["ok", REFUSED, "failed"]


def test_a_full_disk_under_the_audit_log_runs_nothing(
    recovery: Recovery, tiny_disk: Path, syslog: tuple[str, socket.socket]
) -> None:
    """Before: the action ran, then the record failed (traceback): no trace at all."""
    address, server = syslog
    log = tiny_disk / "audit.jsonl"
    page(recovery, cooldown=0, audit_log=log, syslog=address)
    fill(tiny_disk)  # the log can be created (an inode), not written (no block)
    run = cli(recovery, *alert(1))
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2
    problem = f"cannot write audit log {log}: No space left on device"
    assert run.stdout == f"page (external-process) on {REMOTE}: refused - {problem}; not run\n"
    assert recovery.calls() == []
    messages = received(server)
    # syslog still has the attempt, the refusal and why.
    assert any('result="starting"' in m for m in messages)
    assert any('result="refused"' in m and "not run" in m for m in messages)
    assert any(m.startswith("<27>") and problem in m for m in messages)  # daemon.err


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 1024)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


# -- item 4: a record before the action runs ---------------------------------------------------


def test_the_engine_killing_the_handler_leaves_a_starting_record(recovery: Recovery) -> None:
    """SIGKILL of the handler's process group (the engine's timeout) while the action
    runs: before, the action ran with no audit or syslog record at all."""
    release = recovery.root / "release"
    page(recovery, f"wait={release}")
    handler_run = subprocess.Popen(
        [str(SCRIPT), "--config", str(recovery.path), *alert(1)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: bool(recovery.calls()), 30, "the action to start")
        os.killpg(handler_run.pid, signal.SIGKILL)
        assert handler_run.wait(timeout=30) == -signal.SIGKILL
    finally:
        release.touch()  # the action (its own process group) may end now
    (starting,) = recovery.audit(starting=True)
    assert (starting["action"], starting["result"], starting["reason"]) == (
        "page",
        "starting",
        "run",
    )
    (step,) = starting["steps"]
    assert step["argv"] == recovery.calls()[0]["argv"][:3] or step["argv"][1].endswith(
        "action_recorder.py"
    )
    # And it counted: the next run within the cooldown does not act again.
    again = cli(recovery, *alert(2))
    assert again.stdout.startswith(f"page (external-process) on {REMOTE}: skipped - cooldown:")
    assert len(recovery.calls()) == 1


def test_a_symlinked_audit_log_is_not_followed(recovery: Recovery) -> None:
    """Whoever planted the link would choose which file the engine's user appends to."""
    victim = recovery.root / "victim"
    victim.write_text("untouched\n")
    link = recovery.root / "audit-link.jsonl"
    link.symlink_to(victim)
    config = page(recovery, audit_log=link)
    (result,) = run_actions(SERVICE, 1, facts(), config)
    assert (result.result, result.reason) == (
        REFUSED,
        f"cannot open audit log {link}: Too many levels of symbolic links",
    )
    assert victim.read_text() == "untouched\n"
    assert recovery.calls() == []


# -- item 7: state and audit directories only this user (or root) may change --------------------

NOBODY = 65534


def attackers(directory: Path) -> Path:
    """A directory an unprivileged user created first, at the path the handler uses (0755)."""
    if os.geteuid() != 0:
        missing("giving a directory to another user needs root")
    directory.mkdir(mode=0o755)
    os.chown(directory, NOBODY, NOBODY)
    return directory


def test_a_state_directory_another_user_owns_runs_nothing(recovery: Recovery) -> None:
    """Before: accepted (root may write into it); its owner could plant state or hold the lock."""
    directory = attackers(recovery.state_dir)
    (result,) = run_actions(SERVICE, 1, facts(), page(recovery))
    assert (result.result, result.reason) == (
        REFUSED,
        f"state directory {directory} belongs to uid {NOBODY}, not to this user (uid 0) or "
        "root: refused; remove it, or chown it to this user; not run",
    )
    assert recovery.calls() == []
    assert list(directory.iterdir()) == []  # no lock or state file created in it


def test_an_audit_log_directory_another_user_owns_runs_nothing(recovery: Recovery) -> None:
    """Its owner could swap the audit log for a link, or delete the record."""
    directory = attackers(recovery.root / "log")
    (result,) = run_actions(SERVICE, 1, facts(), page(recovery, audit_log=directory / "a.jsonl"))
    assert (result.result, result.reason) == (
        REFUSED,
        f"cannot open audit log {directory / 'a.jsonl'}: audit log directory {directory} "
        f"belongs to uid {NOBODY}, not to this user (uid 0) or root: refused; remove it, "
        "or chown it to this user",
    )
    assert recovery.calls() == [] and list(directory.iterdir()) == []


def test_a_symlinked_state_directory_is_refused(recovery: Recovery) -> None:
    real = recovery.root / "elsewhere"
    real.mkdir(mode=0o700)
    recovery.state_dir.symlink_to(real)
    (result,) = run_actions(SERVICE, 1, facts(), page(recovery))
    assert (result.result, result.reason) == (
        REFUSED,
        f"state directory {recovery.state_dir} is a symbolic link: refused; use the real "
        "directory; not run",
    )
    assert recovery.calls() == []


def test_an_attackers_state_directory_is_an_error_in_the_handler_log(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    """Before, the lock its owner held showed only as an INFO line; now it is an ERROR."""
    beside = configure(recovery)
    attackers(recovery.state_dir)
    assert handler(tmp_path, beside, "CRITICAL", 1).returncode == 4
    last = (tmp_path / "handler.log").read_text().splitlines()[-1]
    assert last.endswith(
        f"ERROR mail1!POP3: recovery at alert 0: refused - state directory {recovery.state_dir} "
        f"belongs to uid {NOBODY}, not to this user (uid 0) or root: refused; remove it, or "
        "chown it to this user; not run"
    ), last


# -- a FIFO or a directory as the audit log (the recovery side of item 9) ----------------------


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_an_audit_log_that_is_not_a_file_is_refused_not_waited_for(
    recovery: Recovery, kind: str
) -> None:
    """Before, a FIFO nobody reads hung the run until the engine killed it."""
    path = recovery.root / "audit-elsewhere"
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        path.mkdir()
    page(recovery, audit_log=path)
    run = cli(recovery, *alert(1))
    assert "Traceback" not in run.stderr, run.stderr
    problem = "not a regular file" if kind == "fifo" else "Is a directory"
    assert (run.returncode, run.stdout) == (
        2,
        f"REFUSED: cannot open audit log {path}: {problem}\n",
    )
    assert recovery.calls() == []
