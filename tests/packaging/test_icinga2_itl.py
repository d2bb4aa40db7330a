"""The Icinga 2 CheckCommand the ITL way, in a real Icinga 2 over the real ITL.

The command imports the ITL's "ipv4-or-ipv6" and passes `$check_address$`
with the pop3_ipmon_ipv4/ipv6 flags, as the ITL's own `pop` does: a
dual-stack host with ipv6 set is checked at its address6 with -6 (before, it
got its IPv4 address with -6: UNKNOWN). The plugin is a third-party one,
found in PluginContribDir. Icinga 2 runs the check for real against a Dovecot
listening on 127.0.0.1 and ::1, and its check results say which argv ran
and what the plugin answered.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2
from tests.support.integration import wait_until

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ROOT / "contrib" / "icinga2" / "pop3_ipmon_commands.conf"
BIN = Path(sys.executable).parent

HOSTS = """\
object Host "dual" {{
  check_command = "dummy"
  address = "127.0.0.1"
  address6 = "::1"
}}
object Host "v6only" {{
  check_command = "dummy"
  address6 = "::1"
}}
template Service "pop3" {{
  check_command = "pop3_ipmon"
  check_interval = 1s  // Icinga 2 spreads first checks over the interval
  retry_interval = 1s
  vars.pop3_ipmon_port = {port}
}}
object Service "ipv6" {{
  import "pop3"
  host_name = "dual"
  vars.pop3_ipmon_ipv6 = true
}}
object Service "ipv4" {{
  import "pop3"
  host_name = "dual"
  vars.pop3_ipmon_ipv4 = true
}}
object Service "either" {{
  import "pop3"
  host_name = "dual"
}}
object Service "either" {{
  import "pop3"
  host_name = "v6only"
}}
"""

SERVICES = (("dual", "ipv6"), ("dual", "ipv4"), ("dual", "either"), ("v6only", "either"))


def test_check_address_follows_the_ipv4_ipv6_flags(
    dovecot_factory: Callable[..., Dovecot], tmp_path: Path
) -> None:
    dovecot = dovecot_factory(also_listen=["::1"])
    port = str(dovecot.port)
    # Only PluginContribDir holds the plugin: a command from PluginDir fails.
    contrib = tmp_path / "plugins-contrib"
    contrib.mkdir()
    (contrib / "check_pop3_ipmon").symlink_to(BIN / "check_pop3_ipmon")
    empty = tmp_path / "plugins"
    empty.mkdir()
    hosts = tmp_path / "hosts.conf"
    hosts.write_text(HOSTS.format(port=port))
    icinga = Icinga2(
        tmp_path / "icinga2",
        [COMMANDS, hosts],
        constants={"PluginDir": str(empty), "PluginContribDir": str(contrib)},
    )
    icinga.start()
    try:
        icinga.follow_events(("CheckResult",))
        wait_until(
            lambda: all(icinga.check_results(*service) for service in SERVICES),
            60,
            "a check result of each service",
        )
    finally:
        icinga.stop()
    results: dict[tuple[str, str], Any] = {
        service: icinga.check_results(*service)[0] for service in SERVICES
    }
    plugin = str(contrib / "check_pop3_ipmon")
    expected = {
        ("dual", "ipv6"): ([plugin, "-6", "-H", "::1", "-p", port], f"[::1]:{port}"),
        ("dual", "ipv4"): ([plugin, "-4", "-H", "127.0.0.1", "-p", port], f"127.0.0.1:{port}"),
        ("dual", "either"): ([plugin, "-H", "127.0.0.1", "-p", port], f"127.0.0.1:{port}"),
        ("v6only", "either"): ([plugin, "-H", "::1", "-p", port], f"[::1]:{port}"),
    }
    for service, (argv, peer) in expected.items():
        result = results[service]
        first = result["output"].rstrip()  # Icinga 2 keeps the perfdata apart
        assert result["command"] == argv, service
        assert (result["exit_status"], first.split(" - ", 1)[0]) == (0, "POP3 OK"), first
        assert first.endswith(f" from {peer}: +OK Dovecot ready."), (service, first)


ITL_SERVICES = """\
object Host "mail" {{
  check_command = "dummy"
  address = "127.0.0.1"
}}
// As a site has it with the ITL's pop; then the one line changed.
object Service "was-pop" {{
  host_name = "mail"
  check_command = "pop3_ipmon"
  check_interval = 1s
  retry_interval = 1s
  vars.pop_port = {port}
  vars.pop_expect = "Dovecot"
  vars.pop_all = true
  vars.pop_warning = 5
  vars.pop_critical = 8
  vars.pop_timeout = 9
  vars.pop_refuse = "warn"
  vars.pop_ipv4 = true
}}
// Our own variables win over the ITL's.
object Service "both" {{
  host_name = "mail"
  check_command = "pop3_ipmon"
  check_interval = 1s
  retry_interval = 1s
  vars.pop_port = 1
  vars.pop3_ipmon_port = {port}
  vars.pop_address = "127.0.0.2"
  vars.pop3_ipmon_address = "127.0.0.1"
}}
// vars.pop_address alone is the address.
object Service "address" {{
  host_name = "mail"
  check_command = "pop3_ipmon"
  check_interval = 1s
  retry_interval = 1s
  vars.pop_port = {port}
  vars.pop_address = "localhost"
  vars.pop_jail = true
}}
"""


def test_the_itls_pop_variables_are_fallbacks(
    dovecot_factory: Callable[..., Dovecot], tmp_path: Path
) -> None:
    dovecot = dovecot_factory()
    port = str(dovecot.port)
    contrib = tmp_path / "plugins-contrib"
    contrib.mkdir()
    (contrib / "check_pop3_ipmon").symlink_to(BIN / "check_pop3_ipmon")
    services = tmp_path / "services.conf"
    services.write_text(ITL_SERVICES.format(port=port))
    icinga = Icinga2(
        tmp_path / "icinga2",
        [COMMANDS, services],
        constants={"PluginDir": str(tmp_path), "PluginContribDir": str(contrib)},
    )
    names = ("was-pop", "both", "address")
    icinga.start()
    try:
        icinga.follow_events(("CheckResult",))
        wait_until(
            lambda: all(icinga.check_results("mail", name) for name in names),
            60,
            "a check result of each service",
        )
    finally:
        icinga.stop()
    plugin = str(contrib / "check_pop3_ipmon")
    results = {name: icinga.check_results("mail", name)[0] for name in names}
    assert results["was-pop"]["command"] == [
        plugin, "-4", "-A", "-H", "127.0.0.1", "-c", "8", "-e", "Dovecot", "-p", port,
        "-r", "warn", "-t", "9", "-w", "5",
    ]  # fmt: skip
    assert results["both"]["command"] == [plugin, "-H", "127.0.0.1", "-p", port]
    assert results["address"]["command"] == [plugin, "-H", "localhost", "-j", "-p", port]
    for name, result in results.items():
        first = result["output"].rstrip()
        assert (result["exit_status"], first.split(" - ", 1)[0]) == (0, "POP3 OK"), (name, first)
