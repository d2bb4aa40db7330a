"""The Icinga Director basket (contrib/director/) from the CheckCommand, into a real Director.

The basket is written by contrib/director/make_basket.py from the shipped
CheckCommand; the shipped JSON must be what the script writes now, and its
fields what the CheckCommand's arguments say (names, descriptions, types).
Then, in the integration env: a real Director (icingacli over a throw-away
PostgreSQL, kickstarted from a real Icinga 2 that has the CheckCommand from
the shipped conf file) restores the basket with `icingacli director basket
restore`, gets a host and a service from the basket's template with fields
of each type set, renders and deploys; the Icinga 2 then runs the check with
those values against a real Dovecot, and the shipped Notification template
(pop3_ipmon_templates.conf, beside Director) computes the deployed service's
Notification from the template's F, Down and M.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.support.director import Director
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2, string
from tests.support.integration import wait_until
from tests.support.postgres import Postgres

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ROOT / "contrib" / "icinga2" / "pop3_ipmon_commands.conf"
TEMPLATES = ROOT / "contrib" / "icinga2" / "pop3_ipmon_templates.conf"
BASKET = ROOT / "contrib" / "director" / "pop3_ipmon-basket.json"
SCRIPT = ROOT / "contrib" / "director" / "make_basket.py"
BIN = Path(sys.executable).parent
TYPE = "Icinga\\Module\\Director\\DataType\\DataType"


def basket() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BASKET.read_text())
    return data


def test_the_shipped_basket_is_what_the_script_writes() -> None:
    made = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, timeout=60
    )
    assert made.stdout == BASKET.read_text(), "run contrib/director/make_basket.py again"


def test_every_variable_the_command_reads_is_a_field_of_its_kind() -> None:
    """Read the conf file another way than the script does: every $pop3_ipmon_X$
    in an argument or the environment has a field, and nothing else does."""
    text = COMMANDS.read_text()
    command = text[text.index('object CheckCommand "pop3_ipmon"') :]
    command = command[: command.index("\n}\n")]
    arguments = command[command.index("arguments = {") : command.index("\n  }\n")]
    env = command[command.index("env = {") :]
    env = env[: env.index("}")]
    import re

    read = set(re.findall(r"\$(pop3_ipmon_\w+)\$", arguments + env))
    fields = {f["varname"]: f for f in basket()["Datafield"].values()}
    # M, the one ipMonitor setting that is no service attribute, belongs to
    # the service template; F, Down and Up are its attributes.
    assert set(fields) == read | {"pop3_ipmon_max_alerts"}
    assert len(fields) == len(basket()["Datafield"])  # each once
    template = basket()["ServiceTemplate"]["pop3-ipmon-director"]
    [link] = template["fields"]
    assert basket()["Datafield"][str(link["datafield_id"])]["varname"] == "pop3_ipmon_max_alerts"
    assert template["vars"] == {"pop3_ipmon_alerting": True, "pop3_ipmon_max_alerts": 3}
    assert (template["max_check_attempts"], template["retry_interval"]) == (3, "60")
    assert "NotificationTemplate" not in basket()  # Director cannot hold its DSL

    # Flags are booleans, repeated options arrays, verbosity a number.
    def kind(name: str) -> str:
        return str(fields[name]["datatype"])[len(TYPE) :]

    for name in ("pop3_ipmon_login", "pop3_ipmon_ssl", "pop3_ipmon_insecure", "pop3_ipmon_ipv6"):
        assert kind(name) == "Boolean"
    for name in ("pop3_ipmon_expect", "pop3_ipmon_require_capa", "pop3_ipmon_probe"):
        assert kind(name) == "Array"
    assert kind("pop3_ipmon_verbose") == "Number"
    assert kind("pop3_ipmon_port") == "String"
    assert fields["pop3_ipmon_password"]["settings"] == {"visibility": "hidden"}
    # The argument's own description, word for word.
    assert fields["pop3_ipmon_busy_state"]["description"] == (
        "State when the login is refused for now, [LOGIN-DELAY] or [IN-USE] (default warning)"
    )
    assert f"description = {string(fields['pop3_ipmon_sni']['description'])}" in arguments
    links = basket()["ExternalCommand"]["pop3_ipmon"]["fields"]
    assert sorted(int(link["datafield_id"]) for link in links) == sorted(
        int(key) for key, f in basket()["Datafield"].items() if f["varname"] in read
    )


HOST, SERVICE = "pop3-director", "POP3 via Director"
OBJECT = "/v1/objects/services/" + urllib.parse.quote(f"{HOST}!{SERVICE}")


@pytest.mark.engines
def test_a_real_director_restores_renders_and_deploys_the_basket(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    postgres = Postgres()
    postgres.start()
    icinga = None
    try:
        director = Director(tmp_path / "icingaweb2", postgres)
        director.setup()
        zones = tmp_path / "zones.conf"
        zones.write_text('object Zone "director-global" { global = true }\n')
        # The site's notification rule, as pop3_ipmon_notifications.conf's.
        rule = tmp_path / "rule.conf"
        rule.write_text(
            'object NotificationCommand "recorded" { command = [ "/bin/true" ] }\n'
            'object User "admin" { }\n'
            'apply Notification "pop3-ipmon" to Service {\n'
            '  import "pop3-ipmon-notification"\n  command = "recorded"\n'
            '  users = [ "admin" ]\n'
            "  assign where service.vars.pop3_ipmon_alerting\n}\n"
        )
        icinga = Icinga2(
            tmp_path / "icinga2",
            [COMMANDS, zones, TEMPLATES, rule],
            constants={"PluginDir": str(BIN)},
            endpoint_address=True,
        )
        icinga.start()
        director.kickstart(icinga)
        out = director.cli("director", "basket", "restore", stdin=BASKET.read_text())
        assert "restored" in out, out
        # Every field, linked to the command kickstart found in Icinga 2.
        linked = postgres.sql(
            "SELECT count(*) FROM icinga_command_field f JOIN icinga_command c"
            " ON c.id = f.command_id WHERE c.object_name = 'pop3_ipmon'"
            " AND c.object_type = 'external_object'",
            database="director",
        )
        assert int(linked) == len(basket()["ExternalCommand"]["pop3_ipmon"]["fields"])
        host = {"object_type": "object", "address": "127.0.0.1", "check_command": "dummy"}
        director.cli("director", "host", "create", HOST, "--json", json.dumps(host))
        # A field of each kind: String, Boolean, Array, Number.
        values = {
            "pop3_ipmon_port": str(dovecot.port),
            "pop3_ipmon_capa": True,
            "pop3_ipmon_require_capa": ["UIDL", "TOP"],
            "pop3_ipmon_verbose": 1,
        }
        service = {
            "object_type": "object",
            "host": HOST,
            "imports": ["pop3-ipmon-director"],
            # The template's Up interval is 300 s: Icinga 2 would spread the
            # first check over it.
            "check_interval": "10",
            "vars": values,
        }
        director.cli("director", "service", "create", SERVICE, "--json", json.dumps(service))
        rendered = director.cli("director", "service", "show", SERVICE, "--host", HOST)
        assert 'import "pop3-ipmon-director"' in rendered, rendered
        director.cli("director", "config", "render")
        started = time.time()
        deployed = director.cli("director", "config", "deploy")
        assert "has been deployed" in deployed, deployed

        def found() -> bool:
            try:
                reply = icinga.api("GET", OBJECT)  # type: ignore[union-attr]
            except (OSError, RuntimeError):
                return False
            results = reply.get("results") or []
            if not results:
                return False
            attrs = results[0]["attrs"]
            return bool(attrs.get("last_check_result")) and attrs["last_check"] > started

        wait_until(found, 120, "Icinga 2 to run the service Director deployed")
        attrs = icinga.api("GET", OBJECT)["results"][0]["attrs"]
        [notification] = icinga.api(
            "GET", "/v1/objects/notifications/" + urllib.parse.quote(f"{HOST}!{SERVICE}!pop3-ipmon")
        )["results"]
    finally:
        if icinga is not None:
            icinga.stop()
        postgres.stop()
    # ipMonitor's timeline from the template's F = 3, Down = 60 s, M = 3:
    # a reminder every 180 s, none after the third alert.
    assert (attrs["max_check_attempts"], attrs["retry_interval"]) == (3, 60)
    assert attrs["check_interval"] == 10 and attrs["volatile"] is False
    assert notification["attrs"]["interval"] == 180, notification
    assert notification["attrs"]["times"] == {"end": 2 * 180 + 179}, notification
    assert attrs["check_command"] == "pop3_ipmon"
    assert {name: attrs["vars"][name] for name in values} == values
    result = attrs["last_check_result"]
    assert result["exit_status"] == 0, result["output"]
    output = result["output"]
    assert output.startswith("POP3 OK - greeting in "), output
    # --verbose 1 (the Number) gave the long output, --capa the CAPA read.
    assert "\n" in output and "capa_time" in " ".join(result["performance_data"]), result
