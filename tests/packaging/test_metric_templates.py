"""The graphing tools' files in contrib/ match the commands they are for.

PNP4Nagios picks etc/pnp4nagios/check_commands/<command>.cfg by the check
command's name (Nagios: the command_name before "!"; Icinga 2: the
CheckCommand's name, SERVICECHECKCOMMAND in the perfdata file) and reads it
as process_perfdata.pl does: "#" lines skipped, spaces removed, KEY=VALUE.
PNP4Nagios is not in Debian 12, so its reading is re-done here; what the
files must say is one thing: RRD_STORAGE_TYPE=MULTIPLE.
"""

from __future__ import annotations

import re
from pathlib import Path

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
