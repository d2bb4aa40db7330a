"""ipMonitor's alerting on Icinga 2 clusters, as `icinga2 node setup` leaves them.

Real icinga2 daemons on loopback (tests/support/icinga2_cluster.py), each with
its own directories, port and `icinga2 pki` certificate, the shipped
contrib/icinga2 commands and templates in the global zone, the services in the
config master's zones.d, synced to the node that checks them, and a
pd-nagios-like recording notification command on every node (it records the
type, the engine's notification number, the ipMonitor variables and the node
that ran it). F=3, M=3, Down = Up = 5 s (so failure n is at (n-1)*Down and
"alert k at failure kF" is a time); a real Dovecot stopped and started.

  (b) master + satellite: the service in the satellite zone, checked there;
      the master sends (node setup disables the notification feature on the
      satellite); a second outage right after the recovery counts from 1
  (c) master + satellite + agent: the check on the agent (command_endpoint)
  (d) HA master pair: two services whose Service and Notification authorities
      (SDBM(name) % 2, computed here) fall on different masters; the primary
      is stopped after alert 1, the survivor goes on

In each: all nodes together send exactly PROBLEM 1..M at failures F..MF,
nothing after (Lost), one RECOVERY; no node but the one expected sends; and
the engines' own state says the same (HARD from failure F, where the check
ran, who holds the authority).
"""

from __future__ import annotations

import http.client
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.support import pd_recorder
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import string
from tests.support.icinga2_cluster import Cluster, Node, poll, record_command

pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "icinga2"
BIN = Path(sys.executable).parent
# Where Debian's package puts the CheckCommand (debian/install).
PACKAGED_COMMANDS = Path("/usr/share/icinga2/include/plugins-contrib.d/pop3_ipmon_commands.conf")
F, M, DOWN, UP, LOST = 3, 3, 5, 5, 5
WINDOW = F * DOWN  # seconds between alerts
# A reminder is sent by the notification timer, which ticks about 5 s after
# its previous run ended: alert k may come up to (k-1) ticks late (measured
# 0.8 to 9.7 s for alert 3 with Down 5 s). Only the times have margins.
LATE = 2 * DOWN + 5
NOTIFICATION = "pop3-ipmon"  # the apply rule's name: host!service!pop3-ipmon


def sdbm(text: str) -> int:
    """Icinga 2's Utility::SDBM (lib/base/utility.cpp), on a 64-bit unsigned long."""
    value = 0
    for char in text.encode():
        value = (char + (value << 6) + (value << 16) - value) & 0xFFFFFFFFFFFFFFFF
    return value


def authority(name: str, endpoints: Sequence[str]) -> str:
    """The endpoint of an HA zone that is active for the object
    (lib/remote/apilistener-authority.cpp: connected endpoints sorted by name)."""
    ordered = sorted(endpoints)
    return ordered[sdbm(name) % len(ordered)]


# ------------------------------------------------------------------ config

RECORDER_ENV = {
    "POP3_IPMON_STATE": '"$notification.vars.pop3_ipmon_state$"',
    "POP3_IPMON_ALERT": '"$notification.vars.pop3_ipmon_alert$"',
    "POP3_IPMON_FAILURES": '"$notification.vars.pop3_ipmon_failures$"',
}

NOTIFICATIONS = f"""\
object User "recorder" {{}}
apply Notification {string(NOTIFICATION)} to Service {{
  import "pop3-ipmon-notification"
  command = "pd-record"
  users = service.vars.pop3_ipmon_users
  assign where service.vars.pop3_ipmon_alerting
}}
"""


def service_block(host: str, service: str, port: int, extra: str = "") -> str:
    """A service as pop3_ipmon_config writes it (contrib/icinga2/pop3_ipmon_example.conf)."""
    return f"""\
object Service {string(service)} {{
  import "pop3-ipmon-service"
  host_name = {string(host)}
  display_name = {string("POP3 " + service)}
  vars.pop3_ipmon_up_interval = {UP}s
  check_interval = vars.pop3_ipmon_up_interval  // Up
  vars.pop3_ipmon_down_interval = {DOWN}s
  retry_interval = vars.pop3_ipmon_down_interval  // Down
  vars.pop3_ipmon_lost_interval = {LOST}s
  vars.pop3_ipmon_failures_per_alert = {F}
  max_check_attempts = vars.pop3_ipmon_failures_per_alert  // HARD (Down) at F
  vars.pop3_ipmon_max_alerts = {M}
  vars.pop3_ipmon_timeout = 2
  vars.pop3_ipmon_port = {port}
  vars.pop3_ipmon_users = [ "recorder" ]
{extra}}}
"""


def host_block(host: str) -> str:
    return (
        f'object Host {string(host)} {{\n  import "pop3-ipmon-host"\n  address = "127.0.0.1"\n}}\n'
    )


def write_global(cluster: Cluster, notes: Path) -> None:
    """The shipped templates, the test's recorder and (unless Debian's package
    brings it to every node) the commands, in the global zone."""
    commands = (CONTRIB / "pop3_ipmon_commands.conf").read_text()
    if PACKAGED_COMMANDS.exists():
        # As on a site with the package on every node: each node's stock
        # `include <plugins-contrib>` defines the CheckCommand, and a second copy
        # in the global zone would be a duplicate definition.
        assert PACKAGED_COMMANDS.read_text() == commands, (
            f"{PACKAGED_COMMANDS} (the installed package) is not this tree's "
            "contrib/icinga2/pop3_ipmon_commands.conf: reinstall or remove the package"
        )
    else:
        cluster.zone_file("global-templates", "pop3_ipmon_commands.conf", commands)
    name = "pop3_ipmon_templates.conf"
    cluster.zone_file("global-templates", name, (CONTRIB / name).read_text())
    cluster.zone_file(
        "global-templates",
        "recorder.conf",
        record_command("pd-record", pd_recorder.command(notes), RECORDER_ENV) + NOTIFICATIONS,
    )


# ------------------------------------------------------------------ observing


@dataclass
class Note:
    time: float
    node: str
    service: str
    type: str
    number: int  # the engine's $notification.notification_number$
    state: str
    alert: str
    failures: str


def notes_of(notes: Path, service: str, since: float = 0.0) -> list[Note]:
    return [
        Note(
            r["time"],
            r["fields"].get("node", ""),
            r["service"],
            r["type"],
            r["number"],
            r["env"].get("POP3_IPMON_STATE", ""),
            r["env"].get("POP3_IPMON_ALERT", ""),
            r["env"].get("POP3_IPMON_FAILURES", ""),
        )
        for r in pd_recorder.read(notes)
        if r["service"].split("!", 1)[-1] == service and r["time"] >= since
    ]


def results(node: Node, host: str, service: str, since: float = 0.0) -> list[dict[str, Any]]:
    """The check results the node saw (its own and relayed), in order, once each."""
    seen: dict[float, dict[str, Any]] = {}
    for result in node.check_results(host, service):
        if result["execution_start"] >= since:
            seen.setdefault(result["execution_start"], result)
    return [seen[start] for start in sorted(seen)]


def failures(node: Node, host: str, service: str, since: float) -> list[dict[str, Any]]:
    """The failed results after `since`, up to the first pass."""
    run: list[dict[str, Any]] = []
    for result in results(node, host, service, since):
        if result["state"] == 0:
            if run:
                break
            continue
        run.append(result)
    return run


def wait_ok(node: Node, host: str, service: str, count: int = 2, since: float = 0.0) -> None:
    poll(
        lambda: sum(r["state"] == 0 for r in results(node, host, service, since)) >= count,
        150,
        f"{count} passing checks of {host}!{service} on {node.name}",
    )


def wait_note(notes: Path, service: str, note: tuple[str, str], since: float, wait: float) -> Note:
    """Until the recorder has the notification (type, ipMonitor alert number)."""
    found: list[Note] = []

    def arrived() -> bool:
        found[:] = [n for n in notes_of(notes, service, since) if (n.type, n.alert) == note]
        return bool(found)

    poll(arrived, wait, f"{note[0]} {note[1]} of {service}")
    return found[0]


def timeline(k_alerts: int) -> list[tuple[str, str, str, str]]:
    """What ipMonitor sends for an outage of at least k_alerts*F failures, then
    a recovery: (type, state, alert, failures)."""
    problems = [("PROBLEM", "Down", str(k), str(k * F)) for k in range(1, k_alerts + 1)]
    return [*problems, ("RECOVERY", "Up", str(k_alerts), "0")]


def seen(notes: list[Note]) -> list[tuple[str, str, str, str]]:
    return [(n.type, n.state, n.alert, n.failures) for n in notes]


def assert_on_time(notes: list[Note], hard: float) -> list[float]:
    """PROBLEM k between (k-1)*F*Down after the HARD change and LATE later;
    the lateness of each, for the report."""
    late = []
    for k, note in enumerate((n for n in notes if n.type == "PROBLEM"), start=1):
        due = hard + (k - 1) * WINDOW
        assert due - 1 <= note.time <= due + LATE, (k, note.time - due)
        late.append(round(note.time - due, 1))
    return late


def assert_hard_at_failure_f(node: Node, host: str, service: str, since: float) -> float:
    """Icinga's own state: HARD CRITICAL from failure F (not 1), by its
    last_hard_state_change. Returns that time."""
    attrs = node.service(host, service)
    run = failures(node, host, service, since)
    assert len(run) > F, len(run)
    assert attrs["state"] == 2 and attrs["state_type"] == 1, attrs
    hard = float(attrs["last_hard_state_change"])
    assert run[F - 1]["execution_start"] <= hard < run[F]["execution_start"], (
        hard,
        [r["execution_start"] for r in run[: F + 1]],
    )
    return hard


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    built = Cluster(tmp_path / "cluster", plugin_dir=BIN)
    yield built
    built.stop()


def outage(
    dovecot: Dovecot,
    notes: Path,
    *,
    checkers: Sequence[Node],
    host: str,
    services: Sequence[str],
    alerts: int,
    midway: Optional[Any] = None,
) -> dict[str, Any]:
    """Stop Dovecot until every service has sent `alerts` alerts and (if all M)
    the time a further one would be due has passed; start it again and wait
    for the recoveries. `midway` runs after alert 1 of every service. The
    services' HARD state is asserted on each of `checkers` before the restart;
    the first one's last_hard_state_change is returned."""
    stopped = time.time()
    dovecot.stop()
    first = {s: wait_note(notes, s, ("PROBLEM", "1"), stopped, F * DOWN + 60) for s in services}
    if midway is not None:
        midway()
    for service in services:
        wait_note(notes, service, ("PROBLEM", str(alerts)), stopped, alerts * WINDOW + LATE + 60)
    if alerts == M:
        # Past the moment alert M+1 would be due, with the timer's lateness.
        last = max(n.time for n in first.values()) + M * WINDOW + LATE
        while time.time() < last:
            time.sleep(0.5)
    hard: dict[str, float] = {}
    for node in reversed(checkers):
        for service in services:
            poll(
                lambda n=node, s=service: len(failures(n, host, s, stopped)) > F,
                DOWN + 60,
                f"failure {F + 1} of {service} on {node.name}",
            )
            hard[service] = assert_hard_at_failure_f(node, host, service, stopped)
    dovecot.start()
    restarted = time.time()
    for service in services:
        wait_note(notes, service, ("RECOVERY", str(alerts)), stopped, UP + 60)
    return {"stopped": stopped, "restarted": restarted, "hard": hard}


# ------------------------------------------------------------------ (b)


def test_master_and_satellite(cluster: Cluster, dovecot: Dovecot, tmp_path: Path) -> None:
    began = time.monotonic()
    notes = tmp_path / "notifications.jsonl"
    master = cluster.master("master")
    satellite = cluster.child("satellite", zone="satellite", parent=[master])
    write_global(cluster, notes)
    host, service = "mail-sat", "pop3-sat"
    cluster.zone_file(
        "satellite", "services.conf", host_block(host) + service_block(host, service, dovecot.port)
    )
    # As node setup leaves them: notifications only where the master runs.
    assert "notification" in master.enabled_features()
    assert "notification" not in satellite.enabled_features()
    cluster.start()
    cluster.follow_events()
    cluster.wait_connected()
    satellite.wait_for_object("services", f"{host}!{service}")
    wait_ok(master, host, service)
    ready = time.monotonic()

    first = outage(
        dovecot, notes, checkers=[master, satellite], host=host, services=[service], alerts=M
    )
    got = notes_of(notes, service, first["stopped"])
    assert seen(got) == timeline(M), got
    assert {n.node for n in got} == {"master"}, got
    assert [n.number for n in got if n.type == "PROBLEM"] == list(range(1, M + 1))
    late = assert_on_time(got, first["hard"][service])
    # The check ran on the satellite.
    ran = failures(master, host, service, first["stopped"])
    assert {r["check_source"] for r in ran} == {"satellite"}, ran

    # Right after the recovery, a second outage: numbered from 1 again.
    second = outage(dovecot, notes, checkers=[master], host=host, services=[service], alerts=1)
    again = notes_of(notes, service, second["stopped"])
    assert seen(again) == timeline(1), again
    assert {n.node for n in again} == {"master"}, again
    # The engine's own number is not ipMonitor's: the OK result reset it and
    # the RECOVERY took 1 (why the templates compute the alert variable).
    assert [n.number for n in again] == [2, 1], again
    assert not pd_recorder.read(pd_recorder.refused_file(notes))
    print(
        f"\n(b) master + satellite: set up {ready - began:.0f} s, "
        f"total {time.monotonic() - began:.0f} s, alerts late by {late} s; "
        f"engine numbers {[n.number for n in got + again]}"
    )


# ------------------------------------------------------------------ (c)


def test_master_satellite_and_agent(cluster: Cluster, dovecot: Dovecot, tmp_path: Path) -> None:
    began = time.monotonic()
    notes = tmp_path / "notifications.jsonl"
    master = cluster.master("master")
    satellite = cluster.child("satellite", zone="satellite", parent=[master])
    agent = cluster.child("agent", zone="agent", parent=[satellite], signer=master)
    write_global(cluster, notes)
    host, service = "mail-agent", "pop3-agent"
    cluster.zone_file(
        "satellite",
        "services.conf",
        host_block(host)
        + service_block(host, service, dovecot.port, '  command_endpoint = "agent"\n'),
    )
    assert "notification" not in agent.enabled_features()
    cluster.start()
    cluster.follow_events()
    cluster.wait_connected()
    satellite.wait_for_object("services", f"{host}!{service}")
    # The agent holds no service, only the command (global zone) it runs.
    agent.wait_for_object("checkcommands", "pop3_ipmon")
    assert agent.object("services", f"{host}!{service}") is None
    wait_ok(master, host, service)
    ready = time.monotonic()

    first = outage(
        dovecot, notes, checkers=[master, satellite], host=host, services=[service], alerts=M
    )
    got = notes_of(notes, service, first["stopped"])
    assert seen(got) == timeline(M), got
    assert {n.node for n in got} == {"master"}, got
    assert [n.number for n in got if n.type == "PROBLEM"] == list(range(1, M + 1))
    late = assert_on_time(got, first["hard"][service])
    ran = results(master, host, service, first["stopped"])
    assert {r["check_source"] for r in ran} == {"agent"}, ran
    # The failures are the plugin's own (refused), not an UNKNOWN usage error
    # from an empty ITL fallback macro on the agent.
    assert {r["state"] for r in failures(master, host, service, first["stopped"])} == {2}
    assert not pd_recorder.read(pd_recorder.refused_file(notes))
    print(
        f"\n(c) master + satellite + agent: set up {ready - began:.0f} s, "
        f"total {time.monotonic() - began:.0f} s, alerts late by {late} s"
    )


# ------------------------------------------------------------------ (d)


def split_services(host: str, endpoints: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Two services: one checked by the first endpoint and notified by the
    second, one the other way round. name -> (Service's, Notification's authority)."""
    chosen: dict[tuple[str, str], str] = {}
    for number in range(1, 200):
        name = f"pop3-ha{number}"
        pair = (
            authority(f"{host}!{name}", endpoints),
            authority(f"{host}!{name}!{NOTIFICATION}", endpoints),
        )
        if pair[0] != pair[1]:
            chosen.setdefault(pair, name)
        if len(chosen) == 2:
            return {name: pair for pair, name in chosen.items()}
    raise AssertionError("no split services found")


def paused(node: Node, host: str, service: str) -> tuple[bool, bool]:
    attrs = node.object("services", f"{host}!{service}")
    note = node.object("notifications", f"{host}!{service}!{NOTIFICATION}")
    assert attrs is not None and note is not None
    return bool(attrs["paused"]), bool(note["paused"])


def test_ha_master_pair(cluster: Cluster, dovecot: Dovecot, tmp_path: Path) -> None:
    began = time.monotonic()
    notes = tmp_path / "notifications.jsonl"
    primary = cluster.master("master1")
    secondary = cluster.ha_master("master2", primary)
    # node setup --ticket leaves the notification feature off on the second
    # master; an HA zone needs it on both (contrib/README.md, distributed).
    assert "notification" not in secondary.enabled_features()
    secondary.feature("enable", "notification")
    write_global(cluster, notes)
    host = "mail-ha"
    services = split_services(host, ["master1", "master2"])
    cluster.zone_file(
        "master",
        "services.conf",
        host_block(host) + "".join(service_block(host, s, dovecot.port) for s in services),
    )
    cluster.start()
    cluster.follow_events()
    cluster.wait_connected()
    for service in services:
        secondary.wait_for_object("services", f"{host}!{service}")
    nodes = {"master1": primary, "master2": secondary}

    def split_as_computed() -> bool:
        try:
            return all(
                paused(node, host, s) == (checker != name, sender != name)
                for name, node in nodes.items()
                for s, (checker, sender) in services.items()
            )
        except (OSError, http.client.HTTPException):  # a reload after a config sync
            return False

    poll(split_as_computed, 90, "the HA authorities SDBM(name) % 2 gives", every=2)
    for service in services:
        wait_ok(secondary, host, service)
    ready = time.monotonic()

    def stop_primary() -> None:
        primary.close()

    run = outage(
        dovecot,
        notes,
        checkers=[secondary],
        host=host,
        services=list(services),
        alerts=M,
        midway=stop_primary,
    )
    late: dict[str, list[float]] = {}
    for service, (checker, sender) in services.items():
        got = notes_of(notes, service, run["stopped"])
        # Count, numbers and Lost go on on the survivor.
        assert seen(got) == timeline(M), (service, got)
        assert [n.node for n in got] == [sender] + ["master2"] * M, (service, got)
        late[service] = assert_on_time(got, run["hard"][service])
        ran = failures(secondary, host, service, run["stopped"])
        assert ran[0]["check_source"] == checker, ran
        assert ran[-1]["check_source"] == "master2", ran
        # The survivor holds both authorities now.
        assert paused(secondary, host, service) == (False, False)
    assert not pd_recorder.read(pd_recorder.refused_file(notes))
    print(
        f"\n(d) HA pair {services}: set up {ready - began:.0f} s, "
        f"total {time.monotonic() - began:.0f} s, alerts late by {late} s"
    )
