"""A notification command that behaves like PagerDuty's pd-nagios, and records.

pd-nagios takes `-t PROBLEM|ACKNOWLEDGEMENT|RECOVERY` (argparse choices:
anything else, CUSTOM included, is a usage error with exit status 2, and no
incident is opened or resolved). This stand-in does the same, then appends
one JSON line per accepted notification: the type, the engine's
notification number, the service, the -f KEY=VALUE fields and the engine's
environment (NAGIOS_* / POP3_IPMON_*). Refused calls are recorded too, in a
second file, so a test can see that nothing was refused.

    pd_recorder.py OUT -t TYPE -n NUMBER -s HOST!SERVICE [-f KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

TYPES = ("PROBLEM", "ACKNOWLEDGEMENT", "RECOVERY")
ENV_PREFIXES = ("NAGIOS_", "ICINGA_", "POP3_IPMON_")


def command(out: Path) -> list[str]:
    """The argv that runs this recorder with the test's Python (options follow)."""
    return [sys.executable, str(Path(__file__).resolve()), str(out)]


def refused_file(out: Path) -> Path:
    return out.with_name(out.name + ".refused")


def read(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    # A line still being written has no newline yet: leave it for next time.
    lines = out.read_text().split("\n")[:-1]
    return [json.loads(line) for line in lines if line.strip()]


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def main(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args.pop(0))
    parser = argparse.ArgumentParser(prog="pd_recorder")
    parser.add_argument("-t", "--type", required=True, choices=TYPES)
    parser.add_argument("-n", "--number", required=True, type=int)
    parser.add_argument("-s", "--service", required=True)
    parser.add_argument("-f", "--field", action="append", default=[])
    env = {key: value for key, value in os.environ.items() if key.startswith(ENV_PREFIXES)}
    try:
        parsed = parser.parse_args(args)
    except SystemExit as exc:
        _append(refused_file(out), {"time": time.time(), "argv": args, "env": env})
        return int(exc.code or 2)
    fields = dict(item.split("=", 1) for item in parsed.field if "=" in item)
    record = {
        "time": time.time(),
        "type": parsed.type,
        "number": parsed.number,
        "service": parsed.service,
        "fields": fields,
        "env": env,
    }
    _append(out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
