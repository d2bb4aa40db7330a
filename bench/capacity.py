"""Capacity in a real engine: Icinga 2 runs N services per command against one Dovecot.

One Icinga 2 (tests/support/icinga2.py) holds N services for each command
compared, all with active checks off. In turn, each command's services are
switched on at a 1 s check interval; after a warm-up, the CPU that Icinga 2's
processes spent themselves and the CPU of the checks they reaped (cutime and
cstime in /proc: the plugins run as children of Icinga 2's spawn helper) are
read at the start and end of a window, and the check results that arrived in
it are counted on the API's event stream.

Services per core at a 5-minute interval = 300 s / CPU seconds per check,
with the engine's own share per check included, as a core must carry both.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common import PLUGINS, engine_cpu

from tests.support.icinga2 import Icinga2, string

INTERVAL_S = 1.0
WARM_UP_S = 3.0
PER_CORE_INTERVAL_S = 300.0


def _slug(index: int) -> str:
    return f"cmd{index}"


def _config(commands: Mapping[str, tuple[Sequence[str], Mapping[str, str]]], services: int) -> str:
    parts = [
        'object Host "bench" {\n  check_command = "dummy"\n  enable_active_checks = false\n}\n'
    ]
    for index, (argv, env) in enumerate(commands.values()):
        slug = _slug(index)
        command = ", ".join(string(arg) for arg in argv)
        # The checks get the benchmark's own environment for the CA store, the
        # rest of it being Icinga 2's (an engine's environment, not ours).
        wanted = {k: v for k, v in env.items() if k.startswith("SSL_CERT_")}
        env_block = "".join(f"    {k} = {string(v)}\n" for k, v in wanted.items())
        parts.append(
            f'object CheckCommand "{slug}" {{\n  command = [ {command} ]\n'
            f"  env = {{\n{env_block}  }}\n}}\n"
        )
        for number in range(services):
            parts.append(
                f'object Service "{slug}-{number}" {{\n'
                f'  host_name = "bench"\n  check_command = "{slug}"\n'
                f"  check_interval = {INTERVAL_S:g}s\n  retry_interval = {INTERVAL_S:g}s\n"
                "  max_check_attempts = 1\n  enable_active_checks = false\n"
                "  enable_notifications = false\n  enable_event_handler = false\n"
                "  enable_flapping = false\n  enable_perfdata = false\n"
                f'  vars.bench = "{slug}"\n}}\n'
            )
    return "".join(parts)


def _switch(icinga: Icinga2, slug: str, on: bool) -> None:
    selected = f"service.vars.bench == {json.dumps(slug)}"
    attrs = {"enable_active_checks": on}
    icinga.api("POST", "/v1/objects/services", {"filter": selected, "attrs": attrs})
    if on:
        icinga.api("POST", "/v1/actions/reschedule-check", {"type": "Service", "filter": selected})


def _results(icinga: Icinga2, slug: str, start: float, end: float) -> list[dict[str, Any]]:
    """The command's check results that ended in [start, end] (the engine's clock).

    By when a check ended, not when its event arrived: its CPU is counted
    when it is reaped, at its end."""
    return [
        event["check_result"]
        for event in list(icinga.events)
        if event.get("type") == "CheckResult"
        and event.get("service", "").startswith(slug + "-")
        and start <= event["check_result"]["execution_end"] <= end
    ]


def _measure(icinga: Icinga2, slug: str, seconds: float) -> tuple[int, float, float, list[Any]]:
    if icinga.process is None:
        raise RuntimeError("Icinga 2 is not running")
    session = icinga.process.pid
    _switch(icinga, slug, True)
    time.sleep(WARM_UP_S)
    own0, children0 = engine_cpu(session)
    start = time.time()
    time.sleep(seconds)
    own1, children1 = engine_cpu(session)
    end = time.time()
    _switch(icinga, slug, False)
    time.sleep(INTERVAL_S + 1.0)  # the last checks end, their events arrive
    results = _results(icinga, slug, start, end)
    return len(results), own1 - own0, children1 - children0, results


def capacity(
    commands: Mapping[str, tuple[Sequence[str], Mapping[str, str]]],
    workdir: Path,
    services: int,
    seconds: float,
) -> list[str]:
    engine_dir = workdir / "icinga2"
    engine_dir.mkdir()
    config = engine_dir / "bench.conf"
    config.write_text(_config(commands, services))
    # The ITL's command definitions read PluginDir (Debian's constants.conf).
    icinga = Icinga2(engine_dir, [config], constants={"PluginDir": str(PLUGINS)})
    icinga.start()
    lines = [
        f"3. Capacity in Icinga 2 ({services} services per command, {INTERVAL_S:g} s interval, "
        f"{seconds:g} s measured each after {WARM_UP_S:g} s; CPU from /proc)",
        f"   {'command':38} {'checks':>6} {'plugin cpu':>10} {'engine cpu':>10} "
        f"{'wall ms':>8} {'not OK':>6} {'services/core':>13}",
        f"   {'':38} {'':>6} {'s/1000':>10} {'s/1000':>10} {'median':>8} {'':>6} {'at 5 min':>13}",
    ]
    try:
        icinga.follow_events(("CheckResult",))
        for index, name in enumerate(commands):
            count, own, children, results = _measure(icinga, _slug(index), seconds)
            if not count:
                lines.append(f"   {name:38} no check results")
                continue
            plugin_cpu = children / count * 1000
            engine_cpu = own / count * 1000
            per_check = (children + own) / count
            per_core = PER_CORE_INTERVAL_S / per_check if per_check else float("inf")
            wall = statistics.median(
                (r["execution_end"] - r["execution_start"]) * 1000 for r in results
            )
            not_ok = sum(1 for r in results if r.get("exit_status") != 0)
            lines.append(
                f"   {name:38} {count:6d} {plugin_cpu:10.2f} {engine_cpu:10.2f} "
                f"{wall:8.1f} {not_ok:6d} {per_core:13,.0f}"
            )
    finally:
        icinga.stop()
    lines.append(
        "   plugin cpu: the checks' own user+system time; engine cpu: Icinga 2's own per check"
        " (scheduling, spawning, results); services/core counts both"
    )
    return lines
