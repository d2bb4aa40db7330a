"""pop3_ipmon_alert under faults: broken state, full disk, races, clock jumps, hung engines.

Each case ends the same way: no lost count, no action twice, one clear log
line, and an exit (the installed script, as the engines run it). Durations
are printed, never asserted (machines are noisy).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting import handler as handler_module
from tests.alerting.test_handler_as_engines_run_it import SCRIPT, CommandFifo, handler, nagios_args
from tests.support.integration import find_program, missing

VAR = "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_"


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[CommandFifo]:
    reader = CommandFifo(tmp_path / "nagios.cmd")
    yield reader
    reader.close()


def state_file(tmp_path: Path) -> Path:
    (path,) = (tmp_path / "pop3_ipmon").glob("*.json")
    return path


def state(tmp_path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(state_file(tmp_path).read_text())
    return data


def log_lines(tmp_path: Path) -> list[str]:
    return (tmp_path / "handler.log").read_text().splitlines()


def notifications(lines: list[str]) -> list[str]:
    """The alerts and recoveries the handler recorded, as it published them
    to Nagios (state, alert number, failures: three lines in one write)."""
    out = []
    for state, alert, failures in zip(lines, lines[1:], lines[2:]):
        if not (state.startswith(VAR + "STATE;") and alert.startswith(VAR + "ALERT;")):
            continue
        phase, number = state.rsplit(";", 1)[1], alert.rsplit(";", 1)[1]
        count = failures.rsplit(";", 1)[1]
        if phase == "Down":
            out.append(f"Down: alert {number} after {count}")
        elif phase == "Up" and number != "0":
            out.append(f"Up: recovered after {number} alert(s)")
    return out


def fail(
    tmp_path: Path, attempt: int, engine_number: bool = True, **extra: str
) -> subprocess.CompletedProcess[str]:
    """One failed test through the installed script; never a traceback."""
    run = handler(*nagios_args(tmp_path, "CRITICAL", attempt, engine_number, **extra))
    assert "Traceback" not in run.stderr, run.stderr
    return run


# -- the state file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "Expecting property name"),
        (b"", "empty file"),
        (b"\x93\x94 garbage", "codec can't decode"),
        # json raises RecursionError, not ValueError, for deep nesting.
        (b"[" * 60_000, "maximum recursion depth exceeded"),  # under the 64 KiB cap
        (b'{"version": 1, "host": "mail1", "service": "POP3", "failures": 2}', "'alerts'"),
    ],
    ids=["corrupt", "empty", "binary", "deeply-nested", "truncated-record"],
)
def test_unusable_state_file_is_moved_aside_and_counting_restarts(
    tmp_path: Path, fifo: CommandFifo, content: bytes, reason: str
) -> None:
    """Decided: start afresh (refusing would silence the service for good), keep the
    file aside for the admin, say so in the log; one result still acts at most once."""
    extra = {"--failures-per-alert": "2"}
    assert [fail(tmp_path, n, **extra).returncode for n in (1, 2)] == [0, 0]
    assert notifications(fifo.lines()) == ["Down: alert 1 after 2"]
    path = state_file(tmp_path)
    path.write_bytes(content)
    before = len(fifo.lines())

    run = fail(tmp_path, 3, **extra)
    assert run.returncode == 0, log_lines(tmp_path)
    warning = log_lines(tmp_path)[-2]
    assert f"WARNING mail1!POP3: ignored unusable state file {path}: " in warning
    assert reason in warning
    assert warning.endswith(f"; moved to {path.name}.unusable; counting starts afresh")
    assert path.with_name(path.name + ".unusable").read_bytes() == content
    assert state(tmp_path)["failures"] == 1
    # The count restarts: Warn again, no alert from this result; the alert
    # number is Nagios' own count, which survived.
    after = fifo.lines()[before:]
    assert after[:3] == [
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_STATE;Warn",
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1",
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_FAILURES;1",
    ]
    # The same result again (the engine retrying the handler) changes nothing.
    assert fail(tmp_path, 3, **extra).returncode == 0
    assert len(fifo.lines()) == before + len(after)
    assert state(tmp_path)["failures"] == 1


def without_file_access_override(args: list[str]) -> list[str]:
    """Run as root but bound by file modes, as the engine's own user is."""
    setpriv = find_program("setpriv", "util-linux")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", *args]


def test_unreadable_state_file_refuses_and_keeps_the_count(
    tmp_path: Path, fifo: CommandFifo
) -> None:
    """Decided: refuse (exit 2, nothing sent). The file may be fine, only not ours to
    read (a root run by hand): acting on a guessed state could repeat an alert."""
    if os.geteuid() != 0:
        missing("an unreadable file needs root to drop its file access override")
    extra = {"--failures-per-alert": "2"}
    assert fail(tmp_path, 1, **extra).returncode == 0
    path = state_file(tmp_path)
    before, sent = path.read_bytes(), len(fifo.lines())
    path.chmod(0)

    run = subprocess.run(
        without_file_access_override([str(SCRIPT), *nagios_args(tmp_path, "CRITICAL", 2, **extra)]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, (run.stderr, log_lines(tmp_path))
    assert "Traceback" not in run.stderr
    assert log_lines(tmp_path)[-1].endswith(
        f"ERROR mail1!POP3: state: cannot read {path}: Permission denied; nothing done"
    )
    assert len(fifo.lines()) == sent
    path.chmod(0o600)
    assert path.read_bytes() == before

    # Readable again: the count goes on from where it was.
    assert fail(tmp_path, 3, **extra).returncode == 0
    assert notifications(fifo.lines()) == ["Down: alert 1 after 2"]


# -- the state directory ----------------------------------------------------------------


def test_missing_state_directory_is_created_owner_only(tmp_path: Path, fifo: CommandFifo) -> None:
    beside = tmp_path / "var" / "lib" / "nagios4" / "retention.dat"  # none of it exists
    run = fail(tmp_path, 1, **{"--state-beside": str(beside), "--failures-per-alert": "1"})
    assert run.returncode == 0
    directory = beside.parent / "pop3_ipmon"
    assert directory.stat().st_mode & 0o777 == 0o700
    (path,) = directory.glob("*.json")
    assert json.loads(path.read_text())["alerts"] == 1
    assert len(notifications(fifo.lines())) == 1


def test_state_directory_that_cannot_be_made_exits_2(tmp_path: Path, fifo: CommandFifo) -> None:
    (tmp_path / "var").write_text("a file where a directory should be")
    beside = tmp_path / "var" / "retention.dat"
    run = fail(tmp_path, 1, **{"--state-beside": str(beside), "--failures-per-alert": "1"})
    assert run.returncode == 2
    assert log_lines(tmp_path)[-1].endswith(
        f"ERROR mail1!POP3: state directory {beside.parent / 'pop3_ipmon'}: Not a directory"
    )
    assert fifo.lines() == []


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


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 1024)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_sends_nothing_and_keeps_the_old_state(
    tmp_path: Path, fifo: CommandFifo, tiny_disk: Path
) -> None:
    """An alert that could not be recorded would go out again with the next result:
    so with a full disk nothing goes out, the old state stays whole, exit 2."""
    extra = {"--state-dir": str(tiny_disk), "--failures-per-alert": "2"}

    def args(attempt: int) -> list[str]:  # --state-dir instead of the stock --state-beside
        a = nagios_args(tmp_path, "CRITICAL", attempt, **extra)
        i = a.index("--state-beside")
        return a[:i] + a[i + 2 :]

    assert handler(*args(1)).returncode == 0
    (path,) = tiny_disk.glob("*.json")
    before, sent = path.read_bytes(), len(fifo.lines())
    filler = fill(tiny_disk)

    run = handler(*args(2))  # alert 1 is due
    assert run.returncode == 2, log_lines(tmp_path)
    assert "Traceback" not in run.stderr
    assert log_lines(tmp_path)[-1].endswith(
        f"ERROR mail1!POP3: cannot write the state in {tiny_disk}: "
        "No space left on device; nothing done"
    )
    assert len(fifo.lines()) == sent  # nothing went out
    assert path.read_bytes() == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == sorted(
        [path.name, path.stem + ".lock", "filler"]
    )  # no temporary file left behind

    filler.unlink()
    assert handler(*args(3)).returncode == 0
    assert handler(*args(4)).returncode == 0
    # The full-disk result could not be counted (nothing could be recorded);
    # alert 1 goes out once, at the second counted failure. The stand-in
    # engine then says it sent alert 2 on its own at the next: the count
    # follows it (the next alert F failures after that one).
    assert notifications(fifo.lines()) == ["Down: alert 1 after 2"]
    assert json.loads(path.read_text())["failures"] == 4


def test_log_file_on_the_full_disk_too(tmp_path: Path, fifo: CommandFifo, tiny_disk: Path) -> None:
    """The log line cannot be written either: it goes to stderr, one line, no traceback."""
    (tiny_disk / "state").mkdir(mode=0o700)
    fill(tiny_disk)
    args = nagios_args(tmp_path, "CRITICAL", 1, **{"--log-file": str(tiny_disk / "log")})
    i = args.index("--state-beside")
    args[i : i + 2] = ["--state-dir", str(tiny_disk / "state")]
    run = handler(*args)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"pop3_ipmon_alert: cannot log to {tiny_disk / 'log'}: No space left on device: "
        f"mail1!POP3: cannot write the state in {tiny_disk / 'state'}: "
        "No space left on device; nothing done"
    ]
    assert fifo.lines() == []


# -- concurrency -----------------------------------------------------------------------


def test_twenty_concurrent_invocations_for_one_service(tmp_path: Path, fifo: CommandFifo) -> None:
    """20 handler processes at once, 20 different failures: each counted once, each
    alert once and in order; then 20 copies of one passing result: one recovery."""
    extra = {"--failures-per-alert": "3", "--max-alerts": "5"}
    started = time.monotonic()
    # Attempts from 2 (Icinga 2 starts there), so that no order of arrival
    # looks like the engine restarting its count.
    runs = [
        subprocess.Popen(
            [str(SCRIPT), *nagios_args(tmp_path, "CRITICAL", attempt, False, **extra)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for attempt in range(2, 22)
    ]
    assert [run.wait(120) for run in runs] == [0] * 20
    print(f"\n20 concurrent failures handled in {time.monotonic() - started:.2f}s")
    for run in runs:
        assert run.stderr is not None and run.stdout is not None
        assert run.stderr.read() == b""
        run.stderr.close()
        run.stdout.close()
    assert notifications(fifo.lines()) == [f"Down: alert {n} after {3 * n}" for n in range(1, 6)]
    # In whatever order they came, the engine is left at the Lost interval.
    intervals = [line for line in fifo.lines() if "CHANGE_NORMAL_SVC_CHECK_INTERVAL" in line]
    assert intervals[-1] == "CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3;15"
    assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (20, 5)
    assert len(log_lines(tmp_path)) == 20

    runs = [
        subprocess.Popen([str(SCRIPT), *nagios_args(tmp_path, "OK", 22, False, **extra)])
        for _ in range(20)
    ]
    assert [run.wait(120) for run in runs] == [0] * 20
    assert notifications(fifo.lines())[5:] == ["Up: recovered after 5 alert(s)"]
    assert sum("result already handled" in line for line in log_lines(tmp_path)) == 19
    assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (0, 0)


# -- the clock -------------------------------------------------------------------------


def test_engine_clock_jumping_back_counts_every_result_once(
    tmp_path: Path, fifo: CommandFifo
) -> None:
    """The check time is only an identity (with the attempt): times that go back
    an hour mid-outage neither merge nor reorder results."""
    extra = {"--failures-per-alert": "2", "--max-alerts": "3"}
    times = [10_000, 10_060, 10_120, 6_580, 6_640, 6_700]  # back 1 h after the third
    for attempt, when in enumerate(times, 1):
        run = fail(tmp_path, attempt, **extra, **{"--check-time": str(when)})
        assert run.returncode == 0
    assert notifications(fifo.lines()) == [f"Down: alert {n} after {2 * n}" for n in (1, 2, 3)]
    assert state(tmp_path)["failures"] == 6


def test_handler_clock_jumping_back_under_faketime(tmp_path: Path, fifo: CommandFifo) -> None:
    """The handler's own wall clock (libfaketime) going back days between runs:
    same count, same alerts (its lock waits on the monotonic clock)."""
    faketime = find_program("faketime", "faketime")
    extra = {"--failures-per-alert": "2", "--max-alerts": "2"}
    for attempt, offset in [(1, "+0d"), (2, "-10d"), (3, "-20d"), (4, "-365d")]:
        args = nagios_args(tmp_path, "CRITICAL", attempt, **extra)
        run = subprocess.run(
            [faketime, "-f", offset, str(SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, (run.stderr, log_lines(tmp_path))
        assert "Traceback" not in run.stderr
    assert notifications(fifo.lines()) == [
        "Down: alert 1 after 2",
        "Down: alert 2 after 4",
    ]
    assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (4, 2)
    assert str(state(tmp_path)["updated"]) < time.strftime("%Y", time.gmtime())


# -- engines that hang ----------------------------------------------------------------


class SilentListener:
    """Accepts connections and never says a word (an API stuck in its TLS layer)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_nagios_that_stopped_reading_its_full_command_file(tmp_path: Path) -> None:
    """Nagios hung: its command FIFO is open but full. The handler waits
    --command-timeout, gives up, and the alert is still due."""
    path = tmp_path / "nagios.cmd"
    os.mkfifo(path, 0o660)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        try:
            while True:
                os.write(writer, b"x" * 4096)
        except BlockingIOError:
            pass
        extra = {"--failures-per-alert": "1", "--command-timeout": "0.5"}
        started = time.monotonic()
        run = fail(tmp_path, 1, **extra)
        print(
            f"\nhandler gave up on a full command FIFO (0.5 s) after "
            f"{time.monotonic() - started:.2f}s"
        )
        assert run.returncode == 1
        line = log_lines(tmp_path)[-1]
        # Nagios sent alert 1 itself; what did not reach it is the word
        # that failure 2 sends alert 2.
        assert "NOT DONE: next alert after 1 failure(s)" in line
        assert line.endswith(f"{path} stayed full for 0.5s")
        assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (1, 1)

        while True:  # Nagios reads again
            try:
                if not os.read(reader, 65536):
                    break
            except BlockingIOError:
                break
        # Failure 2 without alert 2 (Nagios had not heard): it is owed, the
        # very next failure sends it.
        assert fail(tmp_path, 2, **extra, **{"--notification-number": "1"}).returncode == 0
        got = os.read(reader, 65536).decode()
        assert got.count("DELAY_SVC_NOTIFICATION;mail1;POP3;0\n") == 1
        assert "POP3_IPMON_STATE;Down" in got
        assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (2, 1)
    finally:
        os.close(writer)
        os.close(reader)


def test_in_process_state_write_failure_sends_nothing(
    tmp_path: Path, fifo: CommandFifo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without root for a real full disk: the same guarantee with fsync failing."""
    assert handler_module.main(nagios_args(tmp_path, "CRITICAL", 1)) == 0
    path = state_file(tmp_path)
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    args = nagios_args(tmp_path, "CRITICAL", 2, **{"--failures-per-alert": "2"})
    assert handler_module.main(args) == 2
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert notifications(fifo.lines()) == []
    assert log_lines(tmp_path)[-1].endswith("No space left on device; nothing done")


def test_engine_killing_a_hung_handler_keeps_the_count(tmp_path: Path) -> None:
    """The engine kills an event handler at its timeout (Nagios: event_handler_timeout).
    The result was recorded before acting, so the alert is still due afterwards."""
    path = tmp_path / "nagios.cmd"
    os.mkfifo(path, 0o660)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        try:
            while True:
                os.write(writer, b"x" * 4096)
        except BlockingIOError:
            pass
        extra = {"--failures-per-alert": "1", "--command-timeout": "60"}
        hung = subprocess.Popen([str(SCRIPT), *nagios_args(tmp_path, "CRITICAL", 1, **extra)])

        def waiting() -> bool:  # the handler got as far as the full FIFO
            return os.path.exists(f"/proc/{hung.pid}/fd") and any(
                os.path.realpath(f"/proc/{hung.pid}/fd/{fd}") == str(path)
                for fd in os.listdir(f"/proc/{hung.pid}/fd")
            )

        end = time.monotonic() + 60
        while not waiting() and hung.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        assert hung.poll() is None, "the handler did not wait on the full FIFO"
        hung.kill()
        hung.wait(60)
        assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (1, 1)

        while True:  # Nagios reads again
            try:
                if not os.read(reader, 65536):
                    break
            except BlockingIOError:
                break
        # Failure 2 without alert 2 (Nagios had not heard): it is owed, the
        # very next failure sends it.
        assert fail(tmp_path, 2, **extra, **{"--notification-number": "1"}).returncode == 0
        got = os.read(reader, 65536).decode()
        assert got.count("DELAY_SVC_NOTIFICATION;mail1;POP3;0\n") == 1
        assert "POP3_IPMON_STATE;Down" in got
        assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (2, 1)
    finally:
        os.close(writer)
        os.close(reader)


def test_state_lost_after_the_action_says_it_may_repeat(
    tmp_path: Path, fifo: CommandFifo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills between recording the result and recording the alert: the
    alert went out; the log says it could not be recorded and may repeat, exit 2."""
    real_fsync, calls = os.fsync, []

    def fills_up(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 2:  # the first save (file and directory) succeeds
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fills_up)
    args = nagios_args(tmp_path, "CRITICAL", 1, **{"--failures-per-alert": "1"})
    assert handler_module.main(args) == 2
    monkeypatch.undo()
    assert notifications(fifo.lines()) == ["Down: alert 1 after 1"]
    assert log_lines(tmp_path)[-1].endswith(
        "ERROR mail1!POP3: CRITICAL HARD attempt 1 -> Down, failures 1, alerts 1; "
        "the engine sent alert 1 of 2 (PROBLEM); published Down; next alert after 1 "
        "failure(s); set the down interval and moved the next check; NOT RECORDED, may "
        f"repeat: cannot write the state in {tmp_path / 'pop3_ipmon'}: No space left on device"
    )
    assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (1, 1)


def test_nagios_closing_its_command_file_mid_write(
    tmp_path: Path, fifo: CommandFifo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nagios stops (closes its FIFO) between our open and our write: EPIPE is the
    engine not taking the action (exit 1, alert still due), not a state failure."""

    def closed(fd: int, data: bytes) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    assert handler_module.main(nagios_args(tmp_path, "CRITICAL", 1)) == 0
    monkeypatch.setattr(os, "write", closed)
    assert handler_module.main(nagios_args(tmp_path, "CRITICAL", 2)) == 1  # alert 1 went out
    monkeypatch.undo()
    assert log_lines(tmp_path)[-1].endswith(
        "NOT DONE: published Down; NOT DONE: next alert after 2 failure(s); "
        f"cannot write to {tmp_path / 'nagios.cmd'}: Broken pipe"
    )
    assert (state(tmp_path)["failures"], state(tmp_path)["alerts"]) == (2, 1)
    assert handler_module.main(nagios_args(tmp_path, "CRITICAL", 3)) == 0
    assert notifications(fifo.lines()) == ["Down: alert 1 after 3"]


def test_restart_service_over_ssh_that_never_answers(tmp_path: Path) -> None:
    """Restart Service over SSH to a target that accepts and says nothing: the
    recovery deadline ends it (ssh's own connect timeout set far beyond), with a
    clear line; the same alert again does not try a second time."""
    from tests.recovery.conftest import SERVICE, Recovery

    keygen = find_program("ssh-keygen", "openssh-client")
    find_program("ssh", "openssh-client")
    silent = SilentListener()
    port = silent.sock.getsockname()[1]
    try:
        key = tmp_path / "client_ed25519"
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        kind, blob = Path(f"{key}.pub").read_text().split()[:2]
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {kind} {blob}\n")
        recovery = Recovery(tmp_path)
        recovery.credentials(
            f"[silent]\nmethod = ssh\nuser = root\nidentity_file = {key}\n"
            f"known_hosts = {known}\nport = {port}\nconnect_timeout = 60\n"
        )
        recovery.write(
            f"""\
[service {SERVICE}]
actions = restart-pop3
target = 127.0.0.1
credentials = silent

[action restart-pop3]
type = restart-service
alerts = 1
services = dovecot
stop dovecot = /bin/true
start dovecot = /bin/true
check dovecot = /bin/true
""",
            deadline=3,
        )
        argv = [
            str(Path(SCRIPT).parent / "pop3_ipmon_recovery"),
            *("--config", str(recovery.path), "--service", SERVICE, "--alert", "1"),
            *("--state", "CRITICAL", "--ipmon-state", "Down", "--failures", "3"),
            *("--host", "mail1", "--address", "127.0.0.1"),
        ]
        started = time.monotonic()
        first = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        print(
            f"\nrestart over a silent SSH target (deadline 3 s) ended after "
            f"{time.monotonic() - started:.2f}s: {first.stdout.strip()!r}"
        )
        connections = len(silent.held)
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        print(f"second run: rc {second.returncode}: {second.stdout.strip()!r}")
        assert "Traceback" not in first.stderr + second.stderr
        assert first.returncode == 1
        assert first.stdout.startswith("restart-pop3 (restart-service) on 127.0.0.1: failed - ")
        assert "deadline" in first.stdout
        steps = recovery.audit()[0]["steps"]
        print(f"audit steps: {[(s['step'], s['rc']) for s in steps]}")
        assert steps[0]["step"] == "stop dovecot" and steps[0]["argv"][0] == "/usr/bin/ssh"
        assert connections == 1  # the stop's session: nothing after it got to run
        assert second.returncode == 0
        assert "skipped - already run for alert 1 in this outage" in second.stdout
        assert len(silent.held) == connections  # no second attempt at the same alert
    finally:
        silent.close()
