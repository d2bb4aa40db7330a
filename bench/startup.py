"""Start-up cost of the plugin: import time and wall time, printed, never asserted.

A large installation runs the plugin thousands of times a minute, so what the
default greeting-only check imports is its main cost. This runs
`python -X importtime -m check_pop3_ipmon ARGS` repeatedly (by default against
127.0.0.1 port 1, which refuses at once, so the network adds nothing) and prints
the median and minimum of the summed import time and of the wall time, and
which of the optional modules were loaded.

    python bench/startup.py                         # the installed package
    python bench/startup.py --source /tmp/old --source .   # compare trees
    python bench/startup.py -- -H 127.0.0.1 -p 1 --login -u x --allow-plaintext-login
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Optional

DEFAULT_ARGS = ["-H", "127.0.0.1", "-p", "1"]
# Modules the greeting-only check should not need; loaded only by the options that use them.
WATCHED = ("ssl", "hashlib", "base64", "concurrent.futures", "http", "email", "json")


def run_once(
    python: str, args: list[str], source: Optional[str], env: dict[str, str]
) -> tuple[float, float, float, set[str]]:
    """(summed self import time, the package's own cumulative import time, wall
    time, all in ms; module names) of one run."""
    run_env = dict(env)
    if source is not None:
        run_env["PYTHONPATH"] = os.path.abspath(source)
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "check_pop3_ipmon", *args],
        capture_output=True,
        text=True,
        env=run_env,
        check=False,
        # Not the caller's directory: -m puts it first on sys.path, ahead of
        # PYTHONPATH, so --source would silently time the tree one stands in.
        cwd="/",
    )
    wall = (time.perf_counter() - start) * 1000
    total_us = package_us = 0
    modules: set[str] = set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        total_us += int(self_us)
        # Top-level imports of our package (nagiosplugin and the rest they pull in).
        if name.startswith(" check_pop3_ipmon"):
            package_us += int(cumulative_us)
        modules.add(name.strip())
    return total_us / 1000, package_us / 1000, wall, modules


def summarise(
    label: str, imports: list[float], package: list[float], walls: list[float], modules: set[str]
) -> None:
    own = sorted(m for m in modules if m.startswith("check_pop3_ipmon"))
    loaded = [m for m in WATCHED if m in modules]
    print(f"{label}")
    print(
        f"  import time  median {statistics.median(imports):7.2f} ms  min {min(imports):7.2f} ms"
        f"  ({len(modules)} modules)"
    )
    print(
        f"  package      median {statistics.median(package):7.2f} ms  min {min(package):7.2f} ms"
        "  (cumulative import of check_pop3_ipmon*)"
    )
    print(f"  wall time    median {statistics.median(walls):7.2f} ms  min {min(walls):7.2f} ms")
    print(f"  own modules  {', '.join(own)}")
    print(f"  optional     {', '.join(loaded) or 'none of ' + ', '.join(WATCHED)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--source",
        action="append",
        help="a source tree to import the package from (repeat to compare); "
        "default: the installed package",
    )
    parser.add_argument("args", nargs="*", help="plugin arguments (after --)")
    options = parser.parse_args()
    args = options.args or DEFAULT_ARGS
    sources: list[Optional[str]] = list(options.source or [None])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    print(f"{options.python} -X importtime -m check_pop3_ipmon {' '.join(args)}")
    print(f"{options.runs} runs each, interleaved so that machine noise hits all alike")
    imports: dict[int, list[float]] = {i: [] for i in range(len(sources))}
    package: dict[int, list[float]] = {i: [] for i in range(len(sources))}
    walls: dict[int, list[float]] = {i: [] for i in range(len(sources))}
    modules: dict[int, set[str]] = {}
    for source in sources:
        run_once(options.python, args, source, env)  # warm the page cache and bytecode
    for _ in range(options.runs):
        for index, source in enumerate(sources):
            imp, own, wall, modules[index] = run_once(options.python, args, source, env)
            imports[index].append(imp)
            package[index].append(own)
            walls[index].append(wall)
    for index, source in enumerate(sources):
        label = source or "installed package"
        summarise(label, imports[index], package[index], walls[index], modules[index])


if __name__ == "__main__":
    main()
