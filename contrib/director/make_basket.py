#!/usr/bin/env python3
"""Write the Icinga Director basket from the shipped CheckCommand.

    python3 contrib/director/make_basket.py > contrib/director/pop3_ipmon-basket.json

Every field comes from contrib/icinga2/pop3_ipmon_commands.conf, so the two
cannot disagree (tests/packaging/test_director_basket.py runs this and
compares): one Director data field per custom variable the CheckCommand's
arguments and environment read, its description the argument's own, its type
from how the argument uses it:

- `set_if = "$var$"`: a flag, Boolean;
- `set_if = {{ ... }}` (a function of the variable, --verbose's level): Number;
- `repeat_key = true` (a string or an array, one option per element): Array;
- anything else: String; the password (the environment's) hidden.

The command itself is an ExternalCommand: Icinga 2 already has it from the
conf file (Debian's package puts it in plugins-contrib.d; elsewhere it is
copied, contrib/README.md), with what Director cannot render (the address
and verbosity functions, the ITL pop_* fallbacks as command variables), and
a Director-rendered copy would be a duplicate the configuration check
refuses. The basket gives Director its fields, a service template and, from
contrib/icinga2/pop3_ipmon_templates.conf, the Notification template's
types, states and interval (its configuration-time check of the monitor
name's length is Icinga 2 DSL, which a Director template cannot hold).

Standard library only, Python 3.9+.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

COMMANDS = Path(__file__).resolve().parents[1] / "icinga2" / "pop3_ipmon_commands.conf"
TEMPLATES = COMMANDS.with_name("pop3_ipmon_templates.conf")
NOTIFICATION_TEMPLATE = "pop3-ipmon-notification"
COMMAND = "pop3_ipmon"
SERVICE_TEMPLATE = "pop3-ipmon-director"
PREFIX = "pop3_ipmon_"
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
        if "set_if" in spec and spec["set_if"].startswith("{{"):
            varname, kind = _variable(spec["set_if"]), "Number"
        elif "set_if" in spec:
            varname, kind = _variable(spec["set_if"]), "Boolean"
        else:
            varname = _variable(spec["value"])
            kind = "Array" if spec.get("repeat_key") == "true" else "String"
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


def notification_template(text: str) -> dict[str, Any]:
    """The shipped Notification template's types, states and interval, as Director's."""
    start = text.find(f'template Notification "{NOTIFICATION_TEMPLATE}"')
    if start < 0:
        return {}
    body = text[start : text.index("\n}\n", start)]

    def words(name: str) -> list[str]:
        found = re.search(rf"^\s*{name} = \[([^\]]*)\]", body, re.M)
        return [w.strip() for w in found[1].split(",")] if found else []

    interval = re.search(r"^\s*interval = (\w+)", body, re.M)
    return {
        NOTIFICATION_TEMPLATE: {
            "object_name": NOTIFICATION_TEMPLATE,
            "object_type": "template",
            "types": words("types"),
            "states": words("states"),
            "notification_interval": interval[1] if interval else None,
            "fields": [],
        }
    }


def basket(text: str, templates: str = "") -> dict[str, Any]:
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
                "check_interval": "60",
                "retry_interval": "60",
                "max_check_attempts": 3,
                "enable_perfdata": True,
                "fields": [],
            }
        },
        **(
            {"NotificationTemplate": notification_template(templates)}
            if notification_template(templates)
            else {}
        ),
    }


def main() -> None:
    made = basket(COMMANDS.read_text(), TEMPLATES.read_text() if TEMPLATES.exists() else "")
    json.dump(made, sys.stdout, indent=4, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
