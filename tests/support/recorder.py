"""A notification (or event) command that records what the engine gave it.

Engines run it as `python recorder.py OUTFILE [NAME=VALUE ...]`; it appends
one JSON line with the time, its arguments (all, and the NAME=VALUE ones
as a mapping) and the engine's
environment variables (NAGIOS_* with enable_environment_macros=1, or the
env of an Icinga 2 command). Nothing goes through a shell, so values with
spaces and quotes arrive intact. read() gives the records back to the test.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ENV_PREFIXES = ("NAGIOS_", "ICINGA_", "POP3_IPMON_", "CHECK_POP3_IPMON_")


def command(out: Path) -> list[str]:
    """The argv that runs this recorder with the test's Python."""
    return [sys.executable, str(Path(__file__).resolve()), str(out)]


def read(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    fields = dict(arg.split("=", 1) for arg in argv[2:] if "=" in arg)
    env = {key: value for key, value in os.environ.items() if key.startswith(ENV_PREFIXES)}
    record = {"time": time.time(), "argv": argv[2:], "args": fields, "env": env}
    with open(out, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
