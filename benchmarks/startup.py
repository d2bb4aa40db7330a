"""Start-up cost of the plugin: import time and wall time, printed, never asserted.

A large installation runs the plugin thousands of times a minute, so what the
default greeting-only check imports is its main cost. This runs
`python -X importtime -m check_pop3_ipmon ARGS` repeatedly (by default against
127.0.0.1 port 1, which refuses at once, so the network adds nothing) and prints
the median and minimum of the summed import time and of the wall time, and
which of the optional modules were loaded.

    python benchmarks/startup.py                         # the installed package
    python benchmarks/startup.py --source /tmp/old --source .   # compare trees
    python benchmarks/startup.py -- -H 127.0.0.1 -p 1 --login -u x --allow-plaintext-login
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
) -> tuple[float, float, set[str]]:
    """(summed self import time in ms, wall time in ms, module names) of one run."""
    run_env = dict(env)
    if source is not None:
        run_env["PYTHONPATH"] = os.path.abspath(source)
    start = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 (argv list from our own command line)
        [python, "-X", "importtime", "-m", "check_pop3_ipmon", *args],
        capture_output=True,
        text=True,
        env=run_env,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    total_us = 0
    modules: set[str] = set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:") :].split("|", 2)
        total_us += int(self_us)
        modules.add(name.strip())
    return total_us / 1000, wall, modules


def report(label: str, python: str, args: list[str], source: Optional[str], runs: int) -> None:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    run_once(python, args, source, env)  # warm the page cache and bytecode
    imports, walls = [], []
    modules: set[str] = set()
    for _ in range(runs):
        imp, wall, modules = run_once(python, args, source, env)
        imports.append(imp)
        walls.append(wall)
    own = sorted(m for m in modules if m.startswith("check_pop3_ipmon"))
    loaded = [m for m in WATCHED if m in modules]
    print(f"{label}")
    print(
        f"  import time  median {statistics.median(imports):7.2f} ms  min {min(imports):7.2f} ms"
        f"  ({len(modules)} modules)"
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
    print(f"{options.python} -X importtime -m check_pop3_ipmon {' '.join(args)}")
    print(f"{options.runs} runs each")
    for source in options.source or [None]:
        report(source or "installed package", options.python, args, source, options.runs)


if __name__ == "__main__":
    main()
