"""The perfdata labels as a real Icinga 2 GraphiteWriter stores them in a real carbon-cache.

Icinga 2 keeps a label's dots as metric path levels and turns "::" into ".":
with an earlier version's '127.0.0.1_time' a pool's figures were spread over
four levels (perfdata/127/0/0/1_time) and '::1_time' had an empty one. Here
Icinga 2 runs the shipped CheckCommand against a real Dovecot, once on one
address and once with --all-addresses over a name with an IPv4 and an IPv6
address (nss_wrapper, preloaded into Icinga 2 and so into the plugin), its
GraphiteWriter feeding a carbon-cache (tests/support/carbon.py); the whisper
files must be one per label, each exactly one level under perfdata. And
Icinga Web 2's graphite module, given contrib's template, finds its curves
among them (its metric filters resolved by the module itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from tests.support.carbon import Carbon
from tests.support.dovecot import Dovecot
from tests.support.graphite_module import load_template
from tests.support.hosts import hosts_env
from tests.support.icinga2 import Icinga2
from tests.support.integration import wait_until
from tests.support.perfdata_files import BIN

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
HOST = "pop3-graphite"
POOL = "pool.graphite.test"
SERVICES = {"POP3": "POP3", "POP3 pool": "POP3_pool"}  # name -> as GraphiteWriter writes it
PHASES = ("time", "connect_time", "greeting_time", "quit_time")
POOL_LABELS = {
    "time",
    "resolve_time",
    *(f"ip4_127_0_0_1_{phase}" for phase in PHASES),
    *(f"ip6_0_0_0_0_0_0_0_1_{phase}" for phase in PHASES),
}


def objects(carbon_port: int, pop3_port: int) -> str:
    return f"""\
object GraphiteWriter "graphite" {{
  host = "127.0.0.1"
  port = {carbon_port}
}}
object Host "{HOST}" {{
  check_command = "dummy"
  enable_active_checks = false
  address = "127.0.0.1"
}}
template Service "graphite-test" {{
  host_name = "{HOST}"
  check_command = "pop3_ipmon"
  vars.pop3_ipmon_port = {pop3_port}
  check_interval = 2s
  retry_interval = 2s
}}
object Service "POP3" {{
  import "graphite-test"
}}
object Service "POP3 pool" {{
  import "graphite-test"
  vars.pop3_ipmon_address = "{POOL}"
  vars.pop3_ipmon_all_addresses = true
}}
"""


def labels(result: dict[str, Any]) -> set[str]:
    """The labels of a check result's perfdata, as Icinga 2 parsed them."""
    return {str(item).split("=", 1)[0].strip("'") for item in result["performance_data"]}


def figure(result: dict[str, Any], label: str) -> float:
    """A label's value in seconds from a check result's perfdata ('x=0.001234s;;;0')."""
    for item in result["performance_data"]:
        name, _sep, rest = str(item).partition("=")
        if name.strip("'") == label:
            number = rest.split(";", 1)[0]
            return float(number[:-1] if number.endswith("s") else number)
    raise AssertionError(f"{label} not in {result['performance_data']}")


def test_graphite_paths_are_one_level_per_label(
    tmp_path: Path, dovecot_factory: Callable[..., Dovecot], monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot = dovecot_factory(also_listen=["::1"])
    carbon = Carbon(tmp_path / "carbon")
    carbon.start()
    try:
        env = hosts_env(
            tmp_path / "hosts", {POOL: ["127.0.0.1", "::1"], "localhost": ["127.0.0.1"]}
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = tmp_path / "graphite.conf"
        config.write_text(objects(carbon.port, dovecot.port))
        icinga = Icinga2(
            tmp_path / "icinga2",
            [ROOT / "contrib" / "icinga2" / "pop3_ipmon_commands.conf", config],
            constants={"PluginDir": str(BIN)},
        )
        check = icinga.validate()
        assert check.returncode == 0, check.stdout + check.stderr
        icinga.start()
        icinga.follow_events()
        prefix = {
            name: f"icinga2.{HOST}.services.{path}.pop3_ipmon.perfdata."
            for name, path in SERVICES.items()
        }

        def stored() -> dict[str, set[str]]:
            """Each service's metrics below perfdata, as carbon stored them."""
            found = carbon.metrics()
            return {
                name: {m[len(p) :] for m in found if m.startswith(p)} for name, p in prefix.items()
            }

        def ok_results(name: str) -> list[dict[str, Any]]:
            return [r for r in icinga.check_results(HOST, name) if r["state"] == 0]

        def all_stored() -> bool:
            have = stored()
            return all(
                len(ok_results(name)) >= 2
                # As many metrics as labels (where they are is asserted below).
                and len(have[name]) >= len(labels(ok_results(name)[-1]))
                for name in SERVICES
            )

        try:
            wait_until(all_stored, 90, "two OK results of each service stored by carbon-cache")
        finally:
            icinga.stop()
    finally:
        carbon.stop()
    have = stored()
    # One level per label, then "value": no label split at its dots.
    split = sorted(m for name in SERVICES for m in have[name] if m.count(".") != 1)
    assert not split, split
    pool = ok_results("POP3 pool")
    assert labels(pool[-1]) == POOL_LABELS, pool[-1]["output"]
    assert have["POP3 pool"] == {f"{label}.value" for label in POOL_LABELS}, carbon.diagnostics()
    single = ok_results("POP3")
    assert labels(single[-1]) == {"resolve_time", *PHASES}
    assert have["POP3"] == {f"{label}.value" for label in ("resolve_time", *PHASES)}
    # Nothing of ours anywhere else: no label split into levels, no empty level.
    ours = {m for m in carbon.metrics() if m.startswith(f"icinga2.{HOST}.")}
    assert ours == {p + m for name, p in prefix.items() for m in have[name]}
    for metric in ours:
        assert "" not in metric.split(".")
    # And the points are the figures the plugin printed.
    for label in ("ip4_127_0_0_1_greeting_time", "ip6_0_0_0_0_0_0_0_1_time"):
        printed = {round(figure(r, label), 6) for r in pool}
        points = carbon.values(prefix["POP3 pool"] + label + ".value")
        assert points and {round(p, 6) for p in points} <= printed, (points, printed)
    # The graphite module's template, resolved for the single service with the
    # module's default service name template (GraphiteWriter's, with the
    # check command): the phases this service has are stored metrics, the
    # others (TLS, login) are not, and the module leaves those curves out.
    loaded = load_template(
        ROOT / "contrib" / "icingaweb2" / "pop3_ipmon-graphite.ini",
        f"icinga2.{HOST}.services.POP3.pop3_ipmon",
    )["pop3_ipmon"]
    found = {
        (template, curve)
        for template, parts in loaded.items()
        for curve, (metric, _function) in parts["curves"].items()
        if metric in ours
    }
    assert found == {
        ("pop3_ipmon-time", "time"),
        *(("pop3_ipmon-phases", phase) for phase in ("resolve", "connect", "greeting", "quit")),
    }
