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

from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.core import monitor_name

TARGET_VARIABLE = "NAGIOS__SERVICEPOP3_IPMON_RECOVERY_TARGET"


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


def service_status(path: Path, host: str, service: str) -> Optional[dict[str, str]]:
    """The service's servicestatus block from status.dat, or None if absent."""
    block: Optional[dict[str, str]] = None
    with open(path, encoding="utf-8", errors="replace") as stream:
        for raw in stream:
            line = raw.strip()
            if line == "servicestatus {":
                block = {}
            elif block is not None and line == "}":
                if block.get("host_name") == host and block.get("service_description") == service:
                    return block
                block = None
            elif block is not None:
                key, sep, value = line.partition("=")
                if sep:
                    block[key] = value
    return None


def acknowledged(path: Path, host: str, service: str) -> bool:
    """Whether status.dat shows the service's problem acknowledged."""
    status = service_status(path, host, service)
    return status is not None and status.get("problem_has_been_acknowledged", "0") != "0"
