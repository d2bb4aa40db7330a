"""Nagios external commands: exact lines, refused names, delivery through a real FIFO."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting import nagios
from check_pop3_ipmon.alerting.model import Alert, Interval, Phase, Publish, Recovery, SetInterval


def commands() -> nagios.NagiosCommands:
    return nagios.NagiosCommands(
        "mail1", "POP3 head office", down_interval=1, lost_interval=1.5, monitor_name="Mail; POP3"
    )


def test_lines_for_every_action() -> None:
    c = commands()
    assert c.lines(Publish(Phase.DOWN, 2, 6), 100) == [
        "[100] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_STATE;Down\n",
        "[100] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_ALERT;2\n",
        "[100] CHANGE_CUSTOM_SVC_VAR;mail1;POP3 head office;POP3_IPMON_FAILURES;6\n",
    ]
    assert c.lines(Alert(2, 3, Phase.DOWN, 6), 100) == [
        "[100] SEND_CUSTOM_SVC_NOTIFICATION;mail1;POP3 head office;0;pop3_ipmon;"
        "Mail, POP3: ipMonitor Down: alert 2 of 3 after 6 consecutive failed test(s)\n"
    ]
    assert c.lines(Recovery(3, 12), 100)[0].endswith(
        ";0;pop3_ipmon;Mail, POP3: ipMonitor Up: recovered after 12 failed test(s), "
        "3 alert(s) had been sent\n"
    )
    assert c.lines(SetInterval(Interval.LOST), 100) == [
        "[100] CHANGE_RETRY_SVC_CHECK_INTERVAL;mail1;POP3 head office;1.5\n"
    ]
    assert c.lines(SetInterval(Interval.DOWN), 100)[0].endswith(";1\n")


@pytest.mark.parametrize("name", ["a;b", "a\nb", "a\rb", "", "a\0b"])
def test_names_that_would_break_a_command_are_refused(name: str) -> None:
    with pytest.raises(nagios.CommandError, match="cannot be named"):
        nagios.NagiosCommands(name, "s", down_interval=1, lost_interval=2)
    with pytest.raises(nagios.CommandError, match="cannot be named"):
        nagios.NagiosCommands("h", name, down_interval=1, lost_interval=2)


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
