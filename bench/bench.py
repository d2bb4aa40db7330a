"""Benchmark: check_pop3_ipmon against check_pop/check_spop and its own stack's floor.

Not a test (machines are noisy; nothing here passes or fails): it prints
figures. Run it as root (Dovecot) from the repository root:

    tox -e bench                  # or, with the package installed:
    python bench/bench.py [--reps N]

What it does, in one run:
  1. starts Dovecot on loopback (plaintext and implicit TLS, trustme certificate);
  2. runs, interleaved round by round, `python -c pass`, the floor
     `python -c "import nagiosplugin"`, check_pop3_ipmon and monitoring-plugins'
     check_pop/check_spop (when installed) against it: median wall time, CPU
     time (user+system from wait4) and peak memory (GNU time's %M when there,
     else a small fork trampoline, whose own few MB then set a floor);
  3. a fake server that delays its greeting by known amounts: the plugin's
     reported `time` and `greeting_time` against the delay (accuracy);
  4. a fake server that never greets: how long after -t the plugin returns;
  5. python -X importtime of a plaintext check: the largest imports.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.dovecot import Dovecot, TLSFiles  # noqa: E402
from tests.support.fakepop3 import FakePOP3  # noqa: E402

PLUGINS = Path("/usr/lib/nagios/plugins")
HOSTNAME = "pop.example.test"
GNU_TIME = "/usr/bin/time"
GOALS = {"overhead_ms": 10.0, "accuracy_ms": 2.0, "timeout_s": 0.2}


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    code: int
    stdout: bytes


def spawn(argv: Sequence[str]) -> Sample:
    """Run argv once; wall clock around fork to reap, CPU from wait4()."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        return Sample(
            wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), out.read()
        )


def peak_memory_kib(argv: Sequence[str]) -> int:
    """The command's own peak RSS. ru_maxrss survives exec(), so it must be forked
    from a small process, not from this one."""
    if os.access(GNU_TIME, os.X_OK):
        proc = subprocess.run(
            [GNU_TIME, "-f", "%M", *argv], capture_output=True, text=True, check=False
        )
        return int(proc.stderr.strip().splitlines()[-1])
    helper = ROOT / "tests" / "support" / "maxrss.py"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "maxrss"
        subprocess.run(
            [sys.executable, "-I", "-S", str(helper), str(report), *argv],
            capture_output=True,
            check=False,
        )
        return int(report.read_text())


def perf(stdout: bytes, label: str) -> float:
    match = re.search(rf"\b{label}=([0-9.]+)s", stdout.decode(errors="replace"))
    if not match:
        raise RuntimeError(f"no {label} in {stdout!r}")
    return float(match[1])


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return [
        f"machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"python:  {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
    ]


def versions(plugin: str) -> list[str]:
    import nagiosplugin

    lines = [f"nagiosplugin {getattr(nagiosplugin, '__version__', '?')}"]
    version = subprocess.run([plugin, "-V"], capture_output=True, text=True, check=False)
    lines.append(version.stdout.strip())
    check_pop = PLUGINS / "check_pop"
    if check_pop.exists():
        out = subprocess.run(
            [str(check_pop), "-V"], capture_output=True, text=True, check=False
        ).stdout
        lines.append(f"check_pop: {out.strip()}")
    return lines


# -- 1-2: side by side against Dovecot --------------------------------------


def start_dovecot(workdir: Path) -> tuple[Dovecot, Path]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(HOSTNAME, "127.0.0.1")
    chain, key, ca_file = workdir / "chain.pem", workdir / "key.pem", workdir / "ca.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    server_dir = workdir / "dovecot"
    server_dir.mkdir()
    dovecot = Dovecot(server_dir, tls=TLSFiles(chain, key))
    dovecot.start()
    return dovecot, ca_file


def side_by_side(plugin: str, dovecot: Dovecot, ca_file: Path, reps: int) -> list[str]:
    py = sys.executable
    port, tls_port = str(dovecot.port), str(dovecot.tls_port)
    commands: dict[str, list[str]] = {
        "python -c pass": [py, "-c", "pass"],
        "floor: python -c 'import nagiosplugin'": [py, "-c", "import nagiosplugin"],
        # What any argparse-based network plugin on this stack imports anyway.
        "floor + argparse + socket": [py, "-c", "import nagiosplugin, argparse, socket"],
        "check_pop3_ipmon plaintext": [plugin, "-H", "127.0.0.1", "-p", port],
    }
    if (PLUGINS / "check_pop").exists():
        commands["check_pop plaintext"] = [
            str(PLUGINS / "check_pop"),
            "-H",
            "127.0.0.1",
            "-p",
            port,
        ]
    commands["check_pop3_ipmon -S (verified)"] = [
        plugin,
        "-H",
        "127.0.0.1",
        "-p",
        tls_port,
        "-S",
        "--sni",
        HOSTNAME,
        "--ca-file",
        str(ca_file),
    ]
    commands["check_pop3_ipmon -S --insecure"] = [
        plugin,
        "-H",
        "127.0.0.1",
        "-p",
        tls_port,
        "-S",
        "--insecure",
    ]
    if (PLUGINS / "check_spop").exists():
        commands["check_spop (no verification)"] = [
            str(PLUGINS / "check_spop"),
            "-H",
            "127.0.0.1",
            "-p",
            tls_port,
        ]
    for name, argv in commands.items():  # warm up caches, and fail early
        sample = spawn(argv)
        if sample.code != 0:
            raise RuntimeError(f"{name} exited {sample.code}: {sample.stdout!r}")
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for _ in range(reps):  # round by round, so drifting load hits every command alike
        for name, argv in commands.items():
            samples[name].append(spawn(argv))
    memory = {
        name: statistics.median(peak_memory_kib(argv) for _ in range(5))
        for name, argv in commands.items()
    }

    wall = {name: statistics.median(s.wall for s in runs) * 1000 for name, runs in samples.items()}
    cpu = {name: statistics.median(s.cpu for s in runs) * 1000 for name, runs in samples.items()}
    floor = wall["floor: python -c 'import nagiosplugin'"]
    reference = wall.get("check_pop plaintext")
    lines = [
        f"1. Side by side against Dovecot on loopback, {reps} runs each, interleaved; medians",
        f"   {'command':40} {'wall ms':>8} {'p90 ms':>8} {'cpu ms':>8} {'peak MiB':>9}"
        f" {'- floor':>8} {'/ check_pop':>11}",
    ]
    for name in commands:
        walls = sorted(s.wall * 1000 for s in samples[name])
        p90 = walls[int(len(walls) * 0.9) - 1]
        over = f"{wall[name] - floor:+8.1f}"
        ratio = f"{wall[name] / reference:10.1f}x" if reference else "          -"
        lines.append(
            f"   {name:40} {wall[name]:8.1f} {p90:8.1f} {cpu[name]:8.1f} "
            f"{memory[name] / 1024:9.1f} {over} {ratio}"
        )
    plain = samples["check_pop3_ipmon plaintext"]
    phases = {
        label: statistics.median(perf(s.stdout, label) * 1000 for s in plain)
        for label in ("time", "connect_time", "greeting_time", "quit_time")
    }
    lines.append(
        f"   the plaintext check's own `time` (the POP3 exchange, server's latency included): "
        f"{phases['time']:.1f} ms = connect {phases['connect_time']:.1f} + greeting "
        f"{phases['greeting_time']:.1f} + QUIT {phases['quit_time']:.1f} + the rest"
    )
    overhead = wall["check_pop3_ipmon plaintext"] - floor
    own = overhead - phases["time"]
    lines.append(
        f"   goal: plaintext check adds <= {GOALS['overhead_ms']:g} ms wall over the floor: "
        f"{overhead:+.1f} ms ({own:+.1f} ms without the exchange) -> "
        f"{'met' if overhead <= GOALS['overhead_ms'] else 'MISSED'}"
    )
    wider = wall["check_pop3_ipmon plaintext"] - wall["floor + argparse + socket"]
    lines.append(
        f"   over 'floor + argparse + socket' instead: {wider:+.1f} ms "
        f"({wider - phases['time']:+.1f} ms without the exchange)"
    )
    return lines


# -- 3: accuracy of the reported time ---------------------------------------


def accuracy(plugin: str, reps: int) -> list[str]:
    lines = [
        "2. Reported time against a greeting delayed by a known amount "
        f"(fake server, {reps} runs each; error = reported - delay)",
        f"   {'delay ms':>8} {'time err ms (median, max|.|)':>30} "
        f"{'greeting_time err ms (median, max|.|)':>40}",
    ]
    worst = 0.0
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
                sample = spawn([plugin, "-H", "127.0.0.1", "-p", str(server.port)])
                totals.append((perf(sample.stdout, "time") - delay) * 1000)
                greetings.append((perf(sample.stdout, "greeting_time") - delay) * 1000)
        finally:
            server.close()
        worst = max(worst, abs(statistics.median(totals)))
        lines.append(
            f"   {delay * 1000:8.0f} {statistics.median(totals):+17.2f}, "
            f"{max(map(abs, totals)):6.2f} {statistics.median(greetings):+27.2f}, "
            f"{max(map(abs, greetings)):6.2f}"
        )
    lines.append(
        f"   goal: reported time within {GOALS['accuracy_ms']:g} ms of the delay (median): "
        f"{worst:.2f} ms -> {'met' if worst <= GOALS['accuracy_ms'] else 'MISSED'}"
    )
    return lines


# -- 4: timeout precision -----------------------------------------------------


def timeout_precision(plugin: str, reps: int) -> list[str]:
    def silent(server: FakePOP3, conn: socket.socket) -> None:
        time.sleep(30)

    server = FakePOP3(silent)
    lines = [
        f"3. Server that never greets: return after -t ({reps} runs each; wall from spawn)",
        f"   {'-t s':>6} {'late s (median)':>16} {'late s (max)':>13} {'reported time - t':>18}",
    ]
    worst = 0.0
    try:
        for timeout in (0.5, 1.0, 2.0):
            late, reported = [], []
            for _ in range(reps):
                sample = spawn(
                    [plugin, "-H", "127.0.0.1", "-p", str(server.port), "-t", f"{timeout:g}"]
                )
                late.append(sample.wall - timeout)
                reported.append(perf(sample.stdout, "time") - timeout)
            worst = max(worst, *late)
            lines.append(
                f"   {timeout:6g} {statistics.median(late):16.3f} {max(late):13.3f} "
                f"{statistics.median(reported):18.4f}"
            )
    finally:
        server.close()
    lines.append(
        f"   goal: returns within {GOALS['timeout_s']:g} s after -t: worst {worst:.3f} s -> "
        f"{'met' if worst <= GOALS['timeout_s'] else 'MISSED'}"
    )
    return lines


# -- 5: import time -------------------------------------------------------------


def import_times(plugin: str, port: int, runs: int = 7, top: int = 12) -> list[str]:
    """-X importtime of a real plaintext check; medians over `runs` of each module's figures."""
    cumulative: dict[str, list[int]] = {}
    own: dict[str, list[int]] = {}
    depth: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                plugin,
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),
        )
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                name = match[4]
                own.setdefault(name, []).append(int(match[1]))
                cumulative.setdefault(name, []).append(int(match[2]))
                depth[name] = len(match[3]) // 2
    floor_mods = set()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import nagiosplugin"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if match:
            floor_mods.add(match[1])
    med = {name: statistics.median(v) for name, v in cumulative.items()}
    own_med = {name: statistics.median(v) for name, v in own.items()}
    extra = {name: own_med[name] for name in own_med if name not in floor_mods}
    lines = [
        f"4. python -X importtime of a plaintext check (medians of {runs} runs, ms)",
        "   largest by cumulative time (depth 0-2):",
    ]
    ranked = sorted((n for n in med if depth[n] <= 2), key=lambda n: -med[n])
    for name in ranked[:top]:
        lines.append(f"   {med[name] / 1000:8.2f}  {'  ' * depth[name]}{name}")
    lines.append(
        f"   imported beyond the floor's modules: {len(extra)} modules, "
        f"{sum(extra.values()) / 1000:.1f} ms of their own time; largest:"
    )
    for name in sorted(extra, key=lambda n: -extra[n])[:top]:
        lines.append(f"   {extra[name] / 1000:8.2f}  {name}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=100, help="runs per command (default 100)")
    args = parser.parse_args(argv)
    plugin = shutil.which("check_pop3_ipmon", path=str(Path(sys.executable).parent))
    if plugin is None:
        sys.exit("check_pop3_ipmon is not installed beside this Python: pip install .")
    out = [*machine(), *versions(plugin), ""]
    print("\n".join(out), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        dovecot, ca_file = start_dovecot(Path(tmp))
        try:
            for section in (
                lambda: side_by_side(plugin, dovecot, ca_file, args.reps),
                lambda: accuracy(plugin, max(10, args.reps // 5)),
                lambda: timeout_precision(plugin, max(5, args.reps // 20)),
                lambda: import_times(plugin, dovecot.port),
            ):
                print("\n".join(section()) + "\n", flush=True)
        finally:
            dovecot.stop()


if __name__ == "__main__":
    main()
