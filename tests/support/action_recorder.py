"""A harmless program for recovery tests: it records how it was called, then obeys.

Usage: python action_recorder.py OUTFILE [sleep=SECONDS] [wait=FILE] [exit=CODE]
                                         [grandchild=PIDFILE]

Appends one JSON line (argv, environment, pid, process group) to OUTFILE
before anything else, so a test can see that it ran, and with what, even if
it is killed later. `grandchild` starts a sleeping child in the same process
group and writes its pid to PIDFILE (to prove the whole group is killed).
`wait` holds the program until FILE exists (at most a minute), so a test
decides when it ends instead of guessing a duration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

KNOWN = ("sleep", "wait", "exit", "grandchild")  # other arguments are only recorded


def main() -> int:
    out = sys.argv[1]
    options = dict(arg.split("=", 1) for arg in sys.argv[2:] if arg.split("=", 1)[0] in KNOWN)
    record = {
        "argv": sys.argv,
        "env": dict(os.environ),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "time": time.time(),
    }
    with open(out, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
    if "grandchild" in options:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(options["grandchild"], "w", encoding="utf-8") as stream:
            stream.write(str(child.pid))
    time.sleep(float(options.get("sleep", "0")))
    if "wait" in options:
        end = time.monotonic() + 60
        while not os.path.exists(options["wait"]) and time.monotonic() < end:
            time.sleep(0.02)
    return int(options.get("exit", "0"))


if __name__ == "__main__":
    sys.exit(main())
