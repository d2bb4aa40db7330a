"""Benchmark: check_pop3_ipmon against check_pop/check_spop and its own stack's floor.

Not a test (machines are noisy; nothing here passes or fails): it prints
figures. Run it as root (Dovecot, Icinga 2) from the repository root:

    tox -e bench                  # or, with the package installed:
    python bench/bench.py [--quick] [--reps N] [--engine-seconds S] [--services N]

What it does, in one run (about 6 minutes; --quick about 2), after starting
Dovecot on loopback (plaintext and implicit TLS; its certificate from a trustme
CA that is added to a copy of this machine's CA store):
  1. runs, interleaved round by round, /bin/true, `python -c pass`, the floor
     `python -c "import nagiosplugin"`, check_pop3_ipmon (plaintext; TLS
     verified against the system CA store, with --ca-file, with --insecure)
     and monitoring-plugins' check_pop/check_spop: median wall time, CPU time
     (user+system from wait4) and peak memory; the goals;
  2. where the milliseconds of a plaintext and of a verified TLS check go,
     step by step in fresh interpreters (bench/breakdown.py);
  3. a real Icinga 2 running N services per command at a 1 s interval: CPU
     seconds per 1000 checks and services per core at a 5-minute interval
     (bench/capacity.py);
  4. --all-addresses against a name with 4 addresses (bench/all_addresses.py);
  5. a fake server that delays its greeting by known amounts: the plugin's
     reported `time` and `greeting_time` against the delay (accuracy);
  6. a fake server that never greets: how long after -t the plugin returns;
  7. python -X importtime of a plaintext check: what it imports beyond the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CA_VARIABLES,
    HOSTNAME,
    PLUGINS,
    ROOT,
    Sample,
    check_env,
    copy_system_store,
    machine,
    median_ms,
    spawn,
    store_size,
)

from tests.support.dovecot import Dovecot, TLSFiles
from tests.support.fakepop3 import FakePOP3

GNU_TIME = "/usr/bin/time"
GOALS = {"overhead_ms": 10.0, "tls_ms": 15.0, "accuracy_ms": 2.0, "timeout_s": 0.2}
FLOOR = "floor: python -c 'import nagiosplugin'"
PLAIN = "check_pop3_ipmon plaintext"
TLS_SYSTEM = "check_pop3_ipmon -S, system CA store"
IN_ENGINE = (
    "/bin/true",
    FLOOR,
    PLAIN,
    TLS_SYSTEM,
    "check_pop plaintext",
    "check_spop (no verification)",
)


def peak_memory_kib(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """The command's own peak RSS. ru_maxrss survives exec(), so it must be forked
    from a small process, not from this one."""
    if os.access(GNU_TIME, os.X_OK):
        proc = subprocess.run(
            [GNU_TIME, "-f", "%M", *argv], capture_output=True, text=True, check=False, env=env
        )
        return int(proc.stderr.strip().splitlines()[-1])
    helper = ROOT / "tests" / "support" / "maxrss.py"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "maxrss"
        subprocess.run(
            [sys.executable, "-I", "-S", str(helper), str(report), *argv],
            capture_output=True,
            check=False,
            env=env,
        )
        return int(report.read_text())


def perf(stdout: bytes, label: str) -> float:
    match = re.search(rf"\b{label}=([0-9.]+)s", stdout.decode(errors="replace"))
    if not match:
        raise RuntimeError(f"no {label} in {stdout!r}")
    return float(match[1])


def versions(plugin: str) -> list[str]:
    import nagiosplugin

    line = f"nagiosplugin {getattr(nagiosplugin, '__version__', '?')}"
    version = subprocess.run([plugin, "-V"], capture_output=True, text=True, check=False)
    line += f", {version.stdout.strip()}"
    check_pop = PLUGINS / "check_pop"
    if check_pop.exists():
        out = subprocess.run(
            [str(check_pop), "-V"], capture_output=True, text=True, check=False
        ).stdout
        line += f", check_pop {out.strip()}"
    return [line]


class Setup:
    """Dovecot with a certificate from a CA that a copy of the system store trusts."""

    def __init__(self, workdir: Path, plugin: str) -> None:
        import trustme

        self.plugin = plugin
        ca = trustme.CA()
        cert = ca.issue_cert(HOSTNAME, "127.0.0.1")
        chain, key = workdir / "chain.pem", workdir / "key.pem"
        self.ca_file = workdir / "ca.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.env = check_env()
        self.store_env = {**self.env, **copy_system_store(workdir, ca.cert_pem.bytes())}
        server_dir = workdir / "dovecot"
        server_dir.mkdir()
        self.dovecot = Dovecot(server_dir, tls=TLSFiles(chain, key))
        self.dovecot.start()

    def commands(self) -> dict[str, tuple[list[str], Mapping[str, str]]]:
        """name -> (argv, environment) of every command compared."""
        py, plugin, env = sys.executable, self.plugin, self.env
        port, tls_port = str(self.dovecot.port), str(self.dovecot.tls_port)
        tls = [plugin, "-H", "127.0.0.1", "-p", tls_port, "-S"]
        commands: dict[str, tuple[list[str], Mapping[str, str]]] = {
            "/bin/true": (["/bin/true"], env),
            "python -c pass": ([py, "-c", "pass"], env),
            FLOOR: ([py, "-c", "import nagiosplugin"], env),
            PLAIN: ([plugin, "-H", "127.0.0.1", "-p", port], env),
            TLS_SYSTEM: ([*tls, "--sni", HOSTNAME], self.store_env),
            "check_pop3_ipmon -S --ca-file": (
                [*tls, "--sni", HOSTNAME, "--ca-file", str(self.ca_file)],
                env,
            ),
            "check_pop3_ipmon -S --insecure": ([*tls, "--insecure"], env),
        }
        if (PLUGINS / "check_pop").exists():
            check_pop = [str(PLUGINS / "check_pop"), "-H", "127.0.0.1"]
            commands["check_pop plaintext"] = ([*check_pop, "-p", port], env)
            commands["check_spop (no verification)"] = (
                [str(PLUGINS / "check_spop"), "-H", "127.0.0.1", "-p", tls_port],
                env,
            )
        return commands

    def stop(self) -> None:
        self.dovecot.stop()


# -- 2: side by side against Dovecot --------------------------------------------


def side_by_side(setup: Setup, reps: int) -> list[str]:
    commands = setup.commands()
    for name, (argv, env) in commands.items():  # warm up caches, and fail early
        sample = spawn(argv, env)
        if sample.code != 0:
            raise RuntimeError(f"{name} exited {sample.code}: {sample.stdout!r}")
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for _ in range(reps):  # round by round, so drifting load hits every command alike
        for name, (argv, env) in commands.items():
            samples[name].append(spawn(argv, env))
    memory = {
        name: statistics.median(peak_memory_kib(argv, env) for _ in range(5))
        for name, (argv, env) in commands.items()
    }
    wall = {name: median_ms([s.wall for s in runs]) for name, runs in samples.items()}
    cpu = {name: median_ms([s.cpu for s in runs]) for name, runs in samples.items()}
    floor = wall[FLOOR]
    lines = [
        f"1. Side by side against Dovecot on loopback, {reps} runs each, interleaved; medians",
        f"   {'command':38} {'wall ms':>8} {'p90 ms':>8} {'cpu ms':>8} {'peak MiB':>9}"
        f" {'- floor':>8}",
    ]
    for name in commands:
        walls = sorted(s.wall * 1000 for s in samples[name])
        p90 = walls[int(len(walls) * 0.9) - 1]
        lines.append(
            f"   {name:38} {wall[name]:8.1f} {p90:8.1f} {cpu[name]:8.1f} "
            f"{memory[name] / 1024:9.1f} {wall[name] - floor:+8.1f}"
        )
    lines.append(
        f"   (system CA store: a copy of this machine's, {store_size(setup.store_env)} "
        "certificates, Debian's layout; check_spop verifies nothing)"
    )
    lines.append(store_use(setup))
    phases = {
        label: statistics.median(perf(s.stdout, label) * 1000 for s in samples[PLAIN])
        for label in ("time", "connect_time", "greeting_time", "quit_time")
    }
    lines.append(
        f"   the plaintext check's own `time` (the POP3 exchange, Dovecot's latency included): "
        f"{phases['time']:.1f} ms = connect {phases['connect_time']:.1f} + greeting "
        f"{phases['greeting_time']:.1f} + QUIT {phases['quit_time']:.1f} + the rest"
    )
    # Goals on each round's own difference, then the median: load that comes
    # and goes over the run hits the commands of one round alike.
    plain, floor_runs, tls_runs = samples[PLAIN], samples[FLOOR], samples[TLS_SYSTEM]
    own = statistics.median(
        (p.wall - f.wall - perf(p.stdout, "time")) * 1000 for p, f in zip(plain, floor_runs)
    )
    own_cpu = statistics.median((p.cpu - f.cpu) * 1000 for p, f in zip(plain, floor_runs))
    lines.append(
        f"   goal: plaintext check's own cost over the floor <= {GOALS['overhead_ms']:g} ms"
        f" (medians of each round's difference): wall - exchange {verdict(own, 'overhead_ms')};"
        f" cpu {verdict(own_cpu, 'overhead_ms')} (the exchange's own included)"
    )
    tls_over = statistics.median((t.wall - p.wall) * 1000 for t, p in zip(tls_runs, plain))
    tls_cpu = statistics.median((t.cpu - p.cpu) * 1000 for t, p in zip(tls_runs, plain))
    lines.append(
        f"   goal: verified TLS against the system CA store <= plaintext + {GOALS['tls_ms']:g}"
        f" ms (the same way): wall {verdict(tls_over, 'tls_ms')}; cpu {verdict(tls_cpu, 'tls_ms')}"
    )
    noise = [
        statistics.median(s.wall * 1000 for s in samples[FLOOR][i : i + 10])
        for i in range(0, reps - 9, 10)
    ]
    if len(noise) > 1:
        lines.append(
            f"   noise: the floor's median over each 10 rounds ranged "
            f"{min(noise):.1f}-{max(noise):.1f} ms"
        )
    return lines


STORE_USE = """
import socket, ssl, sys
from check_pop3_ipmon.check import castore
context = castore.system_context()
before = context.cert_store_stats()["x509"]
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
context.wrap_socket(sock, server_hostname=sys.argv[2]).close()
after = context.cert_store_stats()["x509"]
print(before, after, ssl.create_default_context().cert_store_stats()["x509"])
"""


def store_use(setup: Setup) -> str:
    """How many certificates a verified handshake made OpenSSL parse."""
    argv = [sys.executable, "-c", STORE_USE, str(setup.dovecot.tls_port), HOSTNAME]
    out = subprocess.run(argv, env=setup.store_env, capture_output=True, text=True, check=True)
    before, after, stock = out.stdout.split()
    return (
        f"   certificates parsed for a verified handshake: {before} before it, {after} after it"
        f" (the issuer); create_default_context() parses {stock} up front"
    )


def verdict(value: float, goal: str) -> str:
    return f"{value:+.1f} ms -> {'met' if value <= GOALS[goal] else 'MISSED'}"


# -- 3: where the milliseconds go -----------------------------------------------


def breakdown(setup: Setup, reps: int) -> list[str]:
    helper = str(Path(__file__).with_name("breakdown.py"))
    port, tls_port = str(setup.dovecot.port), str(setup.dovecot.tls_port)
    cases = {
        "plaintext": ([helper, "-H", "127.0.0.1", "-p", port], setup.env),
        "-S, system store": (
            [helper, "-H", "127.0.0.1", "-p", tls_port, "-S", "--sni", HOSTNAME],
            setup.store_env,
        ),
    }
    floor_argv, floor_env = setup.commands()[FLOOR]
    steps: dict[str, dict[str, list[float]]] = {name: {} for name in cases}
    walls: dict[str, list[float]] = {name: [] for name in [*cases, "floor"]}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "steps.json"
        for _ in range(reps):
            walls["floor"].append(spawn(floor_argv, floor_env).wall)
            for name, (args, env) in cases.items():
                sample = spawn([sys.executable, args[0], str(out), *args[1:]], env)
                if sample.code != 0:
                    raise RuntimeError(f"breakdown {name}: {sample.stdout!r}")
                walls[name].append(sample.wall)
                for step, ms in json.loads(out.read_text()).items():
                    steps[name].setdefault(step, []).append(ms)
    medians = {
        name: {step: statistics.median(v) for step, v in found.items() if step != "code"}
        for name, found in steps.items()
    }
    order = list(dict.fromkeys(step for found in medians.values() for step in found))
    lines = [
        f"2. Where the milliseconds go: one check in a fresh interpreter, timed step by step "
        f"(bench/breakdown.py, {reps} runs, medians, ms)",
        f"   {'step':52} " + " ".join(f"{name:>16}" for name in cases),
    ]
    for step in order:
        cells = [
            f"{medians[name][step]:16.2f}" if step in medians[name] else f"{'-':>16}"
            for name in cases
        ]
        lines.append(f"   {step:52} " + " ".join(cells))
    rest = {name: median_ms(walls[name]) - sum(medians[name].values()) for name in cases}
    lines.append(
        f"   {'interpreter start and exit (wall - the steps)':52} "
        + " ".join(f"{rest[name]:16.2f}" for name in cases)
    )
    lines.append(f"   {'wall':52} " + " ".join(f"{median_ms(walls[name]):16.2f}" for name in cases))
    floor = median_ms(walls["floor"])
    outside = ("import nagiosplugin", "exchange (reported time)")
    own = {
        name: sum(ms for step, ms in medians[name].items() if step not in outside) for name in cases
    }
    label = "own steps: all but importing nagiosplugin, the exchange"
    lines.append(f"   {label:52} " + " ".join(f"{own[name]:16.2f}" for name in cases))
    lines.append(
        f"   floor, interleaved: {floor:.2f} ms wall (python -c 'import nagiosplugin', its exit"
        " included; the helper exits as the plugin does, without the interpreter's teardown)"
    )
    return lines


# -- 6: accuracy of the reported time ---------------------------------------------


def accuracy(plugin: str, env: Mapping[str, str], reps: int) -> list[str]:
    lines = [f"5. Reported time against a greeting delayed by a known amount ({reps} runs each)"]
    worst = 0.0
    cells = []
    for delay in (0.05, 0.2, 0.5):

        def script(server: FakePOP3, conn: socket.socket, delay: float = delay) -> None:
            time.sleep(delay)
            conn.sendall(b"+OK slow greeting\r\n")
            if server.read_line(conn) is not None:
                conn.sendall(b"+OK bye\r\n")

        server = FakePOP3(script)
        try:
            totals, greetings = [], []
            for _ in range(reps):
                sample = spawn([plugin, "-H", "127.0.0.1", "-p", str(server.port)], env)
                totals.append((perf(sample.stdout, "time") - delay) * 1000)
                greetings.append((perf(sample.stdout, "greeting_time") - delay) * 1000)
        finally:
            server.close()
        worst = max(worst, abs(statistics.median(totals)))
        cells.append(
            f"delay {delay * 1000:.0f}: time {statistics.median(totals):+.2f} "
            f"(greeting_time {statistics.median(greetings):+.2f})"
        )
    lines.append("   reported - delay, ms: " + "; ".join(cells))
    lines.append(
        f"   goal: within {GOALS['accuracy_ms']:g} ms (median): {worst:.2f} ms -> "
        f"{'met' if worst <= GOALS['accuracy_ms'] else 'MISSED'}"
    )
    return lines


# -- 7: timeout precision ---------------------------------------------------------


def timeout_precision(plugin: str, env: Mapping[str, str], reps: int) -> list[str]:
    def silent(server: FakePOP3, conn: socket.socket) -> None:
        time.sleep(30)

    server = FakePOP3(silent)
    worst = 0.0
    cells = []
    try:
        for timeout in (0.5, 1.0, 2.0):
            late = []
            for _ in range(reps):
                argv = [plugin, "-H", "127.0.0.1", "-p", str(server.port), "-t", f"{timeout:g}"]
                late.append(spawn(argv, env).wall - timeout)
            worst = max(worst, *late)
            cells.append(f"-t {timeout:g}: {statistics.median(late):.3f} / {max(late):.3f}")
    finally:
        server.close()
    return [
        f"6. Server that never greets: return after -t, s (median / max of {reps})",
        "   " + "; ".join(cells),
        f"   goal: within {GOALS['timeout_s']:g} s -> "
        f"{'met' if worst <= GOALS['timeout_s'] else 'MISSED'}",
    ]


# -- 8: import time ---------------------------------------------------------------


def import_times(plugin: str, port: int, runs: int = 7, top: int = 8) -> list[str]:
    """-X importtime of a real plaintext check: what it imports beyond the floor."""
    own: dict[str, list[int]] = {}
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", plugin, "-H", "127.0.0.1", "-p", str(port)],
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),
        )
        for line in proc.stderr.splitlines():
            match = pattern.match(line)
            if match:
                own.setdefault(match[4], []).append(int(match[1]))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import nagiosplugin"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    floor_mods = {m[4] for m in map(pattern.match, proc.stderr.splitlines()) if m}
    extra = {name: statistics.median(v) for name, v in own.items() if name not in floor_mods}
    largest = sorted(extra, key=lambda n: -extra[n])[:top]
    return [
        f"7. python -X importtime of a plaintext check (medians of {runs}): "
        f"{len(extra)} modules beyond the floor's, {sum(extra.values()) / 1000:.1f} ms; largest:",
        "   " + ", ".join(f"{name} {extra[name] / 1000:.2f}" for name in largest),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter engine phases")
    parser.add_argument("--reps", type=int, help="runs per command (default 60; --quick 20)")
    parser.add_argument(
        "--engine-seconds", type=float, help="measured seconds per command in Icinga 2 (20; 8)"
    )
    parser.add_argument("--services", type=int, default=6, help="services per command (6)")
    parser.add_argument("--no-engine", action="store_true", help="skip the Icinga 2 section")
    args = parser.parse_args(argv)
    reps = args.reps or (20 if args.quick else 60)
    engine_seconds = args.engine_seconds or (8.0 if args.quick else 20.0)
    plugin = shutil.which("check_pop3_ipmon", path=str(Path(sys.executable).parent))
    if plugin is None:
        sys.exit("check_pop3_ipmon is not installed beside this Python: pip install .")
    started = time.monotonic()
    # Nor Icinga 2: a variable it passes on would shadow the one a check sets.
    for name in CA_VARIABLES:
        os.environ.pop(name, None)
    print("\n".join([*machine(), *versions(plugin), ""]), flush=True)
    import all_addresses
    import capacity

    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(Path(tmp), plugin)
        try:
            sections = [
                lambda: side_by_side(setup, reps),
                lambda: breakdown(setup, max(10, reps // 2)),
            ]
            if not args.no_engine:
                engine = {k: v for k, v in setup.commands().items() if k in IN_ENGINE}
                sections.append(
                    lambda: capacity.capacity(engine, Path(tmp), args.services, engine_seconds)
                )
            sections += [
                lambda: all_addresses.all_addresses(plugin, setup.env, Path(tmp), reps // 2),
                lambda: accuracy(plugin, setup.env, max(10, reps // 5)),
                lambda: timeout_precision(plugin, setup.env, max(3, reps // 20)),
                lambda: import_times(plugin, setup.dovecot.port),
            ]
            for section in sections:
                print("\n".join(section()) + "\n", flush=True)
        finally:
            setup.stop()
    load = os.getloadavg()
    print(
        f"ran {time.monotonic() - started:.0f} s; load at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
