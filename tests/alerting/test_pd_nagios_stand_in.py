"""tests/support/pd_nagios.py takes and refuses what PagerDuty's pd-nagios does, and records it.

Run as the engines run it: a separate process, with pd-nagios' arguments.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import pd_nagios

SERVICE_FIELDS = ["-f", "HOSTNAME=mail1", "-f", "SERVICEDESC=POP3", "-f", "SERVICESTATE=CRITICAL"]


def run(record: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pd_nagios.command(record), *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("kind", "event"),
    [("PROBLEM", "trigger"), ("ACKNOWLEDGEMENT", "acknowledge"), ("RECOVERY", "resolve")],
)
def test_the_three_types_are_taken_and_recorded(tmp_path: Path, kind: str, event: str) -> None:
    record = tmp_path / "pd.jsonl"
    number = ["-f", "SERVICENOTIFICATIONNUMBER=2", "-f", "POP3_IPMON_STATE=Down"]
    result = run(record, "-n", "service", "-k", "KEY", "-t", kind, *SERVICE_FIELDS, *number)
    assert (result.returncode, result.stderr) == (0, "")
    (entry,) = pd_nagios.read(record)
    assert {k: entry[k] for k in entry if k not in ("time", "argv", "fields")} == {
        "accepted": True,
        "type": kind,
        "event": event,
        "number": 2,
        "host": "mail1",
        "service": "POP3",
        "state": "CRITICAL",
        "incident_key": "event_source=service;host_name=mail1;service_desc=POP3",
        "error": "",
    }
    assert entry["fields"]["POP3_IPMON_STATE"] == "Down"


@pytest.mark.parametrize("kind", ["CUSTOM", "DOWNTIMESTART", "FLAPPINGSTART", "problem", ""])
def test_any_other_type_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    record = tmp_path / "pd.jsonl"
    result = run(record, "-n", "service", "-k", "KEY", "-t", kind, *SERVICE_FIELDS)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert pd_nagios.accepted(record) == []
    (entry,) = pd_nagios.refused(record)
    assert entry["type"] == kind and "invalid choice" in entry["error"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["-n", "service", "-t", "PROBLEM", *SERVICE_FIELDS], "-k/--service-key"),
        (["-n", "3", "-k", "KEY", "-t", "PROBLEM", *SERVICE_FIELDS], "invalid choice: '3'"),
        (["-n", "service", "-k", "KEY", "-t", "PROBLEM", "-f", "HOSTNAME=mail1"], "Missing"),
        (["-n", "service", "-k", "KEY", "-t", "PROBLEM", "-f", "HOSTNAME"], "not KEY=VALUE"),
    ],
)
def test_what_pd_nagios_refuses_is_refused(tmp_path: Path, args: list[str], error: str) -> None:
    record = tmp_path / "pd.jsonl"
    result = run(record, *args)
    assert result.returncode == 2 and error in result.stderr
    assert [entry["accepted"] for entry in pd_nagios.read(record)] == [False]


def test_a_host_event_and_a_given_incident_key(tmp_path: Path) -> None:
    record = tmp_path / "pd.jsonl"
    host = ["-f", "HOSTNAME=mail1", "-f", "HOSTSTATE=DOWN", "-f", "HOSTNOTIFICATIONNUMBER=1"]
    assert run(record, "-n", "host", "-k", "KEY", "-t", "PROBLEM", *host).returncode == 0
    keyed = ["-i", "mine", "-c", "icinga", "-u", "https://icinga/"]
    assert (
        run(
            record, "-n", "service", "-k", "K", "-t", "RECOVERY", *SERVICE_FIELDS, *keyed
        ).returncode
        == 0
    )
    first, second = pd_nagios.accepted(record)
    assert (first["incident_key"], first["state"], first["number"]) == (
        "event_source=host;host_name=mail1",
        "DOWN",
        1,
    )
    assert (second["incident_key"], second["number"]) == ("mine", None)


def test_it_needs_a_record_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [*pd_nagios.command(tmp_path / "x")[:2], "-t", "PROBLEM"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--record FILE is required" in result.stderr
