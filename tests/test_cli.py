"""Command-line behaviour of the installed console script: help, version, usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from check_pop3_ipmon import __version__
from tests.support.output import run_plugin

USAGE = (
    "Usage: check_pop3_ipmon -H ADDRESS [-p PORT] [-t SECONDS] [-w RANGE] [-c RANGE] "
    "[--tls none|starttls|implicit] [-S] ... (see --help)"
)


def test_help_has_check_and_perfdata_sections_and_exits_unknown() -> None:
    run = run_plugin("--help")
    assert run.code == 3
    assert run.lines[0].startswith("usage: check_pop3_ipmon -H ADDRESS")
    for heading in ("Check:", "Perfdata:", "Options:", "TLS:"):
        assert heading in run.lines, heading
    for option in (
        "--hostname",
        "--timeout",
        "--refuse-state",
        "--mismatch-state",
        "--expect",
        "--hide-banner",
        "--tls",
        "--ssl",
        "--sni",
        "--ca-file",
        "--insecure",
        "--cert-warn",
        "--cert-crit",
        "--certificate",
        "--use-ipv4",
        "--use-ipv6",
    ):
        assert option in run.stdout, option
    assert run_plugin("-h").stdout == run.stdout


def test_version() -> None:
    run = run_plugin("-V")
    assert (run.code, run.stdout) == (3, f"check_pop3_ipmon {__version__}\n")


def test_module_entry_point_behaves_like_the_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "check_pop3_ipmon", "-V"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (3, f"check_pop3_ipmon {__version__}\n")


@pytest.mark.parametrize(
    ("args", "first"),
    [
        ((), "POP3 UNKNOWN - the following arguments are required: -H/--hostname"),
        (("-H", "x", "-t", "abc"), "POP3 UNKNOWN - argument -t/--timeout: not a number: 'abc'"),
        (
            ("-H", "x", "-t", "0"),
            "POP3 UNKNOWN - argument -t/--timeout: must be between 0 and 86400: '0'",
        ),
        (("-H", "x", "-p", "70000"), "POP3 UNKNOWN - argument -p/--port: not a TCP port: '70000'"),
        (
            ("-H", "x", "-w", "1e-3"),
            "POP3 UNKNOWN - argument -w/--warning: invalid range '1e-3' (e.g. 5, 10:, ~:5, @1:3)",
        ),
        (
            ("-H", "x", "-c", "5:1"),
            "POP3 UNKNOWN - argument -c/--critical: "
            "invalid range '5:1': start 5 must not be greater than end 1",
        ),
        (
            ("-H", "x", "-r", "maybe"),
            "POP3 UNKNOWN - argument -r/--refuse-state: "
            "invalid state 'maybe' (ok, warning, critical, unknown)",
        ),
        (
            ("-H", "x", "-e", "("),
            "POP3 UNKNOWN - invalid --expect regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            ("-H", "x", "-S", "--tls", "starttls"),
            "POP3 UNKNOWN - -S/--ssl means implicit TLS, but --tls starttls was given",
        ),
        (
            ("-H", "x", "--cert-warn", "5"),
            "POP3 UNKNOWN - --cert-warn needs TLS (--tls starttls, --tls implicit or -S)",
        ),
        (
            ("-H", "x", "-S", "-D", "5", "--cert-crit", "2"),
            "POP3 UNKNOWN - -D/--certificate and --cert-warn/--cert-crit exclude each other",
        ),
        (
            ("-H", "x", "-S", "-D", "5,x"),
            "POP3 UNKNOWN - argument -D/--certificate: not a number of days: 'x'",
        ),
        (("-H", "x y"), "POP3 UNKNOWN - invalid host name: 'x y'"),
        (
            ("-H", "x", "-S", "--ca-file", "/nonexistent/ca.pem"),
            "POP3 UNKNOWN - cannot read --ca-file /nonexistent/ca.pem",
        ),
        (("-H", "x", "-s", "HELO"), "POP3 UNKNOWN - unrecognized arguments: -s HELO"),
        (
            ("-H", "x", "-4", "-6"),
            "POP3 UNKNOWN - argument -6/--use-ipv6: not allowed with argument -4/--use-ipv4",
        ),
    ],
)
def test_usage_errors_are_unknown_with_a_usage_line(args: tuple[str, ...], first: str) -> None:
    run = run_plugin(*args)
    assert run.code == 3
    assert run.lines == [first, USAGE]
    assert run.stderr == ""


def test_unresolvable_name_is_critical_with_the_resolvers_reason() -> None:
    run = run_plugin("-H", "no-such-host.invalid", "-t", "5")
    assert run.code == 2
    assert run.first.startswith("POP3 CRITICAL - cannot resolve no-such-host.invalid: ")
    assert len(run.first) > len("POP3 CRITICAL - cannot resolve no-such-host.invalid: ")
    assert "time" in run.perfdata


def test_default_ports_follow_the_tls_mode() -> None:
    from check_pop3_ipmon import cli

    assert cli.parse(["-H", "x"]).settings.port == 110
    assert cli.parse(["-H", "x", "-S"]).settings.port == 995
    assert cli.parse(["-H", "x", "--tls", "implicit"]).settings.port == 995
    assert cli.parse(["-H", "x", "--tls", "starttls"]).settings.port == 110
    assert cli.parse(["-H", "x", "-S", "-p", "1995"]).settings.port == 1995
    opts = cli.parse(["-H", "x", "-S", "-D", "30"])
    assert (opts.cert_warn, opts.cert_crit) == (30.0, 0.0)
