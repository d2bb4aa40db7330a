"""Benchmark: ipMonitor's alerting in a real Icinga 2 (issue 17, item 6).

Not a test: it prints figures. Run as root from the repository root (or
through bench/alerting_scale.py, which calls it after its Nagios figures):

    python bench/alerting_icinga2.py [--services 500] [--down 30] [--quick]

On Icinga 2 there is no handler: the engine sends ipMonitor's alerts on its
own (contrib/icinga2/pop3_ipmon_templates.conf), so "the handler's cost per
result" is the engine's own. Two parts:

  1. the engine's CPU per check result: Icinga 2's processes' own
     user+system time (/proc, its session; the plugins' time, which it
     reaps, apart) over a window, divided by the results in it, for N
     ipMonitor services (pop3_ipmon_config's, with the shipped templates and
     a Notification importing pop3-ipmon-notification) and for N plain
     check_pop services (the ITL's `pop`, a plain Notification), all
     failing against a closed port, 2 s apart;
  2. a mass outage: N ipMonitor services (F, M, Down as given) whose POP3
     port is closed, all tested at once (reschedule-check). PROBLEM k is
     due at ipMonitor's failure kF: the HARD change (failure F, Icinga 2's
     last_hard_state_change) plus (k-1) x F x Down. Prints how many
     PROBLEM k arrived within one Down interval of it, how late, and any
     PROBLEM past M (Lost must stop them). On one node; with --cluster
     (and the cluster harness of tests/support/icinga2_cluster.py) on a
     master + satellite as `icinga2 node setup` leaves them, the services
     checked on the satellite and notified by the master.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import engine_cpu  # noqa: E402

from tests.support.icinga2 import Icinga2, string  # noqa: E402
from tests.support.integration import free_port  # noqa: E402

BIN = Path(sys.executable).parent
CONTRIB = ROOT / "contrib" / "icinga2"
PLUGINS = Path("/usr/lib/nagios/plugins")
HOST = "mass"
COST_INTERVAL = 2

DEFINITION = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 1
up_interval = {up}
down_interval = {down}
lost_interval = 3600
failures_per_alert = {f}
max_alerts = {m}
contacts = bench
"""

# Appends one line per notification: what it was, for which service, when it
# ran, the engine's number and the template's alert number.
RECORDER = """\
#!/bin/sh
printf '%s %s %s %s %s\\n' "$T" "$S" "$(date +%s.%N)" "$N" "${A:--}" >> "$F"
"""
RECORD = """\
object NotificationCommand "bench-record" {{
  command = [ {recorder} ]
  env = {{
    T = "$notification.type$"
    S = "$service.name$"
    N = "$notification.notification_number$"
    A = "$notification.vars.pop3_ipmon_alert$"
    F = {notes}
  }}
}}
object User "bench" {{}}
apply Notification "bench" to Service {{
  import "pop3-ipmon-notification"
  command = "bench-record"
  users = [ "bench" ]
  assign where service.vars.pop3_ipmon_alerting == true
}}
"""


def record_config(work: Path) -> str:
    recorder = work / "record.sh"
    recorder.write_text(RECORDER)
    recorder.chmod(0o755)
    return RECORD.format(recorder=string(str(recorder)), notes=string(str(work / "notes.txt")))


def scratch(prefix: str) -> Path:
    """A temporary directory of ours (the only kind the bench ever deletes)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if not work.name.startswith(prefix):
        raise SystemExit(f"unexpected temporary directory {work}")
    return work


def generate(work: Path, services: int, *, port: int, up: int, down: int, f: int, m: int) -> Path:
    definition = work / "monitors.ini"
    sections = "".join(f"\n[s{n:04d}]\nname = mass outage {n}\n" for n in range(services))
    head = DEFINITION.format(host=HOST, port=port, up=up, down=down, f=f, m=m)
    definition.write_text(head + sections)
    generated = work / "services.conf"
    subprocess.run(
        [str(BIN / "pop3_ipmon_config"), "icinga2", str(definition), "-o", str(generated)],
        check=True,
    )
    return generated


def notes(path: Path) -> list[tuple[str, str, float, int, str]]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 5:
                out.append((parts[0], parts[1], float(parts[2]), int(parts[3]), parts[4]))
    return out


def _switch(icinga: Any, selected: str, on: bool) -> None:
    icinga.api(
        "POST", "/v1/objects/services", {"filter": selected, "attrs": {"enable_active_checks": on}}
    )
    if on:
        body = {"type": "Service", "filter": selected, "force": True}
        icinga.api("POST", "/v1/actions/reschedule-check", body)


def engine_cost(services: int, seconds: float) -> list[str]:
    """Part 1: the engine's own CPU per check result, ipMonitor's services against check_pop."""
    work = scratch("pop3-ipmon-i2cost-")
    try:
        port = free_port()  # nothing listens: every test is refused
        generated = generate(
            work, services, port=port, up=COST_INTERVAL, down=COST_INTERVAL, f=1, m=3
        )
        text = generated.read_text().replace(
            "  enable_active_checks = true", "  enable_active_checks = false"
        )
        generated.write_text(text)
        plain = "".join(
            f'object Service "plain{n:04d}" {{\n  host_name = "{HOST}"\n'
            '  check_command = "pop"\n  vars.pop_address = "127.0.0.1"\n'
            f"  vars.pop_port = {port}\n  vars.pop_timeout = 1\n"
            f"  check_interval = {COST_INTERVAL}s\n  retry_interval = {COST_INTERVAL}s\n"
            "  max_check_attempts = 1\n  enable_active_checks = false\n"
            '  vars.bench = "plain"\n}\n'
            for n in range(services)
        )
        extra = work / "bench.conf"
        extra.write_text(
            record_config(work)
            + plain
            + 'apply Notification "plain" to Service {\n  command = "bench-record"\n'
            '  users = [ "bench" ]\n  assign where service.vars.bench == "plain"\n}\n'
        )
        files = [
            CONTRIB / "pop3_ipmon_commands.conf",
            CONTRIB / "pop3_ipmon_templates.conf",
            generated,
            extra,
        ]
        constants = {"PluginDir": str(PLUGINS), "PluginContribDir": str(BIN)}
        icinga = Icinga2(work / "icinga2", files, constants=constants)
        icinga.start()
        figures = {}
        try:
            icinga.follow_events(("CheckResult",))
            for group, selected in (
                ("ipMonitor (check_pop3_ipmon, templates)", "service.vars.pop3_ipmon_alerting"),
                ("plain check_pop (ITL pop)", 'service.vars.bench == "plain"'),
            ):
                if icinga.process is None:
                    raise SystemExit("Icinga 2 is not running")
                before = len(notes(work / "notes.txt"))
                own0, children0 = engine_cpu(icinga.process.pid)
                start = time.time()
                _switch(icinga, selected, True)
                time.sleep(seconds)
                _switch(icinga, selected, False)
                own1, children1 = engine_cpu(icinga.process.pid)
                end = time.time()
                time.sleep(COST_INTERVAL + 1)
                prefix = "s" if group.startswith("ipMonitor") else "plain"
                results = [
                    e
                    for e in list(icinga.events)
                    if e.get("type") == "CheckResult"
                    and str(e.get("service", "")).startswith(prefix)
                    and start <= e["check_result"]["execution_end"] <= end
                ]
                sent = len(notes(work / "notes.txt")) - before
                figures[group] = (len(results), own1 - own0, children1 - children0, sent)
        finally:
            icinga.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Icinga 2, engine CPU per check result ({services} services each, failing, "
        f"{COST_INTERVAL} s apart, {seconds:g} s each; CPU from /proc):",
        f"  {'services':40} {'results':>7} {'engine ms':>9} {'plugin ms':>9} {'notified':>8}",
    ]
    for group, (count, own, children, sent) in figures.items():
        if not count:
            lines.append(f"  {group:40} no check results")
            continue
        lines.append(
            f"  {group:40} {count:7d} {own / count * 1000:9.2f} "
            f"{children / count * 1000:9.2f} {sent:8d}"
        )
    lines.append(
        "  no handler runs on Icinga 2: engine ms is the engine's own work per result "
        "(scheduling, spawning, the result, notifications); plugin ms the check's"
    )
    return lines


def report(
    sent: list[tuple[str, str, float, int, str]],
    hard: dict[str, float],
    *,
    services: int,
    f: int,
    m: int,
    down: int,
) -> list[str]:
    every = f * down
    by_service: dict[str, list[float]] = {}
    extra: list[str] = []
    for kind, service, when, _number, _alert in sorted(sent, key=lambda n: n[2]):
        if kind != "PROBLEM":
            extra.append(f"{kind} {service}")
            continue
        by_service.setdefault(service, []).append(when)
    lines = []
    for k in range(1, m + 1):
        late = []
        for service, times in by_service.items():
            if len(times) >= k and service in hard:
                late.append(times[k - 1] - (hard[service] + (k - 1) * every))
        within = sum(0 <= x < down for x in late)
        early = sum(x < 0 for x in late)
        figures = (
            f"late median {statistics.median(late):.1f} s, max {max(late):.1f} s"
            if late
            else "none"
        )
        lines.append(
            f"  PROBLEM {k}: {len(late)}/{services} sent, {within}/{services} within one Down "
            f"interval ({down} s) of failure {k * f}; {figures}"
            + (f"; {early} early" if early else "")
        )
    past = sum(max(0, len(times) - m) for times in by_service.values())
    lines.append(f"  PROBLEM past alert {m} (Lost must stop them): {past}")
    # What the odd ones got: each PROBLEM's time from the HARD change, the
    # engine's number and the template's alert number.
    odd = [
        service
        for service, times in by_service.items()
        if len(times) != m
        or service not in hard
        or any(when < hard[service] + (k - 1) * every for k, when in enumerate(times, 1))
    ]
    for service in sorted(odd)[:3]:
        base = hard.get(service, 0.0)
        got = [
            f"{when - base:+.1f}s #{number} alert {alert}"
            for kind, name, when, number, alert in sorted(sent, key=lambda n: n[2])
            if name == service and kind == "PROBLEM"
        ]
        lines.append(f"    {service}: " + ", ".join(got))
    if extra:
        lines.append(f"  other notifications: {len(extra)}, e.g. {extra[0]}")
    return lines


def mass_outage(services: int, down: int, f: int, m: int) -> list[str]:
    """Part 2 on one node."""
    work = scratch("pop3-ipmon-i2mass-")
    every = f * down
    try:
        generated = generate(work, services, port=free_port(), up=3600, down=down, f=f, m=m)
        record = work / "record.conf"
        record.write_text(record_config(work))
        files = [
            CONTRIB / "pop3_ipmon_commands.conf",
            CONTRIB / "pop3_ipmon_templates.conf",
            generated,
            record,
        ]
        constants = {"PluginDir": str(PLUGINS), "PluginContribDir": str(BIN)}
        icinga = Icinga2(work / "icinga2", files, constants=constants)
        icinga.start()
        started = time.time()
        try:
            # All at once: the first tests would spread over the Up interval.
            _switch(icinga, "service.vars.pop3_ipmon_alerting", True)
            # The HARD change after F-1 retries, M alerts F x Down apart, then
            # one more F x Down to see that nothing follows.
            deadline = started + (f - 1) * down + m * every + 2 * down + 30
            while time.time() < deadline:
                sent = notes(work / "notes.txt")
                if (
                    len(sent) >= m * services
                    and time.time() > started + (f - 1) * down + (m * every) + down
                ):
                    break
                time.sleep(1)
            elapsed = time.time() - started
            answer = icinga.api(
                "GET",
                "/v1/objects/services",
                {"attrs": ["name", "last_hard_state_change", "state_type"]},
            )
        finally:
            icinga.stop()
        hard = {
            r["attrs"]["name"]: float(r["attrs"]["last_hard_state_change"])
            for r in answer["results"]
            if r["attrs"]["state_type"] == 1
        }
        sent = notes(work / "notes.txt")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Icinga 2 mass outage, one node: {services} services, F={f}, M={m}, Down {down} s, "
        f"{elapsed:.0f} s; HARD: {len(hard)}/{services}"
    ]
    return lines + report(sent, hard, services=services, f=f, m=m, down=down)


def mass_outage_cluster(services: int, down: int, f: int, m: int) -> list[str]:
    """Part 2 on a master + satellite: checked on the satellite, notified by the master."""
    from tests.support.icinga2_cluster import Cluster

    work = scratch("pop3-ipmon-i2cluster-")
    every = f * down
    cluster = None
    try:
        generated = generate(work, services, port=free_port(), up=3600, down=down, f=f, m=m)
        # The PerfdataWriter is each node's own feature, not a zone's object.
        text = generated.read_text()
        services_text = text.split("/* Store Monitor Statistics", 1)[0]
        cluster = Cluster(work / "cluster", plugin_dir=BIN)
        master = cluster.master("master1")
        satellite = cluster.child("satellite1", zone="satellite", parent=[master])
        record, _, rule = record_config(work).partition('apply Notification "bench"')
        for name in ("pop3_ipmon_commands.conf", "pop3_ipmon_templates.conf"):
            cluster.zone_file("global-templates", name, (CONTRIB / name).read_text())
        cluster.zone_file("global-templates", "record.conf", record)
        cluster.zone_file(
            "satellite", "services.conf", services_text + 'apply Notification "bench"' + rule
        )
        cluster.start()
        cluster.wait_connected()
        last = f"{HOST}!s{services - 1:04d}"
        for node in (satellite, master):
            for attempt in range(3):  # a node reloading after the sync may refuse a moment
                try:
                    node.wait_for_object("services", last)
                    break
                except OSError:
                    if attempt == 2:
                        raise
                    time.sleep(5)
        time.sleep(5)  # the satellite's reload after the sync settles
        started = time.time()
        satellite.api(
            "POST",
            "/v1/actions/reschedule-check",
            {"type": "Service", "filter": "service.vars.pop3_ipmon_alerting", "force": True},
        )
        deadline = started + (f - 1) * down + m * every + 2 * down + 30
        while time.time() < deadline:
            if (
                len(notes(work / "notes.txt")) >= m * services
                and time.time() > started + (f - 1) * down + m * every + down
            ):
                break
            time.sleep(1)
        elapsed = time.time() - started
        answer = master.api(
            "GET",
            "/v1/objects/services",
            {"attrs": ["name", "last_hard_state_change", "state_type"]},
        )
        senders = {
            node.name: len(node.log_lines("Completed sending 'Problem'"))
            for node in (master, satellite)
        }
    finally:
        if cluster is not None:
            cluster.stop()
        sent = notes(work / "notes.txt")
        shutil.rmtree(work, ignore_errors=True)
    hard = {
        r["attrs"]["name"]: float(r["attrs"]["last_hard_state_change"])
        for r in answer["results"]
        if r["attrs"]["state_type"] == 1
    }
    lines = [
        f"Icinga 2 mass outage, master + satellite (node setup; checked on the satellite, "
        f"notified by the master): {services} services, F={f}, M={m}, Down {down} s, "
        f"{elapsed:.0f} s; HARD on the master: {len(hard)}/{services}; Problem sends logged: "
        + ", ".join(f"{name} {count}" for name, count in senders.items())
    ]
    return lines + report(sent, hard, services=services, f=f, m=m, down=down)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500, help="in the mass outage")
    # 30 s as the Nagios part: 500 Python checks every 10 s would need ~5 cores.
    parser.add_argument("--down", type=int, default=30, help="Down interval, seconds")
    parser.add_argument("--failures", type=int, default=3, help="F")
    parser.add_argument("--alerts", type=int, default=3, help="M")
    parser.add_argument("--cost-services", type=int, default=50, help="0: skip part 1")
    parser.add_argument("--cost-seconds", type=float, default=30)
    parser.add_argument(
        "--topology",
        choices=("one", "cluster", "both", "none"),
        default="both",
        help="of the outage (none: part 1 only)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI's short run: 20 services, F=1, M=2, one node; 10 services for the cost",
    )
    args = parser.parse_args(argv)
    if args.quick:  # the code path, not the figures
        args.services, args.failures, args.alerts, args.down = 20, 1, 2, 10
        args.cost_services, args.cost_seconds = 10, 8
        args.topology = "one"
    print(f"{platform.node()}: {os.cpu_count()} core(s), load {os.getloadavg()[0]:.1f}")
    if args.cost_services > 0:  # 0: the outage only
        for line in engine_cost(args.cost_services, args.cost_seconds):
            print(line, flush=True)
    outage = (args.services, args.down, args.failures, args.alerts)
    if args.topology in ("one", "both"):
        for line in mass_outage(*outage):
            print(line, flush=True)
    if args.topology in ("cluster", "both"):
        try:
            lines = mass_outage_cluster(*outage)
        except (OSError, RuntimeError, AssertionError) as exc:
            # A bench prints what it could not measure, in one line.
            lines = [f"Icinga 2 mass outage, master + satellite: not measured: {exc}"[:400]]
        for line in lines:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
