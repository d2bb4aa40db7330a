"""--round-trip without servers: its usage errors, its state file, what it recognises as its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from check_pop3_ipmon.check import roundtrip, tokens
from tests.support.output import run_plugin

BASE = ["-H", "127.0.0.1", "-p", "1", "--tls", "implicit"]
LOGIN = ["--login", "-u", "alice@example.test", "--password-env", "RT_PASSWORD"]
ENV = {"RT_PASSWORD": "secret-word"}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--round-trip", "--state-file", "/tmp/x"], "--round-trip needs --login"),
        ([*LOGIN, "--round-trip"], "--round-trip needs --state-file FILE"),
        ([*LOGIN, "--smtp-port", "587"], "--smtp-port needs --round-trip"),
        (
            [*LOGIN, "--round-trip", "--state-file", "/tmp/x", "--mail-to", "nobody"],
            "--mail-to 'nobody' is not a mail address",
        ),
        (
            [
                *LOGIN,
                "--round-trip",
                "--state-file",
                "/tmp/x",
                "--delivery-warn",
                "9",
                "--delivery-crit",
                "3",
            ],
            "--delivery-warn is longer than --delivery-crit",
        ),
    ],
)
def test_usage_errors_are_unknown(args: list[str], error: str) -> None:
    run = run_plugin(*BASE, *args, env=ENV)
    assert run.code == 3
    assert run.first.startswith(f"POP3 UNKNOWN - {error}"), run.first
    assert "secret-word" not in run.stdout


def test_a_state_directory_others_may_write_is_unknown(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    state = shared / "rt.json"
    run = run_plugin(*BASE, *LOGIN, "--round-trip", "--state-file", str(state), env=ENV)
    assert run.code == 3
    assert run.first == (
        f"POP3 UNKNOWN - --state-file directory {shared} has mode 0777: group/other may write "
        "it; run chmod 700 on it"
    )
    assert not state.exists()


def test_an_unusable_state_file_is_moved_aside_and_a_fresh_one_kept(tmp_path: Path) -> None:
    state = tmp_path / "rt.json"
    state.write_text('{"version": 1, "pending": {"not-a-token": 1}, "lost": {}, "not_ours": []}')
    args = ["--round-trip", "--state-file", str(state), "--smtp-port", "1", "-v"]
    run = run_plugin(*BASE, *LOGIN, *args, env=ENV)
    # Nothing listens on port 1: the SMTP leg is refused, so nothing is pending.
    assert run.code == 2
    assert run.first.startswith("POP3 CRITICAL - SMTP: connection refused by 127.0.0.1:1")
    assert run.first.endswith("; 0 pending, 0 lost"), run.first
    assert any("unusable: bad pending entry; moved to rt.json.unusable" in x for x in run.lines)
    assert json.loads(state.read_text())["pending"] == {}
    assert (tmp_path / "rt.json.unusable").exists()
    assert state.stat().st_mode & 0o077 == 0


def test_pending_tokens_age_into_lost_and_lost_ones_are_forgotten() -> None:
    table = tokens.Tokens()
    old, fresh = "a" * 32, "b" * 32
    table.pending = {old: 1000.0, fresh: 4000.0}
    assert table.age(4100.0, 3000.0) == [old]
    assert (table.pending, table.lost) == ({fresh: 4000.0}, {old: 4100.0})
    assert table.owns(old) and table.owns(fresh) and not table.owns("c" * 32)
    table.age(4100.0 + tokens.LOST_KEPT + 1, 1e9)
    assert table.lost == {} and table.owns(fresh)


def _headers(token: str, message_id: str) -> list[bytes]:
    return [
        b"Subject: x",
        f"X-Check-Pop3-Ipmon-Token: {token}".encode(),
        b"Message-ID:",
        f" {message_id}".encode(),  # folded: read as one field
        b"",
        b"body: X-Check-Pop3-Ipmon-Token: " + b"d" * 32,
    ]


def test_only_a_token_and_its_message_id_together_make_a_message_ours() -> None:
    token = "e" * 32
    assert roundtrip.headers_token(_headers(token, f"<{token}@check-pop3-ipmon.invalid>")) == token
    assert roundtrip.headers_token(_headers(token, "<other@example.test>")) is None
    assert (
        roundtrip.headers_token(_headers("E" * 32, f"<{'E' * 32}@check-pop3-ipmon.invalid>"))
        is None
    )
    assert roundtrip.headers_token([b"Subject: hi", b"", b"X-Check-Pop3-Ipmon-Token: x"]) is None


def test_the_readme_lists_each_smtp_phase_as_the_registry_says() -> None:
    from check_pop3_ipmon.check.phases import SMTP_PHASES
    from tests.check.test_readme_tables import table

    rows = {cells[0].strip("`"): cells for cells in table("| round-trip label | unit | what |")}
    for phase in SMTP_PHASES:
        cells = rows.pop(f"{phase.name}_time")
        assert cells[1:] == ["s", phase.described()] or cells[2].replace("`", "") == (
            phase.described()
        )
    assert sorted(rows) == ["delivery_time", "pending`, `lost`, `late", "smtp_cert_days"]


def test_the_plain_check_loads_nothing_of_the_round_trip() -> None:
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules);"
        "from check_pop3_ipmon.check import cli, run;"
        "options = cli.parse(['-H', '127.0.0.1', '-p', '1']); run.build_check(options);"
        "print(sorted(m for m in sys.modules if m not in before and m.split('.')[-1] in"
        " ('smtp', 'smtplib', 'roundtrip', 'roundtrip_options', 'roundtrip_plugin', 'tokens',"
        " 'statestore', 'secrets', 'email')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "[]\n"


def test_the_report_reads_a_round_trip_result_as_any_other() -> None:
    from check_pop3_ipmon.report.perfdata import parse_line

    line = (
        b"DATATYPE::SERVICEPERFDATA\tTIMET::1764578168\tHOSTNAME::mail1\tSERVICEDESC::POP3\t"
        b"SERVICECHECKCOMMAND::check_pop3_ipmon!--round-trip\tSERVICESTATE::OK\t"
        b"SERVICESTATETYPE::HARD\tSERVICEDOWNTIME::0\tHOSTDOWNTIME::0\t"
        b"SERVICEPERFDATA::time=1.2s;;;0;20 delivery_time=0.4s;30;60;0 "
        b"smtp_connect_time=0.01s;;;0 connect_time=0.001s;;;0 pending=0;;;0 lost=1;;;0\t"
        b"SERVICEOUTPUT::POP3 OK - message delivered"
    )
    result = parse_line(line)
    assert (result.state, result.phases) == (0, {"time": 1.2, "connect_time": 0.001})
    assert result.extra == {"delivery_time": 0.4, "smtp_connect_time": 0.01, "pending": 0.0,
                            "lost": 1.0}  # fmt: skip
    assert result.bad_items == 0
