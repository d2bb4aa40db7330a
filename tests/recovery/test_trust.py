"""The recovery configuration is trusted like credentials (issue 10, item 2).

It decides what runs as the engine's user. Before, a file owned by an
unprivileged user, mode 0666, was accepted and its command ran, and in
Icinga 2 its path came from a service variable an API user with only
`objects/modify/Service` could change at run time. Now it is opened without
following a symlink and checked through the descriptor: a regular file,
owned by root or the engine's user, nobody else may write it; and the shipped
Icinga 2 recovery NotificationCommand passes a fixed path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.alerting.test_handler_as_engines_run_it import CommandFifo, fifo
from tests.recovery.conftest import Recovery
from tests.recovery.test_alert_runs_actions import configure, handler
from tests.recovery.test_command_line import alert, external, run
from tests.support import recorder
from tests.support.icinga2 import Icinga2
from tests.support.integration import missing, wait_until

__all__ = ["fifo"]  # the alerting tests' FIFO fixture, used here too

NOBODY = 65534  # an unprivileged user (Debian's nobody)
CONTRIB = Path(__file__).resolve().parents[2] / "contrib"


def needs_root() -> None:
    if os.geteuid() != 0:
        missing("giving a file to another user needs root")


@pytest.mark.parametrize(
    ("owner", "mode", "problem"),
    [
        (NOBODY, 0o666, "is writable by group or others (mode 0666): refused; chmod go-w it"),
        (
            NOBODY,
            0o644,
            f"belongs to uid {NOBODY}, not to root or this user (uid {os.geteuid()}): refused",
        ),
        (0, 0o664, "is writable by group or others (mode 0664): refused; chmod go-w it"),
        (0, 0o646, "is writable by group or others (mode 0646): refused; chmod go-w it"),
    ],
    ids=["nobody-0666", "nobody-0644", "group-writable", "other-writable"],
)
def test_a_config_others_could_change_runs_nothing(
    recovery: Recovery, owner: int, mode: int, problem: str
) -> None:
    needs_root()
    external(recovery)
    os.chown(recovery.path, owner, owner)
    recovery.path.chmod(mode)
    result = run(recovery, *alert(1))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"REFUSED: recovery config {recovery.path} {problem}\n"
    assert recovery.calls() == []


def test_a_private_config_of_root_or_our_own_runs(recovery: Recovery) -> None:
    external(recovery, cooldown=0)
    recovery.path.chmod(0o600)
    assert run(recovery, *alert(1)).returncode == 0
    recovery.path.chmod(0o644)
    assert run(recovery, *alert(2)).returncode == 0
    assert len(recovery.calls()) == 2


def test_a_symlinked_config_is_not_followed(recovery: Recovery) -> None:
    """Whoever may write the link's directory would otherwise choose the file."""
    external(recovery)
    link = recovery.root / "link.ini"
    link.symlink_to(recovery.path)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pop3_ipmon_recovery"),
            "--config",
            str(link),
            *alert(1),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"REFUSED: cannot read recovery config {link}: Too many levels of symbolic links\n"
    )
    assert recovery.calls() == []


def test_a_fifo_as_config_is_refused_not_waited_for(recovery: Recovery) -> None:
    external(recovery)
    recovery.path.unlink()
    os.mkfifo(recovery.path, 0o600)
    result = run(recovery, *alert(1))  # nobody writes it: opening must not block
    assert result.returncode == 2
    assert result.stderr == f"REFUSED: recovery config {recovery.path} is not a regular file\n"


def test_the_alert_handler_refuses_a_config_an_unprivileged_user_owns(
    tmp_path: Path, fifo: CommandFifo, recovery: Recovery
) -> None:
    """Through pop3_ipmon_alert: the alert still goes out, the action does not run."""
    needs_root()
    beside = configure(recovery)
    config = recovery.root / "pop3_ipmon-recovery.ini"
    os.chown(config, NOBODY, NOBODY)
    config.chmod(0o666)
    handler(tmp_path, beside, "CRITICAL", 1)
    result = handler(tmp_path, beside, "CRITICAL", 2)
    assert result.returncode == 4
    # Alert 1 (Nagios' PROBLEM 1) published for the notification all the same.
    assert "CHANGE_CUSTOM_SVC_VAR;mail1;POP3;POP3_IPMON_ALERT;1" in fifo.lines()
    assert recovery.calls() == []
    log = (tmp_path / "handler.log").read_text().splitlines()
    assert log[-1].endswith(
        f"ERROR mail1!POP3: recovery: recovery config {config} is writable by group or "
        "others (mode 0666): refused; chmod go-w it"
    )


# -- Icinga 2: the path is not a variable the API can change -----------------------------------


@pytest.mark.engines
def test_icinga2_api_cannot_redirect_the_recovery_config(tmp_path: Path) -> None:
    """A real Icinga 2 runs the shipped recovery NotificationCommand (its program
    replaced by a recorder) at each alert; the service's
    vars.pop3_ipmon_recovery_config is changed through the API at run time, as
    an API user with objects/modify/Service could. The command's argv keeps the
    fixed ConfigDir path."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    out = tmp_path / "argv.jsonl"
    fake = plugins / "pop3_ipmon_recovery"
    words = " ".join(f"'{word}'" for word in recorder.command(out))
    fake.write_text(f'#!/bin/sh\nexec {words} "$@"\n')
    fake.chmod(0o755)
    services = tmp_path / "services.conf"
    services.write_text(
        """\
object Host "mail1" {
  check_command = "dummy"
  address = "127.0.0.1"
  enable_active_checks = false
}
object Service "POP3" {
  import "pop3-ipmon-service"
  host_name = "mail1"
  check_command = "dummy"
  vars.dummy_state = 2
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
  vars.pop3_ipmon_max_alerts = 100
}
"""
    )
    engine = Icinga2(
        tmp_path / "icinga2",
        [
            CONTRIB / "icinga2" / "pop3_ipmon_commands.conf",
            CONTRIB / "icinga2" / "pop3_ipmon_templates.conf",
            CONTRIB / "icinga2" / "pop3_ipmon_recovery.conf",
            services,
        ],
        constants={"PluginDir": str(plugins)},
    )
    expected = str(engine.dirs["ConfigDir"] / "pop3_ipmon-recovery.ini")
    evil = str(tmp_path / "evil.ini")
    check = engine.validate()
    assert check.returncode == 0, check.stdout
    engine.start()
    try:
        wait_until(lambda: bool(recorder.read(out)), 60, "a first alert to the recovery command")
        engine.api(
            "POST",
            "/v1/objects/services/mail1!POP3",
            {"attrs": {"vars.pop3_ipmon_recovery_config": evil}},
        )
        changed = time.time()
        wait_until(
            lambda: any(r["time"] > changed + 1 for r in recorder.read(out)),
            60,
            "an alert (a reminder) after the change",
        )
        assert engine.service("mail1", "POP3")["vars"]["pop3_ipmon_recovery_config"] == evil
    finally:
        engine.stop()
    passed = [config_argument(r["argv"]) for r in recorder.read(out)]
    assert passed and set(passed) == {expected}, passed
    # What the recovery command is told: alert 1, 2, ... of one outage.
    assert alerts(recorder.read(out)[0]["argv"]) == ("PROBLEM", "1", "Down")


def alerts(argv: list[str]) -> tuple[str, str, str]:
    def value(option: str) -> str:
        return argv[argv.index(option) + 1]

    return value("--type"), value("--alert"), value("--ipmon-state")


def config_argument(argv: list[str]) -> str:
    index = argv.index("--config")
    return argv[index + 1]
