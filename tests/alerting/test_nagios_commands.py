"""Nagios external commands: exact lines, refused names, delivery through a real FIFO."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting import nagios
from check_pop3_ipmon.alerting.model import Interval, NextAlert, Phase, Publish, Schedule

INTERVALS = {Interval.UP: 5, Interval.DOWN: 1, Interval.LOST: 1.5}


def commands(interval_length: int = 60) -> nagios.NagiosCommands:
    return nagios.NagiosCommands(
        "mail1",
        "POP3 head office",
        intervals=INTERVALS,
        check_time=1000,
        interval_length=interval_length,
    )


def test_lines_for_every_action() -> None:
    c = commands()
    assert c.lines(Publish(Phase.DOWN, 2, 6), 1001) == [
        "[1001] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_STATE;Down\n",
        "[1001] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_ALERT;2\n",
        "[1001] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_FAILURES;6\n",
    ]
    # The next failure alerts: Nagios may re-notify at once (next_notification 0).
    assert c.lines(NextAlert(1, 2), 1001) == [
        "[1001] DELAY_SVC_NOTIFICATION;mail1;POP3 head office;0\n"
    ]
    # Two failures away (Down 60 s, checked at 1000): until half a Down
    # interval after the second next test, 1000 + 2.5 x 60, no further: if
    # the handler stops, Nagios' own re-notification comes one test late.
    assert c.lines(NextAlert(2, 2), 1001) == [
        "[1001] DELAY_SVC_NOTIFICATION;mail1;POP3 head office;1150\n"
    ]
    # The next test at the Up interval (in downtime), then Down ones.
    assert c.lines(NextAlert(3, 1, Interval.UP), 1001) == [
        "[1001] DELAY_SVC_NOTIFICATION;mail1;POP3 head office;1450\n"
    ]
    # No more (alert M sent): Nagios' escalation stops it; nothing to set.
    assert c.lines(NextAlert(None), 1001) == []
    assert c.lines(Schedule(Interval.LOST, False), 1001) == [
        "[1001] CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3 head office;1.5\n"
    ]
    # Moved: the check time plus the interval, in seconds (1.5 units of 60 s).
    assert c.lines(Schedule(Interval.LOST, True), 1001) == [
        "[1001] CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3 head office;1.5\n",
        "[1001] SCHEDULE_FORCED_SVC_CHECK;mail1;POP3 head office;1090\n",
    ]


def test_a_run_that_comes_too_late_neither_opens_nor_forces() -> None:
    """Checked at 1000, Down 1 s: at 1001 the next failure may already be in.
    Opening then could let the one after it notify too; a past check time
    would force an extra check at once."""
    c = commands(interval_length=1)
    assert c.lines(NextAlert(1, 2), 1001) == []
    assert c.lines(NextAlert(1, 2), 1000) == [
        "[1000] DELAY_SVC_NOTIFICATION;mail1;POP3 head office;0\n"
    ]
    assert c.lines(Schedule(Interval.UP, True), 1005) == [
        "[1005] CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3 head office;5\n"
    ]


def test_a_late_run_in_an_outage_forces_the_next_test_now() -> None:
    """Checked at 1000 with Nagios' check_interval at Up (5 s), Down 1 s, handled
    at 1005 (a machine too busy): Nagios scheduled the next test an Up interval
    on; the outage's next test is due, so it is forced now, not left there."""
    c = commands(interval_length=1)
    assert c.lines(Schedule(Interval.DOWN, True), 1005) == [
        "[1005] CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3 head office;1\n",
        "[1005] SCHEDULE_FORCED_SVC_CHECK;mail1;POP3 head office;1005\n",
    ]


def test_a_passive_result_moves_no_check() -> None:
    """A central Nagios fed by send_nsca ($SERVICECHECKTYPE$ PASSIVE): the remote
    node schedules the tests; a forced check would run the check_command here,
    active checks off or not (Nagios runs forced checks regardless)."""
    c = nagios.NagiosCommands(
        "mail1", "POP3", intervals=INTERVALS, check_time=1000, interval_length=60, passive=True
    )
    assert c.lines(Schedule(Interval.LOST, True), 1001) == [
        "[1001] CHANGE_NORMAL_SVC_CHECK_INTERVAL;mail1;POP3;1.5\n"
    ]
    assert c.lines(NextAlert(2, 2), 1001) == ["[1001] DELAY_SVC_NOTIFICATION;mail1;POP3;1150\n"]


def test_interval_length_comes_from_nagios_cfg(tmp_path: Path) -> None:
    main = tmp_path / "nagios.cfg"
    main.write_text("log_file=/x\n#interval_length=5\n")
    assert nagios.interval_length(main) == 60
    main.write_text("interval_length = 1\n")
    assert nagios.interval_length(main) == 1
    main.write_text("interval_length=soon\n")
    with pytest.raises(nagios.CommandError, match="interval_length='soon'"):
        nagios.interval_length(main)
    with pytest.raises(nagios.CommandError, match="No such file"):
        nagios.interval_length(tmp_path / "missing.cfg")


@pytest.mark.parametrize("name", ["a;b", "a\nb", "a\rb", "", "a\0b"])
def test_names_that_would_break_a_command_are_refused(name: str) -> None:
    with pytest.raises(nagios.CommandError, match="cannot be named"):
        nagios.NagiosCommands(name, "s", intervals=INTERVALS, check_time=1)
    with pytest.raises(nagios.CommandError, match="cannot be named"):
        nagios.NagiosCommands("h", name, intervals=INTERVALS, check_time=1)


def test_free_text_cannot_add_fields_or_commands() -> None:
    text = nagios.free_text("a;b\nSEND_CUSTOM_SVC_NOTIFICATION;x\x7f" + "z" * 500)
    assert ";" not in text and "\n" not in text and "\x7f" not in text
    assert text.startswith("a,b SEND_CUSTOM_SVC_NOTIFICATION,x ")
    assert len(text) == 400


@pytest.mark.parametrize(
    ("value", "text"), [(1, "1"), (1.5, "1.5"), (1.6666667, "1.666667"), (900, "900")]
)
def test_interval_numbers_have_no_exponent(value: float, text: str) -> None:
    assert nagios.number(value) == text


def read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_delivery_is_one_write_to_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "nagios.cmd"
    os.mkfifo(fifo, 0o660)
    received: list[bytes] = []
    reader = read_fifo(fifo, received)
    lines = commands().lines(Publish(Phase.LOST, 3, 10), 5)
    # The reader must have the FIFO open before a non-blocking writer may open it.
    for _ in range(100):
        try:
            nagios.deliver(fifo, lines)
            break
        except nagios.CommandError:
            reader.join(0.02)
    reader.join(5)
    assert received == ["".join(lines).encode()]


def test_nobody_reading_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "nagios.cmd"
    os.mkfifo(fifo, 0o660)
    with pytest.raises(nagios.CommandError, match=r"is Nagios running\?"):
        nagios.deliver(fifo, ["[1] X;h;s;\n"])


def test_only_a_fifo_is_written(tmp_path: Path) -> None:
    plain = tmp_path / "nagios.cmd"
    plain.write_text("")
    with pytest.raises(nagios.CommandError, match="is not a FIFO"):
        nagios.deliver(plain, ["[1] X;h;s;\n"])
    assert plain.read_text() == ""
    with pytest.raises(nagios.CommandError, match="No such file"):
        nagios.deliver(tmp_path / "missing", ["[1] X;h;s;\n"])


def test_commands_too_long_for_one_atomic_write_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "nagios.cmd"
    os.mkfifo(fifo)
    with pytest.raises(nagios.CommandError, match="do not fit one atomic write"):
        nagios.deliver(fifo, ["x" * 5000 + "\n"])
