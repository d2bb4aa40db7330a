#!/usr/bin/env python3
"""Write the Icinga Director basket from the shipped CheckCommand.

    python3 contrib/director/make_basket.py > contrib/director/pop3_ipmon-basket.json

Every field comes from contrib/icinga2/pop3_ipmon_commands.conf, so the two
cannot disagree (tests/packaging/test_director_basket.py runs this and
compares): one Director data field per custom variable the CheckCommand's
arguments and environment read, its description the argument's own, its type
from how the argument uses it:

- `set_if = "$var$"`: a flag, Boolean;
- a function of the variable as value and set_if (--verbose's level): Number;
- a `set_if = {{ ... }}` guard beside a plain value (it leaves out an unset
  ITL pop_* fallback): the value's kind;
- `repeat_key = true` (a string or an array, one option per element): Array;
- anything else: String; the password (the environment's) hidden.

The command itself is an ExternalCommand: Icinga 2 already has it from the
conf file (Debian's package puts it in plugins-contrib.d; elsewhere it is
copied, contrib/README.md), with what Director cannot render (the address
and verbosity functions, the ITL pop_* fallbacks as command variables), and
a Director-rendered copy would be a duplicate the configuration check
refuses. The basket gives Director its fields and a service template with
ipMonitor's defaults (F = max_check_attempts, Down = retry_interval, Up =
check_interval, M = vars.pop3_ipmon_max_alerts, a field of its own). The
Notification template stays in contrib/icinga2/pop3_ipmon_templates.conf:
it computes its interval, times and variables from the service in Icinga 2
DSL, which a Director template cannot hold, and applies to Director's
services as to any other with vars.pop3_ipmon_alerting.

Standard library only, Python 3.9+.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

COMMANDS = Path(__file__).resolve().parents[1] / "icinga2" / "pop3_ipmon_commands.conf"
COMMAND = "pop3_ipmon"
SERVICE_TEMPLATE = "pop3-ipmon-director"
PREFIX = "pop3_ipmon_"
MAX_ALERTS = "pop3_ipmon_max_alerts"
MAX_ALERTS_DESCRIPTION = (
    "ipMonitor's maximum number of alerts per outage (M); F is the service's "
    "max_check_attempts, the Down interval its retry_interval, the Up interval its check_interval"
)
TYPES = "Icinga\\Module\\Director\\DataType\\DataType"
PASSWORD_DESCRIPTION = (
    "The login password, if not in an authfile: passed to the check in the environment "  # noqa: S105
    "(CHECK_POP3_IPMON_PASSWORD), never on its command line"
)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\{\{.*?\}\}|//[^\n]*|/\*.*?\*/|[{}=]|[^\s{}="]+', re.S)


def tokens(text: str) -> list[str]:
    """The DSL's strings, functions ({{ }}), braces, '=' and bare words; no comments."""
    return [t for t in _TOKEN.findall(text) if not t.startswith(("//", "/*"))]


def block(items: list[str], start: int) -> tuple[dict[str, Any], int]:
    """A `{ key = value ... }` from items[start] (the "{"): values are strings,
    functions, bare words or nested blocks; the index after its "}"."""
    if items[start] != "{":
        raise ValueError(f"expected {{ at {' '.join(items[start : start + 3])!r}")
    out: dict[str, Any] = {}
    i = start + 1
    while items[i] != "}":
        key = items[i]
        if items[i + 1] != "=":  # a statement without "=" (import "x")
            out.setdefault("__statements__", []).append((key, items[i + 1]))
            i += 2
            continue
        if items[i + 2] == "{":
            out[_unquote(key)], i = block(items, i + 2)
        else:
            out[_unquote(key)] = _unquote(items[i + 2])
            i += 3
    return out, i + 1


def _unquote(token: str) -> str:
    return json.loads(token) if token.startswith('"') else token


def check_command(text: str) -> dict[str, Any]:
    items = tokens(text)
    for i, word in enumerate(items):
        named = _unquote(items[i + 1]) == COMMAND if i + 1 < len(items) else False
        if word == "CheckCommand" and items[i - 1] == "object" and named:
            found, _end = block(items, i + 2)
            return found
    raise ValueError(f"no object CheckCommand {COMMAND!r}")


def _variable(text: str) -> str:
    match = re.search(r"\$(" + PREFIX + r"\w+)\$", text)
    if match is None:
        raise ValueError(f"no ${PREFIX}...$ in {text!r}")
    return match[1]


def fields(command: dict[str, Any]) -> list[dict[str, Any]]:
    """(varname, caption, description, type, settings, argument) in the arguments' order."""
    out = []
    for argument, given in command["arguments"].items():
        spec = {"value": given} if isinstance(given, str) else given
        if "value" in spec and not spec["value"].startswith("{{"):
            # A set_if function beside a value only leaves out an empty one
            # (an ITL pop_* fallback that is not set): the value's kind.
            varname = _variable(spec["value"])
            kind = "Array" if spec.get("repeat_key") == "true" else "String"
        elif spec.get("set_if", "").startswith("{{"):
            varname, kind = _variable(spec["set_if"]), "Number"
        elif "set_if" in spec:
            varname, kind = _variable(spec["set_if"]), "Boolean"
        else:
            raise ValueError(f"argument {argument}: neither a value nor set_if")
        out.append(
            {
                "varname": varname,
                "description": spec["description"],
                "datatype": kind,
                "settings": {},
                "argument": argument,
            }
        )
    for name, value in command.get("env", {}).items():
        out.append(
            {
                "varname": _variable(value),
                "description": PASSWORD_DESCRIPTION,
                "datatype": "String",
                "settings": {"visibility": "hidden"},
                "argument": f"env {name}",
            }
        )
    return out


def caption(varname: str) -> str:
    """'pop3_ipmon_tls_min_version' -> 'POP3 tls min version'."""
    return "POP3 " + varname[len(PREFIX) :].replace("_", " ")


def basket(text: str) -> dict[str, Any]:
    command = check_command(text)
    made = fields(command)
    datafields = {}
    links = []
    for number, field in enumerate(made, 1):
        datafields[str(number)] = {
            "varname": field["varname"],
            "caption": caption(field["varname"]),
            "description": field["description"],
            "datatype": TYPES + field["datatype"],
            "format": None,
            "category": None,
            "originalId": str(number),
            "settings": field["settings"],
        }
        links.append({"datafield_id": number, "is_required": "n", "var_filter": None})
    datafields[str(len(made) + 1)] = {
        "varname": MAX_ALERTS,
        "caption": "ipMonitor maximum alerts (M)",
        "description": MAX_ALERTS_DESCRIPTION,
        "datatype": TYPES + "Number",
        "format": None,
        "category": None,
        "originalId": str(len(made) + 1),
        "settings": {},
    }
    executable = _unquote(re.search(r'PluginContribDir \+ ("[^"]+")', text)[1])  # type: ignore[index]
    return {
        "Datafield": datafields,
        "ExternalCommand": {
            COMMAND: {
                "object_name": COMMAND,
                "object_type": "external_object",
                "methods_execute": "PluginCheck",
                "command": "PluginContribDir + " + json.dumps(executable),
                "fields": links,
            }
        },
        "ServiceTemplate": {
            SERVICE_TEMPLATE: {
                "object_name": SERVICE_TEMPLATE,
                "object_type": "template",
                "check_command": COMMAND,
                # ipMonitor's defaults, as pop3_ipmon_templates.conf's
                # service: Up 300 s, Down 60 s, F = 3, M = 3. The Notification
                # template there reads F, Down and M from these.
                "check_interval": "300",
                "retry_interval": "60",
                "max_check_attempts": 3,
                "volatile": False,
                "enable_flapping": False,
                "enable_perfdata": True,
                "vars": {"pop3_ipmon_alerting": True, MAX_ALERTS: 3},
                "fields": [{"datafield_id": len(made) + 1, "is_required": "y", "var_filter": None}],
            }
        },
    }


def main() -> None:
    made = basket(COMMANDS.read_text())
    json.dump(made, sys.stdout, indent=4, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
