"""What Nagios 4 tells an event handler about a service, without a shell in the way.

Nagios pastes macros into the command line and hands it to /bin/sh when it
sees shell characters, and $HOSTADDRESS$ or a custom variable may hold any
(unlike object names, which illegal_object_name_chars guards). So the
handler's command line carries only object names, states and numbers; the
rest comes from the environment (enable_environment_macros=1), where a value
is data whatever it holds.

Nagios has no macro telling an event handler that a problem is
acknowledged; status.dat has it (problem_has_been_acknowledged), as fresh as
status_update_interval (10 s by default).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.core import hold, monitor_name

TARGET_VARIABLE = "NAGIOS__SERVICEPOP3_IPMON_RECOVERY_TARGET"
ACKNOWLEDGEMENT_COMMENT = "4"  # Nagios' comment entry type (include/comments.h)


def env_facts(env: Mapping[str, str]) -> dict[str, str]:
    """The facts only the environment can carry safely, by their names in
    engine.Facts (empty when absent)."""
    output = env.get("NAGIOS_SERVICEOUTPUT", "")
    long_output = env.get("NAGIOS_LONGSERVICEOUTPUT", "")
    return {
        "address": env.get("NAGIOS_HOSTADDRESS", ""),
        "host_state": env.get("NAGIOS_HOSTSTATE", ""),
        "output": f"{output}\n{long_output}" if long_output else output,
        "target": env.get(TARGET_VARIABLE, ""),
        # ipMonitor's Monitor Name is the display name; display only, so cut, not refused.
        "monitor": monitor_name.cut(env.get("NAGIOS_SERVICEDISPLAYNAME", "")),
    }


def _blocks(path: Path, host: str, service: str) -> Iterator[tuple[str, dict[str, str]]]:
    """status.dat's blocks for the service, as (kind, fields)."""
    kind: Optional[str] = None
    block: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as stream:
        for raw in stream:
            line = raw.strip()
            if line.endswith(" {") and "=" not in line:  # a field always has one
                kind, block = line[:-2], {}
            elif kind is not None and line == "}":
                if block.get("host_name") == host and block.get("service_description") == service:
                    yield kind, block
                kind = None
            elif kind is not None:
                key, sep, value = line.partition("=")
                if sep:
                    block[key] = value


def service_status(path: Path, host: str, service: str) -> Optional[dict[str, str]]:
    """The service's servicestatus block from status.dat, or None if absent."""
    for kind, block in _blocks(path, host, service):
        if kind == "servicestatus":
            return block
    return None


def acknowledged(path: Path, host: str, service: str) -> bool:
    """Whether status.dat shows the service's problem acknowledged by someone
    other than the alerting's own hold after alert M (core/hold.py): that one
    says only that no more alerts go out, and must not hold back the recovery
    actions due at alert M. Every acknowledgement leaves a comment of entry
    type 4 with its author, the newest the standing one's; none at all counts
    as someone's."""
    status: Optional[dict[str, str]] = None
    latest: tuple[int, str] = (-1, "")  # (comment_id, author) of the newest
    for kind, block in _blocks(path, host, service):
        if kind == "servicestatus":
            status = block
        elif kind == "servicecomment" and block.get("entry_type") == ACKNOWLEDGEMENT_COMMENT:
            # Nagios numbers comments upwards and keeps one acknowledgement: the
            # newest comment is the standing one's (a persistent comment of an
            # earlier outage's acknowledgement is older).
            number = block.get("comment_id", "")
            latest = max(latest, (int(number) if number.isdigit() else 0, block.get("author", "")))
    if status is None or status.get("problem_has_been_acknowledged", "0") == "0":
        return False
    return latest[1] != hold.AUTHOR
