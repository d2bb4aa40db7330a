"""pop3_ipmon_config: definitions checked once, with clear messages; the arithmetic."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_pop3_ipmon.alerting.definition import DefinitionError, parse_text
from check_pop3_ipmon.alerting.generate import (
    icinga2_config,
    icinga2_string,
    nagios_config,
    nagios_units,
)
from check_pop3_ipmon.check import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "contrib" / "pop3_ipmon_example.ini"
SCRIPT = Path(sys.executable).parent / "pop3_ipmon_config"

BASE = """\
[POP3]
host = mail1
address = 192.0.2.10
"""


@pytest.mark.parametrize(
    ("seconds", "length", "units"),
    [(300, 60, "5"), (90, 60, "1.508333"), (100, 60, "1.675"), (7, 1, "7"), (917, 655, "1.400763")],
)
def test_nagios_units(seconds: int, length: int, units: str) -> None:
    assert nagios_units(seconds, length) == units


@given(seconds=st.integers(1, 10**6), length=st.integers(1, 3600))
def test_nagios_never_schedules_a_second_early_or_late(seconds: int, length: int) -> None:
    """Nagios multiplies by interval_length and truncates to whole seconds."""
    text = nagios_units(seconds, length)
    assert "e" not in text
    assert math.floor(float(text) * length) == seconds


def test_defaults_and_mapping() -> None:
    (monitor,) = parse_text(BASE)
    assert (monitor.service, monitor.name, monitor.host, monitor.address) == (
        "POP3",
        "POP3",
        "mail1",
        "192.0.2.10",
    )
    assert (monitor.failures_per_alert, monitor.max_alerts) == (3, 3)
    assert (monitor.up_interval, monitor.down_interval, monitor.lost_interval) == (300, 60, 900)
    assert monitor.plugin_arguments() == ["-t", "10"]


def test_plugin_arguments_parse_as_the_plugin_does() -> None:
    (monitor,) = parse_text(BASE + "port = 995\ntls = implicit\ntimeout = 7.5\nwarning = 2\n")
    options = cli.parse(["-H", "x", *monitor.plugin_arguments()])
    assert options.settings.port == 995 and options.settings.tls == "implicit"
    assert options.settings.timeout == 7.5 and options.warning == "2"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "name = " + "n" * 65,
            "the monitor name is 65 characters long; ipMonitor allows at most 64",
        ),
        ("colour = blue", "unknown setting(s) colour"),
        ("port = 99999", "port: not a TCP port"),
        ("tls = ssl", "tls: expected none, starttls or implicit"),
        ("warning = fast", "warning: invalid range 'fast'"),
        ("timeout = 60", "timeout: 60s must be shorter than the Down interval (60s): "),
        ("max_alerts = 0", "max_alerts: expected a whole number, 1 to 100, not '0'"),
        ("failures_per_alert = 101", "failures_per_alert: expected a whole number, 1 to 100"),
        ("up_interval = 604801", "up_interval: expected whole seconds, 1 to 604800 (a week)"),
        ("down_interval = 1.5", "down_interval: expected whole seconds"),
        ("enabled = maybe", "enabled: expected yes or no"),
        ("contacts = a;b", "contacts: 'a;b' is not a contact or group name"),
    ],
)
def test_bad_settings_name_section_and_key(extra: str, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        parse_text(BASE + extra + "\n")
    assert message in str(raised.value)
    assert str(raised.value).startswith("[POP3]")


def test_address_with_semicolon_is_refused() -> None:
    with pytest.raises(DefinitionError, match="is not a host name or IP address"):
        parse_text(BASE.replace("192.0.2.10", "192.0.2.10;x"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[POP3]\naddress = 1.2.3.4\n", "[POP3]: host is required"),
        ("[POP3!x]\nhost = a\n", "cannot be an object name (!)"),
        ("[POP3]\nhost = a'b\n", 'host name "a\'b" cannot be an object name'),
        ("", "no monitor sections"),
        ("[a]\nhost = h\n[A]\nhost = h\n", "host h has it twice"),
        (
            "[a]\nhost = h\naddress = 1.1.1.1\n[b]\nhost = h\naddress = 2.2.2.2\n",
            "host h already has address 1.1.1.1",
        ),
        ("[a]\nhost = h\nhost = i\n", "option 'host' in section 'a' already exists"),
    ],
)
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        parse_text(text)
    assert message in str(raised.value)


def test_nagios_output() -> None:
    monitors = parse_text(
        BASE + "name = Mail; POP3\ncontacts = a, b\nup_interval = 300\n"
        "down_interval = 90\nlost_interval = 900\nfailures_per_alert = 2\n"
    )
    text = nagios_config(monitors, 60)
    lines = [" ".join(line.split(" ;")[0].split()) for line in text.splitlines()]
    host = lines[lines.index("define host {") : lines.index("define service {")]
    assert "address 192.0.2.10" in host and "contacts a,b" in host
    assert "display_name Mail\\; POP3" in lines  # '\;': not a comment
    assert "check_interval 5" in lines
    assert "retry_interval 1.508333" in lines
    assert "_POP3_IPMON_DOWN_INTERVAL 1.508333" in lines
    assert "_POP3_IPMON_LOST_INTERVAL 15" in lines
    assert "_POP3_IPMON_FAILURES_PER_ALERT 2" in lines
    assert "check_command check_pop3_ipmon!-t 10" in lines


def test_icinga2_output() -> None:
    monitors = parse_text(
        BASE + 'name = Mail "POP3" \\ head\nenabled = no\nport = 1110\ncritical = @1:3\n'
    )
    text = icinga2_config(monitors)
    assert 'display_name = "Mail \\"POP3\\" \\\\ head"' in text
    assert "enable_active_checks = false" in text
    assert "vars.pop3_ipmon_port = 1110" in text
    assert 'vars.pop3_ipmon_critical = "@1:3"' in text
    assert "retry_interval = vars.pop3_ipmon_down_interval" in text
    assert icinga2_string("a\nb\tc") == '"a\\nb\\tc"'


def test_script_writes_files_and_reports_errors(tmp_path: Path) -> None:
    out = tmp_path / "services.cfg"
    run = subprocess.run(
        [str(SCRIPT), "nagios", str(EXAMPLE), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_text().count("define service {") == 2
    bad = tmp_path / "bad.ini"
    bad.write_text("[POP3]\nhost = h\nname = " + "n" * 70 + "\n")
    run = subprocess.run(
        [str(SCRIPT), "icinga2", str(bad)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert run.stderr.strip() == (
        "pop3_ipmon_config: [POP3] name: the monitor name is 70 characters long; "
        "ipMonitor allows at most 64"
    )
    run = subprocess.run(
        [str(SCRIPT), "icinga2", str(tmp_path / "missing.ini")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1 and "No such file" in run.stderr


def test_nagios_gets_escalations_that_keep_ipmonitors_pace_without_the_handler() -> None:
    """Notifications 1..M-1 every (F - 1/4) Down intervals, none from M (issue 18, item 1)."""
    text = nagios_config(parse_text(BASE + "failures_per_alert = 3\nmax_alerts = 4\n"), 60)
    blocks = [block for block in text.split("define ")[1:] if block.startswith("serviceescalation")]
    fields = [
        {line.split()[0]: line.split()[1] for line in block.splitlines() if len(line.split()) > 1}
        for block in blocks
    ]
    assert [
        (f["first_notification"], f["last_notification"], f["notification_interval"])
        for f in fields
    ] == [("1", "3", "2.75"), ("4", "0", "0")]
    single = nagios_config(parse_text(BASE + "max_alerts = 1\n"), 60)
    assert single.count("define serviceescalation") == 1


def test_help_lists_every_definition_key_with_its_default() -> None:
    """Issue 20: --help listed none of the keys; they come from definition.KEYS."""
    from check_pop3_ipmon.alerting.definition import KEYS

    proc = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("monitor definition keys (", 1)[1].splitlines()
    listed = {line.split()[0]: line.split()[1] for line in lines[3 : 3 + len(KEYS)]}
    assert listed == {key: key_.default or "-" for key, key_ in KEYS.items()}
    assert "\n  timeout             10       Maximum Test Duration" in proc.stdout
    assert max(map(len, proc.stdout.splitlines())) <= 79
    # The defaults --help shows are the ones parsing uses.
    (monitor,) = parse_text("[POP3]\nhost = mail1\n")
    assert (monitor.up_interval, monitor.down_interval, monitor.lost_interval) == (300, 60, 900)
    assert (monitor.failures_per_alert, monitor.max_alerts, monitor.timeout) == (3, 3, 10.0)
    assert (monitor.name, monitor.tls, monitor.enabled, monitor.contacts) == (
        "POP3",
        "none",
        True,
        (),
    )


def test_nagios_passive_writes_the_central_node_of_a_distributed_setup() -> None:
    """--passive: the same services, fed by send_nsca (no active checks, no
    freshness check running the check_command there), with the same handler
    variables and escalations: the central node owns the notifications."""
    monitors = parse_text(BASE + "failures_per_alert = 3\nmax_alerts = 3\nenabled = yes\n")

    def fields(text: str) -> list[str]:
        return [" ".join(line.split(" ;")[0].split()) for line in text.splitlines()]

    active, passive = nagios_config(monitors, 60), nagios_config(monitors, 60, passive=True)
    assert "active_checks_enabled 1" in fields(active)
    assert "passive_checks_enabled 1" not in fields(active)
    central = fields(passive)
    assert "active_checks_enabled 0" in central and "active_checks_enabled 1" not in central
    assert "passive_checks_enabled 1" in central and "check_freshness 0" in central
    # Everything else as on a single node.
    same = [line for line in fields(active) if not line.startswith(("active_checks", "#"))]
    assert [line for line in central if line in same] == same
    assert passive.count("define serviceescalation") == 2
