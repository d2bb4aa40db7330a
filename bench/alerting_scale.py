"""Benchmark: ipMonitor's alerting at scale, through a real Nagios 4 (issue 9, item 6).

Not a test (machines are noisy; nothing here passes or fails): it prints
figures. Run it as root from the repository root:

    tox -e bench-alerting                     # or, with the package installed:
    python bench/alerting_scale.py [--services 500] [--down 30] [--runs 60]

What it does, in one run:
  1. the handler's cost per failure: the installed pop3_ipmon_alert run as
     Nagios runs it (ocsp_command) for an outage of F=3, M=3 against a command
     FIFO that is read like Nagios reads it, one result after the other:
     wall time and CPU time (user+system, wait4) per failure;
  2. a mass outage in a real Nagios 4: N services from pop3_ipmon_config
     (F=1, M=2, the given Down interval, interval_length=1) whose POP3 port is
     closed, all failing from their first test at once. Alert 1 is Nagios' own
     PROBLEM at failure 1; alert 2 needs the handler's word, for every one of
     the N services, before its failure 2, one Down interval later. Prints
     how many services got alerts 1 and 2 with the right notification
     numbers, the latest alert relative to the failure that sent it, and
     whether every alert came within one Down interval of that failure;
  3. the cost per result, side by side (issue 18, item 6): CPU time (wait4,
     children included) per service per check interval against a real
     Dovecot, for check_pop in plain Nagios, check_pop3_ipmon in plain Nagios
     and check_pop3_ipmon with ipMonitor's alerting (the check plus the
     shipped ocsp_command line, run by /bin/sh as Nagios runs it), in the
     steady state (OK after OK: the shell front, no Python) and during an
     outage (port closed: every result runs the handler);
  4. the mass outage of part 2 again, under load: busy loops on half the
     cores, twice the time to wait for the alerts;
  5. Icinga 2, which needs no handler: the engine's CPU per check result and a
     mass outage of the same N services (bench/alerting_icinga2.py).

Children run with compiled bytecode, as an installed package has it
(PYTHONDONTWRITEBYTECODE is dropped and the package compiled first): without
it every run would compile the modules it imports.
"""

from __future__ import annotations

import argparse
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.integration import free_port  # noqa: E402
from tests.support.nagios import Nagios, main_settings, object_block  # noqa: E402

BIN = Path(sys.executable).parent
CONTRIB = ROOT / "contrib"
HOST = "mass"


def wait4(argv: Sequence[str]) -> tuple[float, float, int]:
    """Run argv once: wall seconds, CPU seconds (user+system), exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, process.returncode


class FifoReader:
    """Reads a command FIFO the way Nagios does, so writers never block."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.lines = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.lines += os.read(self.fd, 65536).count(b"\n")
                except BlockingIOError:  # no writer left: select says readable (EOF)
                    time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        os.close(self.fd)


def handler_cost(runs: int) -> None:
    """Part 1: the handler alone, per failure."""
    with tempfile.TemporaryDirectory(prefix="pop3-ipmon-bench-") as temp:
        work = Path(temp)
        (work / "nagios.cfg").write_text("interval_length=60\n")
        fifo = FifoReader(work / "nagios.cmd")
        walls, cpus = [], []
        base = int(time.time()) + 3600
        try:
            for failure in range(1, runs + 1):
                attempt = min(failure, 3)
                argv = [
                    str(BIN / "pop3_ipmon_alert"),
                    "nagios",
                    "--command-file",
                    str(work / "nagios.cmd"),
                    "--main-config",
                    str(work / "nagios.cfg"),
                    "--state-beside",
                    str(work / "retention.dat"),
                    "--log-file",
                    str(work / "handler.log"),
                    "--host",
                    "mail1",
                    "--service",
                    "POP3",
                    "--state",
                    "CRITICAL",
                    "--state-type",
                    "HARD" if failure >= 3 else "SOFT",
                    "--attempt",
                    str(attempt),
                    "--check-time",
                    str(base + failure * 60),
                    "--notification-number",
                    str(min(failure // 3, 3)),
                    "--failures-per-alert",
                    "3",
                    "--max-alerts",
                    "3",
                    "--up-interval",
                    "5",
                    "--down-interval",
                    "1",
                    "--lost-interval",
                    "15",
                ]
                wall, cpu, code = wait4(argv)
                if code != 0:
                    raise SystemExit(f"handler exited {code}: {(work / 'handler.log').read_text()}")
                walls.append(wall)
                cpus.append(cpu)
        finally:
            fifo.close()
    print(f"handler cost per failure ({runs} failures of one service, Nagios path):")
    print(
        f"  wall median {statistics.median(walls) * 1000:.0f} ms, "
        f"p95 {sorted(walls)[int(len(walls) * 0.95) - 1] * 1000:.0f} ms; "
        f"CPU median {statistics.median(cpus) * 1000:.0f} ms"
    )
    cores = os.cpu_count() or 1
    per = statistics.median(cpus)
    print(
        f"  500 failures at once: about {500 * per:.0f} s of CPU, "
        f"{500 * per / cores:.0f} s on this machine's {cores} core(s)"
    )


DEFINITION_HEAD = """\
[DEFAULT]
host = {host}
address = 127.0.0.1
port = {port}
timeout = 2
up_interval = 3600
down_interval = {down}
lost_interval = 3600
failures_per_alert = 1
max_alerts = 2
contacts = bench
"""


def mass_outage(services: int, down: int, patience: float = 1.0) -> None:
    """Part 2: N services failing at once in a real Nagios 4."""
    work = Path(tempfile.mkdtemp(prefix="pop3-ipmon-mass-"))
    if not work.name.startswith("pop3-ipmon-mass-"):  # only ever delete our own
        raise SystemExit(f"unexpected temporary directory {work}")
    try:
        _mass_outage(work, services, down, patience)
    finally:
        # Handler runs still in flight when Nagios stops may write for a while.
        time.sleep(5)
        shutil.rmtree(work, ignore_errors=True)


def _mass_outage(work: Path, services: int, down: int, patience: float) -> None:
    port = free_port()  # nothing listens: every test is refused, CRITICAL
    definition = work / "monitors.ini"
    sections = "".join(f"\n[s{n:04d}]\nname = mass outage {n}\n" for n in range(services))
    definition.write_text(DEFINITION_HEAD.format(host=HOST, port=port, down=down) + sections)
    generated = work / "services.cfg"
    subprocess.run(
        [
            str(BIN / "pop3_ipmon_config"),
            "nagios",
            str(definition),
            "-o",
            str(generated),
            "--interval-length",
            "1",
        ],
        check=True,
    )
    notes = work / "notes.txt"
    record = (
        f"/usr/bin/printf '%s %s %s %s\\n' $NOTIFICATIONTYPE$ $SERVICENOTIFICATIONNUMBER$"
        f" $SERVICEDESC$ $TIMET$ >> {notes}"
    )
    days = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    base = work / "base.cfg"
    base.write_text(
        object_block(
            "timeperiod",
            [("timeperiod_name", "24x7"), ("alias", "always")]
            + [(day, "00:00-24:00") for day in days],
        )
        + object_block("command", [("command_name", "bench-record"), ("command_line", record)])
        + object_block(
            "contact",
            [
                ("use", "pop3-ipmon-contact"),
                ("contact_name", "bench"),
                ("alias", "records"),
                ("service_notification_commands", "bench-record"),
                ("host_notification_commands", "bench-record"),
            ],
        )
    )
    files = [
        CONTRIB / "nagios" / "pop3_ipmon_commands.cfg",
        CONTRIB / "nagios" / "pop3_ipmon_templates.cfg",
        base,
        generated,
    ]
    settings = {
        **main_settings(CONTRIB / "nagios-main" / "pop3_ipmon_main.cfg"),
        "process_performance_data": "1",
        "service_perfdata_file": str(work / "perfdata"),
        "service_perfdata_file_template": "$LASTSERVICECHECK$\\t$SERVICEDESC$",
        "service_perfdata_file_mode": "a",
        "service_perfdata_file_processing_interval": "0",
    }
    nagios = Nagios(work / "nagios", files, resource={"USER1": str(BIN)}, settings=settings)
    started = time.time()
    nagios.start()
    try:
        deadline = started + (4 * down + 120) * patience
        while time.time() < deadline:
            if len(_notes(notes)) >= 2 * services:
                break
            time.sleep(1)
        elapsed = time.time() - started
    finally:
        nagios.stop()
    report(_notes(notes), _checks(work / "perfdata"), services, down, elapsed)
    handler_log = work / "nagios" / "var" / "pop3_ipmon.log"
    lines = handler_log.read_text().splitlines() if handler_log.exists() else []
    errors = [line for line in lines if " ERROR " in line]
    print(f"  handler runs logged: {len(lines)}, with errors: {len(errors)}")
    for line in errors[:3]:
        print(f"    {line}")
    killed = [line for line in nagios.log_lines() if "timed out" in line]
    print(f"  runs Nagios killed at ocsp_timeout or other timeouts: {len(killed)}")
    for line in killed[:3]:
        print(f"    {line[:160]}")
    sent = {service for kind, number, service, _ in _notes(notes) if number == 2}
    for service in sorted(set(_checks(work / "perfdata")) - sent)[:3]:
        mine = [line for line in lines if f"!{service}: " in line]
        print(f"  no alert 2 for {service}; its handler runs: {len(mine)}")
        for line in mine[:4]:
            print(f"    {line[:200]}")


def _notes(path: Path) -> list[tuple[str, int, str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], int(parts[1]), parts[2], int(parts[3])))
    return out


def _checks(path: Path) -> dict[str, list[int]]:
    checks: dict[str, list[int]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            when, _, service = line.partition("\t")
            checks.setdefault(service, []).append(int(when))
    return checks


def report(
    notes: list[tuple[str, int, str, int]],
    checks: dict[str, list[int]],
    services: int,
    down: int,
    elapsed: float,
) -> None:
    print(
        f"mass outage in Nagios 4: {services} services, F=1, M=2, Down {down} s "
        f"(handler on Python {platform.python_version()}), {elapsed:.0f} s"
    )
    late: list[float] = []
    got = {1: 0, 2: 0}
    on_time = {1: 0, 2: 0}
    within = 0
    for kind, number, service, when in notes:
        if kind != "PROBLEM" or number not in got:
            print(f"  unexpected notification: {kind} {number} {service}")
            continue
        got[number] += 1
        tests = checks.get(service, [])
        if len(tests) >= number:
            failure = tests[number - 1]  # failure k sends alert k (F=1)
            late.append(when - failure)
            within += when - failure < down
            # With the failure that was due, not a later one.
            on_time[number] += sum(t <= when for t in tests) == number
    print(
        f"  alert 1 (PROBLEM 1): {got[1]}/{services}, {on_time[1]} with failure 1; "
        f"alert 2 (PROBLEM 2): {got[2]}/{services}, {on_time[2]} with failure 2"
    )
    twice = sum(len(tests) >= 2 for tests in checks.values())
    print(f"  services Nagios tested a second time (failure 2): {twice}/{services}")
    if late:
        print(
            f"  alert after the failure that sent it: median {statistics.median(late):.0f} s, "
            f"max {max(late):.0f} s; within one Down interval: {within}/{len(late)}"
        )


# -- 3: the cost per result, side by side -----------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "check_pop3_ipmon")],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    return env


def cpu_of(argv: Sequence[str], env: dict[str, str]) -> float:
    """CPU seconds (user+system) of one run, its waited-for children included."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def ocsp_line(macros: dict[str, str]) -> str:
    """The shipped pop3-ipmon-alert command line, macros expanded as Nagios does."""
    text = (CONTRIB / "nagios" / "pop3_ipmon_commands.cfg").read_text()
    found = text.split("command_name    pop3-ipmon-alert", 1)[1]
    line = found.split("command_line", 1)[1].split("\n", 1)[0].strip()
    parts = line.split("$")
    out = [parts[0]]
    # Between two $: a macro name (replaced) or nothing ($$, a literal $).
    index = 1
    while index < len(parts) - 1:
        name = parts[index]
        out.append("$" if name == "" else macros.get(name, ""))
        out.append(parts[index + 1])
        index += 2
    out.extend(parts[index:])
    return "".join(out)


ROWS = (
    "check_pop, plain Nagios",
    "check_pop3_ipmon, plain Nagios",
    "check_pop3_ipmon, ipMonitor's alerting",
)
SETTINGS = {  # the service's custom variables, as Nagios' environment macros
    "NAGIOS__SERVICEPOP3_IPMON_FAILURES_PER_ALERT": "3",
    "NAGIOS__SERVICEPOP3_IPMON_MAX_ALERTS": "3",
    "NAGIOS__SERVICEPOP3_IPMON_UP_INTERVAL": "5",
    "NAGIOS__SERVICEPOP3_IPMON_DOWN_INTERVAL": "1",
    "NAGIOS__SERVICEPOP3_IPMON_LOST_INTERVAL": "15",
}


def ocsp_argv(work: Path, n: int, failing: bool, base: int) -> list[str]:
    """The ocsp_command for result n: OK after OK, or failure n of an outage."""
    state, last = ("CRITICAL", "CRITICAL") if failing else ("OK", "OK")
    macros = {
        "USER1": str(BIN),
        "COMMANDFILE": str(work / "nagios.cmd"),
        "MAINCONFIGFILE": str(work / "nagios.cfg"),
        "RETENTIONDATAFILE": str(work / "retention.dat"),
        "LOGFILE": str(work / "nagios.log"),
        "HOSTNAME": "mail1",
        "SERVICEDESC": "POP3",
        "SERVICESTATE": state,
        "LASTSERVICESTATE": last,
        "SERVICESTATETYPE": "HARD" if n >= 3 or not failing else "SOFT",
        "SERVICEATTEMPT": str(min(n, 3)) if failing else "1",
        "LASTSERVICECHECK": str(base + n * 60),
        "SERVICENOTIFICATIONNUMBER": str(min(n // 3, 3)) if failing else "0",
        "SERVICEDOWNTIME": "0",
        "HOSTDOWNTIME": "0",
        "STATUSDATAFILE": str(work / "status.dat"),
        "HOSTSTATE": "UP",
        "SERVICECHECKTYPE": "ACTIVE",
    }
    return ["/bin/sh", "-c", ocsp_line(macros)]


class Costs:
    """CPU seconds per row and column (0: steady state, 1: outage)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[float], list[float]]] = {r: ([], []) for r in ROWS}
        self.ocsp: tuple[list[float], list[float]] = ([], [])

    def median(self, row: str, column: int) -> float:
        return statistics.median(self.rows[row][column])


def measure(work: Path, port: int, runs: int, env: dict[str, str]) -> Costs:
    check_pop = Path("/usr/lib/nagios/plugins/check_pop")
    targets = (str(port), str(free_port()))  # Dovecot; nothing listening (refused)
    base = int(time.time()) + 3600
    costs = Costs()
    for n in range(1, runs + 1):  # interleaved: the machine's noise spread evenly
        for column, target in enumerate(targets):
            if check_pop.exists():
                argv = [str(check_pop), "-H", "127.0.0.1", "-p", target]
                costs.rows[ROWS[0]][column].append(cpu_of(argv, env))
            argv = [str(BIN / "check_pop3_ipmon"), "-H", "127.0.0.1", "-p", target]
            check = cpu_of(argv, env)
            costs.rows[ROWS[1]][column].append(check)
            # ipMonitor's state as the handler left it: Up while OK, then Warn, Down.
            phase = ("Up", "Warn" if n < 3 else "Down")[column]
            ocsp_env = {**env, **SETTINGS, "NAGIOS__SERVICEPOP3_IPMON_STATE": phase}
            ocsp = cpu_of(ocsp_argv(work, n, column == 1, base), ocsp_env)
            costs.ocsp[column].append(ocsp)
            costs.rows[ROWS[2]][column].append(check + ocsp)
    return costs


def per_result_cost(runs: int) -> None:
    """Part 3: CPU per service per check interval, plain Nagios against ours."""
    from tests.support.dovecot import Dovecot

    env = child_env()
    with tempfile.TemporaryDirectory(prefix="pop3-ipmon-cost-") as temp:
        work = Path(temp)
        (work / "nagios.cfg").write_text("interval_length=60\n")
        (work / "dovecot").mkdir()
        fifo = FifoReader(work / "nagios.cmd")
        dovecot = Dovecot(work / "dovecot")
        dovecot.start()
        try:
            costs = measure(work, dovecot.port, runs, env)
        finally:
            dovecot.stop()
            fifo.close()
        log = work / "pop3_ipmon.log"
        handled = len(log.read_text().splitlines()) if log.exists() else 0
    print(
        f"cost per result: CPU ms per service per check interval (median of {runs}; "
        "Dovecot on loopback; outage: port closed)"
    )
    print(f"  {'':40} {'steady state':>13} {'outage':>8}")
    for row in ROWS:
        if not costs.rows[row][0]:
            print(f"  {row:40} (check_pop not installed: monitoring-plugins-basic)")
            continue
        print(f"  {row:40} {costs.median(row, 0) * 1000:13.1f} {costs.median(row, 1) * 1000:8.1f}")
    front, handler = (statistics.median(c) for c in costs.ocsp)
    check_ok, check_down = costs.median(ROWS[1], 0), costs.median(ROWS[1], 1)
    print(
        f"  the ocsp_command alone: steady state {front * 1000:.1f} ms "
        f"({front / check_ok:.0%} of the check's CPU), outage {handler * 1000:.1f} ms "
        f"({handler / check_down:.0%}); handler runs logged: {handled} of {runs} failures"
    )


def under_load(services: int, down: int) -> None:
    """Part 4: the mass outage with half the cores kept busy by a loop each."""
    busy = max(1, (os.cpu_count() or 1) // 2)  # half the machine taken by other work
    loops = [subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"]) for _ in range(busy)]
    try:
        print(f"under load: {busy} busy loop(s), load {os.getloadavg()[0]:.1f} at the start")
        mass_outage(services, down, patience=2.0)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--down", type=int, default=30, help="Down interval, seconds")
    parser.add_argument("--runs", type=int, default=60, help="failures for the cost figure")
    parser.add_argument("--quick", action="store_true", help="CI's short run: 20 services, 10 s, 5")
    args = parser.parse_args(argv)
    if args.quick:  # tests/test_bench.py: the code path, not the figures
        args.services, args.down, args.runs = 20, 10, 5
    print(f"{platform.node()}: {os.cpu_count()} core(s), load {os.getloadavg()[0]:.1f}")
    os.environ.clear()
    os.environ.update(child_env())  # compiled bytecode for every child, Nagios' included
    handler_cost(args.runs)
    mass_outage(args.services, args.down)
    per_result_cost(args.runs)
    under_load(args.services, args.down)
    # Icinga 2 (issue 17): no handler there; the engine's own figures.
    import alerting_icinga2

    alerting_icinga2.main(["--quick"] if args.quick else ["--services", str(args.services)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
