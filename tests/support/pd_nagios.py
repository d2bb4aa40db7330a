"""A stand-in for PagerDuty's pd-nagios that records instead of sending.

It takes pd-nagios' own arguments (pdagent-integrations, bin/pd-nagios) and
refuses what it refuses, with argparse's usage error and exit status 2:

    -k/--service-key KEY    required
    -t/--event-type TYPE    required, PROBLEM, ACKNOWLEDGEMENT or RECOVERY only
                            (CUSTOM, DOWNTIMESTART, FLAPPINGSTART ... are refused:
                            no incident is opened, acknowledged or resolved)
    -n/--notification-type  required, host or service
    -i/--incident-key KEY   optional; else host (+ service), as pd-nagios makes it
    -f/--field KEY=VALUE    repeatable; service events need HOSTNAME, SERVICEDESC
                            and SERVICESTATE, host events HOSTNAME and HOSTSTATE
    -c/--client, -u/--client-url  optional (newer pd-nagios)

plus one of its own, `--record FILE`: every call appends one JSON line there,
accepted or not: {"accepted", "type", "number", "host", "service", "state",
"incident_key", "event" (trigger/acknowledge/resolve), "fields", "argv",
"error"}. The notification number is the field SERVICENOTIFICATIONNUMBER (or
HOSTNOTIFICATIONNUMBER): the shipped command definitions pass the engine's
number there, since pd-nagios has no option for it.

    python tests/support/pd_nagios.py --record FILE -k KEY -n service -t PROBLEM \\
        -f HOSTNAME=mail1 -f SERVICEDESC=POP3 -f SERVICESTATE=CRITICAL \\
        -f SERVICENOTIFICATIONNUMBER=1

Tests read the records back with read(), accepted() and refused().
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, Optional

TYPES = ("PROBLEM", "ACKNOWLEDGEMENT", "RECOVERY")
EVENTS = {"PROBLEM": "trigger", "ACKNOWLEDGEMENT": "acknowledge", "RECOVERY": "resolve"}
REQUIRED_FIELDS = {
    "service": ("HOSTNAME", "SERVICEDESC", "SERVICESTATE"),
    "host": ("HOSTNAME", "HOSTSTATE"),
}


class Refused(Exception):
    """pd-nagios would exit with a usage error: nothing reaches PagerDuty."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Refused(message)


def command(record: Path) -> list[str]:
    """The argv prefix that runs this stand-in with the test's Python."""
    return [sys.executable, str(Path(__file__).resolve()), "--record", str(record)]


def read(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def accepted(record: Path) -> list[dict[str, Any]]:
    return [entry for entry in read(record) if entry["accepted"]]


def refused(record: Path) -> list[dict[str, Any]]:
    return [entry for entry in read(record) if not entry["accepted"]]


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pd-nagios", description="Enqueue an event from Nagios to PagerDuty.")
    p.add_argument("-k", "--service-key", dest="service_key", required=True)
    p.add_argument("-t", "--event-type", dest="event_type", required=True, choices=TYPES)
    p.add_argument("-i", "--incident-key", dest="incident_key")
    p.add_argument("-f", "--field", action="append", dest="fields", default=[])
    p.add_argument(
        "-n", "--notification-type", dest="kind", required=True, choices=("service", "host")
    )
    p.add_argument("-c", "--client")
    p.add_argument("-u", "--client-url", dest="client_url")
    return p


def _fields(items: Sequence[str]) -> dict[str, str]:
    fields = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise Refused(f"field {item!r} is not KEY=VALUE")
        fields[key] = value
    return fields


def _number(fields: dict[str, str]) -> Optional[int]:
    text = fields.get("SERVICENOTIFICATIONNUMBER", fields.get("HOSTNOTIFICATIONNUMBER", ""))
    return int(text) if text.strip().isdigit() else None


def event(argv: Sequence[str]) -> dict[str, Any]:
    """What pd-nagios would enqueue for these arguments, or Refused."""
    args = parser().parse_args(list(argv))
    fields = _fields(args.fields)
    missing = [key for key in REQUIRED_FIELDS[args.kind] if key not in fields]
    if missing:
        raise Refused(f"Missing fields for type '{args.kind}'.  {', '.join(missing)} required")
    host, service = fields["HOSTNAME"], fields.get("SERVICEDESC", "")
    key = args.incident_key or (
        f"event_source=service;host_name={host};service_desc={service}"
        if args.kind == "service"
        else f"event_source=host;host_name={host}"
    )
    return {
        "accepted": True,
        "type": args.event_type,
        "event": EVENTS[args.event_type],
        "number": _number(fields),
        "host": host,
        "service": service,
        "state": fields.get("SERVICESTATE" if args.kind == "service" else "HOSTSTATE", ""),
        "incident_key": key,
        "fields": fields,
        "error": "",
    }


def _split_record(argv: Sequence[str]) -> tuple[Optional[Path], list[str]]:
    rest, record = list(argv), None
    for index, arg in enumerate(rest):
        if arg == "--record" and index + 1 < len(rest):
            record = Path(rest[index + 1])
            del rest[index : index + 2]
            break
        if arg.startswith("--record="):
            record = Path(arg.split("=", 1)[1])
            del rest[index]
            break
    return record, rest


def _given_type(argv: Sequence[str]) -> str:
    """The -t of a refused call, for the record (CUSTOM, usually)."""
    for index, arg in enumerate(argv):
        if arg in ("-t", "--event-type") and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(("-t", "--event-type=")) and arg not in ("-t", "--event-type"):
            return arg.split("=", 1)[1] if arg.startswith("--") else arg[2:]
    return ""


def main(argv: Optional[Sequence[str]] = None) -> int:
    record, rest = _split_record(sys.argv[1:] if argv is None else argv)
    if record is None:
        print("pd-nagios stand-in: --record FILE is required", file=sys.stderr)
        return 2
    try:
        entry = event(rest)
        status = 0
    except Refused as exc:
        print(f"usage: pd-nagios ...\npd-nagios: error: {exc}", file=sys.stderr)
        entry = {"accepted": False, "type": _given_type(rest), "error": str(exc)}
        status = 2
    entry.update(argv=rest, time=time.time())
    with open(record, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
