"""The alerting handler's call into recovery: facts from its arguments, env, status.dat."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from check_pop3_ipmon.recovery import hook
from tests.recovery.conftest import REMOTE, Recovery

ALERTING = hook.Alerting(
    engine="icinga2",
    service="pop3",
    alert=1,
    facts=hook.Facts(
        monitor="Mail POP3",
        host="mail1",
        state="CRITICAL",
        ipmon_state="Down",
        failures=3,
        in_downtime=False,
        enabled=True,
        acknowledged=False,
        address=REMOTE,
        host_state="UP",
        output="POP3 CRITICAL - refused",
    ),
)


def alerting(
    engine: str = "icinga2", acknowledged_known: bool = True, **facts: Any
) -> hook.Alerting:
    return dataclasses.replace(
        ALERTING,
        engine=engine,
        acknowledged_known=acknowledged_known,
        facts=dataclasses.replace(ALERTING.facts, **facts),
    )


def configure(recovery: Recovery) -> Path:
    return recovery.write(
        f"""\
[service mail1!pop3]
actions = page

[action page]
type = external-process
alerts = 1
command = {recovery.recorder()}
"""
    )


def test_icinga2_facts_come_from_the_arguments(
    recovery: Recovery, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test-hook")
    with caplog.at_level(logging.INFO, "test-hook"):
        assert hook.run(configure(recovery), ALERTING, log, env={}) == 0
    (call,) = recovery.calls()
    assert call["env"]["POP3_IPMON_SERVICE"] == "mail1!pop3"
    assert call["env"]["POP3_IPMON_OUTPUT"] == "POP3 CRITICAL - refused"
    assert caplog.messages == [
        f"mail1!pop3: recovery page (external-process) on {REMOTE} at alert 1: ok - run"
    ]


def test_nagios_facts_come_from_environment_macros(recovery: Recovery) -> None:
    nagios = alerting("nagios", address="", output="", host_state="", monitor="")
    env = {
        "NAGIOS_SERVICEDISPLAYNAME": "Mail POP3 (head office)",
        "NAGIOS_HOSTADDRESS": REMOTE,
        "NAGIOS_HOSTSTATE": "UP",
        "NAGIOS_SERVICEOUTPUT": "from the environment",
    }
    assert hook.run(configure(recovery), nagios, logging.getLogger("t"), env=env) == 0
    (call,) = recovery.calls()
    assert call["env"]["POP3_IPMON_ADDRESS"] == REMOTE
    assert call["env"]["POP3_IPMON_OUTPUT"] == "from the environment"
    assert call["env"]["POP3_IPMON_MONITOR"] == "Mail POP3 (head office)"


def test_a_hostile_address_in_the_environment_runs_nothing(recovery: Recovery) -> None:
    nagios = alerting("nagios", address="")
    env = {"NAGIOS_HOSTADDRESS": "x';touch /tmp/pwned;'"}
    assert hook.run(configure(recovery), nagios, logging.getLogger("t"), env=env) == 2
    assert recovery.calls() == []


def test_nagios_acknowledgement_comes_from_status_dat(recovery: Recovery) -> None:
    status = recovery.root / "status.dat"
    status.write_text(
        "servicestatus {\n\thost_name=mail1\n\tservice_description=pop3\n"
        "\tproblem_has_been_acknowledged=1\n\t}\n"
    )
    nagios = alerting("nagios", acknowledged_known=False)
    code = hook.run(configure(recovery), nagios, logging.getLogger("t"), env={}, status_file=status)
    assert code == 0
    assert recovery.calls() == []
    assert recovery.audit()[0]["reason"] == "the problem is acknowledged"


def test_no_alert_number_no_action_and_bad_config_is_refused(recovery: Recovery) -> None:
    path = configure(recovery)
    warn = dataclasses.replace(alerting(ipmon_state="Warn", failures=1), alert=0)
    assert hook.run(path, warn, logging.getLogger("t"), env={}) == 0
    assert recovery.calls() == []
    path.write_text("[nonsense\n")
    assert hook.run(path, ALERTING, logging.getLogger("t"), env={}) == 2
