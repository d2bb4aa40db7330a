"""A test timeout as long as the Down interval: one clear line, from pop3_ipmon_config and
from check-nagios on hand-written Nagios objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from check_pop3_ipmon.alerting.definition import DefinitionError, parse_text
from check_pop3_ipmon.alerting.nagios_objects import Finding, check, plugin_timeout
from tests.alerting.test_nagios_objects_check import GOOD, cache
from tests.packaging.test_contrib_config import STOCK_NAGIOS, stock
from tests.support.nagios import Nagios

ROOT = Path(__file__).resolve().parents[2]
NAGIOS = ROOT / "contrib" / "nagios"
BIN = Path(sys.executable).parent
RULE = (
    "must be shorter than the Down interval (60s): the next test is due one Down "
    "interval after this one started, so a test running to its timeout would delay "
    "every later test and alert"
)


def test_the_definition_says_the_rule_and_why_in_one_line() -> None:
    text = "[POP3]\nhost = mail1\naddress = 192.0.2.10\ndown_interval = 60\ntimeout = 60\n"
    with pytest.raises(DefinitionError) as raised:
        parse_text(text)
    assert str(raised.value) == f"[POP3] timeout: 60s {RULE}"


def test_a_shorter_timeout_is_accepted() -> None:
    (monitor,) = parse_text("[POP3]\nhost = mail1\ndown_interval = 60\ntimeout = 59.5\n")
    assert monitor.timeout == 59.5


@pytest.mark.parametrize(
    ("command", "timeout"),
    [
        ("check_pop3_ipmon!-p 110 --tls starttls -t 60", 60.0),
        ("check_pop3_ipmon!-t60", 60.0),
        ("check_pop3_ipmon!--timeout=7.5 -e '^\\+OK (Dovecot|Courier)'", 7.5),
        ("check_pop3_ipmon!--timeout 30 --timeout-state warning", 30.0),
        ("check_pop3_ipmon!-p 110", 10.0),  # the plugin's default
        ("check_pop3_ipmon", 10.0),
        ("check_pop3_ipmon!-t", None),  # the plugin refuses it itself
        ("check_pop3_ipmon!-t ten", None),
        ("check_pop3_ipmon!-e 'unbalanced", None),
    ],
)
def test_the_plugin_timeout_is_read_from_the_check_command(
    command: str, timeout: float | None
) -> None:
    assert plugin_timeout(command) == timeout


def test_check_nagios_flags_it_in_interval_length_units() -> None:
    service = dict(GOOD, check_command="check_pop3_ipmon!-p 110 -t 60")
    assert check(cache(service))[1] == [
        Finding(True, "mail1!POP3", f"check_command timeout 60s {RULE}")
    ]
    # The same objects with interval_length=120: a 120 s Down interval, room enough.
    assert check(cache(service), interval_length=120) == (1, [])


def test_check_nagios_flags_it_in_nagios_resolved_objects(tmp_path: Path) -> None:
    example = tmp_path / "example.cfg"
    example.write_text(
        (NAGIOS / "pop3_ipmon_example.cfg").read_text().replace("--tls starttls -t 10", "-t 60")
    )
    files = [
        NAGIOS / "pop3_ipmon_commands.cfg",
        NAGIOS / "pop3_ipmon_templates.cfg",
        example,
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    nagios = Nagios(tmp_path / "nagios", files, resource={"USER1": str(BIN)})
    assert nagios.verify(precache=True).returncode == 0  # Nagios itself sees nothing wrong
    run = subprocess.run(
        [
            str(BIN / "pop3_ipmon_config"),
            "check-nagios",
            "--interval-length",
            "60",
            str(nagios.precache),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stdout.splitlines()) == (
        1,
        [
            f"error: service 'mail1!POP3': check_command timeout 60s {RULE}",
            "1 service(s) with ipMonitor alerting: 1 error(s), 0 warning(s)",
        ],
    )
