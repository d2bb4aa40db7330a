"""The graphing tools' files in contrib/ match the commands they are for.

PNP4Nagios picks etc/pnp4nagios/check_commands/<command>.cfg by the check
command's name (Nagios: the command_name before "!"; Icinga 2: the
CheckCommand's name, SERVICECHECKCOMMAND in the perfdata file) and reads it
as process_perfdata.pl does: "#" lines skipped, spaces removed, KEY=VALUE.
PNP4Nagios is not in Debian 12, so its reading is re-done here; what the
files must say is one thing: RRD_STORAGE_TYPE=MULTIPLE.

Icinga Web 2's graphite module template is read by the module's own loader
(tests/support/graphite_module.py); tests/check/test_graphite_paths.py checks
its metric filters name what a real GraphiteWriter stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from check_pop3_ipmon.check.phases import PHASES
from check_pop3_ipmon.report.svg import COLOURS
from tests.support.graphite_module import load_template

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"


def nagios_check_commands() -> set[str]:
    text = (CONTRIB / "nagios" / "pop3_ipmon_commands.cfg").read_text()
    blocks = re.findall(r"define command \{(.*?)\}", text, re.DOTALL)
    names = {re.search(r"command_name\s+(\S+)", block)[1] for block in blocks}  # type: ignore[index]
    return {name for name in names if name.startswith("check_")}


def icinga2_check_commands() -> set[str]:
    text = (CONTRIB / "icinga2" / "pop3_ipmon_commands.conf").read_text()
    return set(re.findall(r'^object CheckCommand "([^"]+)"', text, re.MULTILINE))


def pnp_settings(path: Path) -> dict[str, str]:
    """process_perfdata.pl's reading of a check_commands file."""
    settings = {}
    for raw in path.read_text().splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        line = raw.split("#", 1)[0].replace(" ", "")
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {raw!r} is no KEY = VALUE"
        settings[key] = value
    return settings


def test_pnp_has_a_multiple_storage_file_for_each_check_command() -> None:
    commands = nagios_check_commands() | icinga2_check_commands()
    assert commands == {"check_pop3_ipmon", "pop3_ipmon"}
    files = {path.stem: path for path in (CONTRIB / "pnp4nagios").glob("*.cfg")}
    assert set(files) == commands
    for path in files.values():
        assert pnp_settings(path) == {"RRD_STORAGE_TYPE": "MULTIPLE"}, path.name


def test_the_graphite_module_reads_a_curve_per_phase() -> None:
    """Loaded by Icinga Web 2's graphite module itself: one stacked curve per
    phase of the registry, in its order and in the report's colours, and the
    whole test's time, for the pop3_ipmon CheckCommand."""
    loaded = load_template(CONTRIB / "icingaweb2" / "pop3_ipmon-graphite.ini", "SVC")
    assert set(loaded) == icinga2_check_commands() == {"pop3_ipmon"}
    templates = loaded["pop3_ipmon"]
    assert set(templates) == {"pop3_ipmon-phases", "pop3_ipmon-time"}
    phases = templates["pop3_ipmon-phases"]
    assert list(phases["curves"]) == [phase.name for phase in PHASES]
    for phase in PHASES:
        label = f"{phase.name}_time"
        assert phases["curves"][phase.name] == [
            f"SVC.perfdata.{label}.value",
            f"alias(color($metric$, '{COLOURS[label]}'), '{phase.name}')",
        ]
    assert phases["urlparams"]["areaMode"] == "stacked"
    assert templates["pop3_ipmon-time"]["curves"] == {
        "time": [
            "SVC.perfdata.time.value",
            f"alias(color($metric$, '{COLOURS['time']}'), 'whole test')",
        ]
    }


def test_the_graphite_module_refuses_a_broken_template(tmp_path: Path) -> None:
    """The check above can fail: the module's loader says what is wrong."""
    broken = tmp_path / "broken.ini"
    text = (CONTRIB / "icingaweb2" / "pop3_ipmon-graphite.ini").read_text()
    broken.write_text(
        text.replace("[pop3_ipmon-time.metrics_filters]", "[pop3_ipmon-time.filters]")
    )
    with pytest.raises(
        AssertionError, match=re.escape('Bad section name "pop3_ipmon-time.filters"')
    ):
        load_template(broken, "SVC")
