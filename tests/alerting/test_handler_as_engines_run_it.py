"""pop3_ipmon_alert as the engines run it: the installed script, real FIFO, real HTTPS."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.icinga2 import keep_secret

SCRIPT = Path(sys.executable).parent / "pop3_ipmon_alert"
# Check times ahead of the clock: a moved check is never put in the past.
BASE = int(time.time()) + 3600


class CommandFifo:
    """A command FIFO held open for reading, as Nagios holds its command file."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o660)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def lines(self) -> list[str]:
        while select.select([self.fd], [], [], 0.05)[0]:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.data += chunk
        # Drop the [time] prefix: the rest is what Nagios acts on.
        return [line.split("] ", 1)[1] for line in self.data.decode().splitlines()]

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[CommandFifo]:
    reader = CommandFifo(tmp_path / "nagios.cmd")
    yield reader
    reader.close()


def handler(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def nagios_args(
    tmp_path: Path, state: str, attempt: int, engine_number: bool = True, **extra: str
) -> list[str]:
    """One result as Nagios' ocsp_command passes it (F=2, M=2; interval_length=1).

    With engine_number, also the notification number Nagios would report
    (results handled in order); without, the handler counts on its own."""
    main = tmp_path / "nagios.cfg"
    if not main.exists():
        main.write_text("interval_length=1\n")
    f = max(int(extra.get("--failures-per-alert", "2")), 1)
    options = {
        "--command-file": str(tmp_path / "nagios.cmd"),
        "--main-config": str(main),
        "--state-beside": str(tmp_path / "retention.dat"),
        "--log-file": str(tmp_path / "handler.log"),
        "--host": "mail1",
        "--service": "POP3",
        "--state": state,
        "--state-type": "HARD" if state == "OK" or attempt >= f else "SOFT",
        "--attempt": str(min(attempt, f)),
        "--check-time": str(BASE + attempt * 10 + (state == "OK")),
        "--notification-number": str(
            min(attempt // f, int(extra.get("--max-alerts", "2"))) if state != "OK" else 0
        ),
        "--downtime": "0",
        "--host-downtime": "0",
        "--failures-per-alert": str(f),
        "--max-alerts": "2",
        "--up-interval": "5",
        "--down-interval": "1",
        "--lost-interval": "15",
    }
    if not engine_number:
        del options["--notification-number"]
    options.update(extra)
    return ["nagios", *(part for item in options.items() for part in item)]


def plain(lines: list[str]) -> list[str]:
    """Far-future delays as 'never' (their time is the handler's clock)."""
    out = []
    for line in lines:
        head, _, value = line.rpartition(";")
        never = line.startswith("DELAY_SVC_NOTIFICATION") and int(value) > time.time() + 1e8
        out.append(f"{head};never" if never else line)
    return out


def test_nagios_outage_through_the_script(tmp_path: Path, fifo: CommandFifo) -> None:
    """F=2, M=2: Nagios alerts at failures 2 and 4 (HARD from 2), Lost from 5, recovery."""
    sent: list[list[str]] = []
    for attempt in range(1, 7):
        run = handler(*nagios_args(tmp_path, "CRITICAL", attempt))
        assert run.returncode == 0, run.stderr
        sent.append(fifo.lines()[sum(map(len, sent)) :])
    run = handler(*nagios_args(tmp_path, "OK", 7))
    assert run.returncode == 0, run.stderr
    sent.append(fifo.lines()[sum(map(len, sent)) :])

    def var(name: str, value: object) -> str:
        return f"CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_{name};{value}"

    delay = "DELAY_SVC_NOTIFICATION;mail1;POP3;"
    interval = "CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3;"
    schedule = "SCHEDULE_FORCED_SVC_CHECK;mail1;POP3;"
    ack = "ACKNOWLEDGE_SVC_PROBLEM;mail1;POP3;"
    # The delays end half a Down interval after the test that should alert
    # (never far ahead: Nagios goes on alone should the handler stop); after
    # alert M none (Nagios' escalation stops it), at the recovery F Down
    # intervals after the next (Up) test.
    assert [plain(lines) for lines in sent] == [
        [var("STATE", "Warn"), var("ALERT", 0), var("FAILURES", 1), delay + "0", interval + "1"],
        [
            var("STATE", "Down"),
            var("ALERT", 1),
            var("FAILURES", 2),
            delay + str(BASE + 20 + 1 + 1),
        ],
        [delay + "0"],
        [
            var("STATE", "Down"),
            var("ALERT", 2),
            var("FAILURES", 4),
            # Alert M is out: held, whatever the state does next (sticky, silent).
            ack + "2;0;0;pop3_ipmon;ipMonitor: alert 2 of 2 sent, no more until it recovers",
        ],
        [
            var("STATE", "Lost"),
            var("ALERT", 2),
            var("FAILURES", 5),
            interval + "15",
            schedule + str(BASE + 50 + 15),
        ],
        [],
        [
            var("STATE", "Up"),
            var("ALERT", 2),
            var("FAILURES", 0),
            delay + str(BASE + 71 + 5 + 1),
            interval + "5",
            schedule + str(BASE + 71 + 5),
        ],
    ]
    # Beside the retention file, one state file per service, reset after recovery.
    (state,) = (tmp_path / "pop3_ipmon").glob("*.json")
    assert json.loads(state.read_text())["failures"] == 0
    log = (tmp_path / "handler.log").read_text().splitlines()
    assert len(log) == 7
    assert log[3].endswith(
        "INFO mail1!POP3: CRITICAL HARD attempt 2 -> Down, failures 4, alerts 2; "
        "the engine sent alert 2 of 2 (PROBLEM); published Down; "
        "held further alerts after alert 2 (sticky acknowledgement); no further alert"
    )
    assert "the engine sent the recovery after 2 alert(s)" in log[6]


def test_nagios_not_reading_then_the_next_result_tries_again(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "nagios.cmd")  # nobody reads
    run = handler(*nagios_args(tmp_path, "CRITICAL", 1))
    assert run.returncode == 1
    log = (tmp_path / "handler.log").read_text()
    assert "NOT DONE: next alert after 1 failure(s)" in log and "(is Nagios running?)" in log
    (tmp_path / "nagios.cmd").unlink()
    fifo = CommandFifo(tmp_path / "nagios.cmd")
    try:
        # The result again (Nagios runs the ocsp_command for it once, but a
        # retried run must not count it twice): the same actions, delivered.
        run = handler(*nagios_args(tmp_path, "CRITICAL", 1))
        assert run.returncode == 0, run.stderr
        lines = fifo.lines()
    finally:
        fifo.close()
    assert lines == []  # already counted; the interval and gate follow the next result
    assert "result already handled" in (tmp_path / "handler.log").read_text()


def test_nagios_host_down_holds_the_alert(tmp_path: Path, fifo: CommandFifo) -> None:
    """Nagios sent nothing (its notification number stays 0): no alert is counted."""
    extra = {"--notification-number": "0", "--failures-per-alert": "1"}
    run = handler(*nagios_args(tmp_path, "CRITICAL", 1, **extra))
    assert run.returncode == 0
    log = (tmp_path / "handler.log").read_text()
    assert "the engine sent 0 alert(s), not 1" in log and "alerts 0" in log


def test_result_in_downtime_is_counted_as_maintenance(tmp_path: Path, fifo: CommandFifo) -> None:
    for attempt in range(1, 4):
        args = nagios_args(tmp_path, "CRITICAL", attempt, **{"--downtime": "1"})
        assert handler(*args).returncode == 0
    lines = plain(fifo.lines())
    assert lines[:3] == [
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_STATE;Maintenance",
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;0",
        "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_FAILURES;0",
    ]
    # Counting afresh after the downtime: the next alert is F failures away,
    # from the next test (at Up): each result in downtime pushes the delay on.
    delays = [line for line in lines if line.startswith("DELAY_SVC_NOTIFICATION")]
    assert delays == [
        f"DELAY_SVC_NOTIFICATION;mail1;POP3;{BASE + 10 * attempt + 5 + 1}" for attempt in (1, 2, 3)
    ]
    assert not any("POP3_IPMON_STATE;Warn" in line or "Down" in line for line in lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--attempt": "zero"}, "argument --attempt: expected a whole number >= 1"),
        ({"--state": "SIDEWAYS"}, "unknown service state 'SIDEWAYS'"),
        ({"--state-type": "FIRM"}, "state type must be SOFT or HARD"),
        ({"--failures-per-alert": "0"}, "expected a whole number >= 1, not '0'"),
        ({"--lost-interval": "1e3"}, "expected a positive interval, not '1e3'"),
        ({"--check-time": "$LASTSERVICECHECK$"}, "expected a UNIX time"),
        # Bounds (issue 18, item 4): no interval beyond a week in any unit,
        # F and M as a person would set them.
        ({"--up-interval": "999999999"}, "'999999999' is more than a week in any unit"),
        ({"--max-alerts": "101"}, "argument --max-alerts: expected 1 to 100, not '101'"),
        ({"--failures-per-alert": "1000"}, "expected 1 to 100, not '1000'"),
        # A long --monitor-name is shortened with a warning now (issue 10, item 8):
        # tests/alerting/test_log_and_state_directory.py.
        ({"--monitor-name": "x\ty"}, "monitor name holds control characters"),
    ],
)
def test_bad_arguments_exit_3_with_one_clear_line(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    args = nagios_args(tmp_path, "CRITICAL", 1, **change)
    args.remove("--log-file")
    args.remove(str(tmp_path / "handler.log"))
    (tmp_path / "nagios.cfg").unlink()
    run = handler(*args)
    assert run.returncode == 3
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "pop3_ipmon").exists()
    assert not (tmp_path / "pop3_ipmon.log").exists()


@pytest.mark.parametrize(
    ("interval_length", "change", "message"),
    [
        (1, {"--down-interval": "0.0000001"}, "--down-interval is 1e-07s: an interval must be"),
        (60, {"--up-interval": "10081"}, "--up-interval is 604860s (10081 x interval_length 60)"),
        (60, {"--lost-interval": "0.01"}, "--lost-interval is 0.6s (0.01 x interval_length 60)"),
    ],
)
def test_intervals_outside_a_second_to_a_week_are_refused(
    tmp_path: Path, fifo: CommandFifo, interval_length: int, change: dict[str, str], message: str
) -> None:
    """In seconds, as Nagios will use them: 0.0000001 became check interval 0 and
    999999999 a check in 2058, and Nagios never tested the service again."""
    (tmp_path / "nagios.cfg").write_text(f"interval_length={interval_length}\n")
    run = handler(*nagios_args(tmp_path, "CRITICAL", 1, **change))
    assert run.returncode == 3
    (line,) = (tmp_path / "handler.log").read_text().splitlines()
    assert message in line and line.endswith("1s to 604800s (a week); nothing done"), line
    assert fifo.lines() == []


def test_a_variable_gone_bad_at_run_time_is_logged_where_the_handler_logs(
    tmp_path: Path, fifo: CommandFifo
) -> None:
    """CHANGE_CUSTOM_SVC_VAR made F a word: every run is refused, and the reason
    is in pop3_ipmon.log (not only syslog), once per run; nothing is sent."""
    args = nagios_args(tmp_path, "CRITICAL", 1)
    i = args.index("--failures-per-alert")
    del args[i : i + 2]
    i = args.index("--log-file")
    args[i : i + 2] = ["--log-beside", str(tmp_path / "nagios.log")]
    env = {**os.environ, "NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT": "three"}
    run = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert run.returncode == 3
    (line,) = (tmp_path / "pop3_ipmon.log").read_text().splitlines()
    assert line.endswith(
        "ERROR bad arguments: NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT "
        "(for --failures-per-alert): expected a whole number >= 1, not 'three'; "
        "nothing done (the engine notifies on its own)"
    ), line
    assert fifo.lines() == []


def test_monitor_name_of_64_characters_is_fine(tmp_path: Path, fifo: CommandFifo) -> None:
    run = handler(*nagios_args(tmp_path, "CRITICAL", 1, **{"--monitor-name": "x" * 64}))
    assert run.returncode == 0, run.stderr


def test_state_directory_others_may_write_exits_2(tmp_path: Path, fifo: CommandFifo) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    args = nagios_args(tmp_path, "CRITICAL", 1)
    args[args.index("--state-beside")] = "--state-dir"
    args[args.index(str(tmp_path / "retention.dat"))] = str(shared)
    run = handler(*args)
    assert run.returncode == 2
    assert "has mode 0777: group/other may write it" in (tmp_path / "handler.log").read_text()
    assert fifo.lines() == []


def old_icinga2_event_command(tmp_path: Path, url: str) -> list[str]:
    """What the EventCommand of earlier releases passes, down to its API options."""
    secret = keep_secret(tmp_path / "api.conf", "username = u\npassword = p\n")
    return [
        "icinga2",
        "--host=mail1",
        "--service=POP3",
        "--monitor-name=Mail POP3 (head office)",
        "--state=CRITICAL",
        "--state-type=HARD",
        "--attempt=1",
        f"--check-time={time.time():.6f}",
        "--failures-per-alert=1",
        "--max-alerts=1",
        "--up-interval=300",
        "--down-interval=60",
        "--lost-interval=900",
        f"--state-dir={tmp_path / 'state'}",
        f"--log-file={tmp_path / 'handler.log'}",
        f"--api-url={url}",
        f"--api-credentials={secret}",
        f"--recovery-config={tmp_path / 'pop3_ipmon-recovery.ini'}",
    ]


def test_an_old_icinga2_event_command_exits_3_with_one_line_and_calls_nothing(
    tmp_path: Path,
) -> None:
    """Icinga 2 sends the alerts on its own now: a site that still runs the old
    event command learns, in Icinga 2's log and the handler's, what to remove;
    the handler counts nothing and calls no API (it would be a gate again)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        run = handler(*old_icinga2_event_command(tmp_path, url))
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    assert run.returncode == 3
    (line,) = run.stdout.splitlines()
    assert line.startswith(
        "pop3_ipmon_alert icinga2 is no longer needed: Icinga 2 now sends ipMonitor's alerts "
        "on its own; remove the event command"
    ), line
    assert run.stderr == ""
    (logged,) = (tmp_path / "handler.log").read_text().splitlines()
    assert logged.endswith(f"ERROR {line}"), logged
    assert not (tmp_path / "state").exists()


def test_an_old_icinga2_event_command_without_a_log_file_says_it_once(tmp_path: Path) -> None:
    args = [a for a in old_icinga2_event_command(tmp_path, "https://127.0.0.1:1") if "log" not in a]
    run = handler(*args)
    assert run.returncode == 3
    said = (run.stdout + run.stderr).splitlines()
    assert len(said) <= 1 and "Traceback" not in run.stderr
    assert all("pop3_ipmon_alert icinga2 is no longer needed" in text for text in said)


def test_version_exits_3() -> None:
    run = handler("--version")
    assert (run.returncode, run.stdout.strip()) == (3, "pop3_ipmon_alert 0.1.0")


def test_events_do_not_block_each_other(tmp_path: Path, fifo: CommandFifo) -> None:
    """Two services handled at once: separate locks, both complete."""
    results: list[int] = []

    def one(service: str) -> None:
        results.append(
            handler(*nagios_args(tmp_path, "CRITICAL", 1, **{"--service": service})).returncode
        )

    threads = [threading.Thread(target=one, args=(f"S{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [0, 0, 0, 0]
    assert len(list((tmp_path / "pop3_ipmon").glob("*.json"))) == 4


def test_a_host_and_service_named_dashes_get_alerting_from_nagios(
    tmp_path: Path, fifo: CommandFifo
) -> None:
    """Nagios accepts "--" as a name; argparse would read "--host=--" as []."""
    args = nagios_args(tmp_path, "CRITICAL", 1)
    args = [a for a in args if a not in ("--host", "mail1", "--service", "POP3")]
    run = handler(*args, "--host=--", "--service=--", "--monitor-name=--")
    assert (run.returncode, run.stderr) == (0, ""), (tmp_path / "handler.log").read_text()
    assert fifo.lines()[:3] == [
        "CHANGE_CUSTOM_SVC_VAR;--;--;POP3_IPMON_STATE;Warn",
        "CHANGE_CUSTOM_SVC_VAR;--;--;POP3_IPMON_ALERT;0",
        "CHANGE_CUSTOM_SVC_VAR;--;--;POP3_IPMON_FAILURES;1",
    ]
    assert "INFO --!--: CRITICAL SOFT attempt 1 -> Warn" in (tmp_path / "handler.log").read_text()


def test_a_state_of_dashes_is_still_a_usage_error_said_as_given(tmp_path: Path) -> None:
    args = [a for a in nagios_args(tmp_path, "CRITICAL", 1) if a not in ("--state", "CRITICAL")]
    run = handler(*args, "--state=--")
    # The engine's log gets the short line; the handler's own log the full one.
    assert (run.returncode, run.stderr) == (
        3,
        "pop3_ipmon_alert: error: argument --state: unknown service state '--'\n",
    )
    (line,) = (tmp_path / "handler.log").read_text().splitlines()
    assert line.endswith(
        "ERROR bad arguments: argument --state: unknown service state '--'; "
        "nothing done (the engine notifies on its own)"
    ), line
