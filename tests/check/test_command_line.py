"""Command-line behaviour of the installed console script: help, version, usage errors."""

from __future__ import annotations

import socket
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
        ((), "POP3 UNKNOWN - no arguments: give at least -H ADDRESS"),
        (("-H", "x", "-t", "abc"), "POP3 UNKNOWN - argument -t/--timeout: not a number: 'abc'"),
        (
            ("-H", "x", "-t", "0"),
            "POP3 UNKNOWN - argument -t/--timeout: must be above 0 seconds: '0'",
        ),
        (("-H", "x", "-p", "70000"), "POP3 UNKNOWN - argument -p/--port: not a TCP port: '70000'"),
        (
            ("-H", "x", "-w", "1e-300"),
            "POP3 UNKNOWN - argument -w/--warning: invalid range '1e-300' (e.g. 5, 10:, ~:5, @1:3)",
        ),
        (
            ("-H", "x", "-c", "5:1"),
            "POP3 UNKNOWN - argument -c/--critical: "
            "invalid range '5:1': start 5 must not be greater than end 1",
        ),
        (
            ("-H", "x", "-r", "maybe"),
            "POP3 UNKNOWN - argument -r/--refuse/--refuse-state: "
            "invalid state 'maybe' (ok, warning, critical, unknown)",
        ),
        (
            ("-H", "x", "--expect-regex", "("),
            "POP3 UNKNOWN - invalid --expect-regex regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            ("-H", "x", "-M", "maybe"),
            "POP3 UNKNOWN - argument -M/--mismatch/--mismatch-state: "
            "invalid state 'maybe' (ok, warning, critical, unknown)",
        ),
        (
            ("-H", "x", "-d", "0"),
            "POP3 UNKNOWN - argument -d/--delay: not a whole number above 0: '0'",
        ),
        (
            ("-H", "x", "-m", "0"),
            "POP3 UNKNOWN - argument -m/--maxbytes: not a whole number above 0: '0'",
        ),
        (
            ("-H", "x", "-D", "1.5"),
            "POP3 UNKNOWN - argument -D/--certificate: not a whole number of days: '1.5'",
        ),
        (
            ("-H", "x", "--tls", "none", "-D", "5"),
            "POP3 UNKNOWN - --certificate needs TLS (--tls starttls, --tls implicit or -S)",
        ),
        (
            ("-H", "x", "--extra", "s@f"),
            "POP3 UNKNOWN - write --extra-opts in full, on the command line "
            "(as the C plugins require)",
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
            "POP3 UNKNOWN - argument -D/--certificate: not a whole number of days: 'x'",
        ),
        (("-H", "x y"), "POP3 UNKNOWN - invalid host name: 'x y'"),
        (
            ("-H", "x", "-S", "--ca-file", "/nonexistent/ca.pem"),
            "POP3 UNKNOWN - cannot read --ca-file /nonexistent/ca.pem",
        ),
        (("-H", "x", "y", "z"), "POP3 UNKNOWN - unrecognized arguments: z"),
        (
            ("-H", "127.0.0.1", "-4", "-6"),
            "POP3 UNKNOWN - 127.0.0.1 is not an IPv6 address, but -6 was given",
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
    from check_pop3_ipmon.check import cli

    assert cli.parse(["-H", "x"]).settings.port == 110
    assert cli.parse(["-H", "x", "-S"]).settings.port == 995
    assert cli.parse(["-H", "x", "--tls", "implicit"]).settings.port == 995
    assert cli.parse(["-H", "x", "--tls", "starttls"]).settings.port == 110
    assert cli.parse(["-H", "x", "-S", "-p", "1995"]).settings.port == 1995
    opts = cli.parse(["-H", "x", "-S", "-D", "30"])
    # check_pop's whole days: -D 30 alerts below 31 days, CRITICAL below 1.
    assert (opts.cert_warn, opts.cert_crit) == (31.0, 1.0)
    # -D and --sni switch on implicit TLS, as in check_pop, unless --tls says otherwise.
    assert cli.parse(["-H", "x", "-D", "30,7"]).settings.tls == "implicit"
    assert cli.parse(["-H", "x", "-D", "30,7"]).cert_crit == 8.0
    # ... on check_pop's port (check_spop's 995 comes with -S).
    assert cli.parse(["-H", "x", "--sni", "pop.example"]).settings.port == 110
    assert cli.parse(["-H", "x", "--sni", "pop.example", "-S"]).settings.port == 995
    assert cli.parse(["-H", "x", "--tls", "starttls", "-D", "3"]).settings.tls == "starttls"


def test_check_pop_command_lines_parse_as_check_pop_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from check_pop3_ipmon.check import cli

    monkeypatch.setenv("CHECK_POP3_IPMON_PASSWORD", "for --login below")

    # No host: check_pop checks 127.0.0.1; a host without -H first or last counts too.
    assert cli.parse(["-p", "110"]).settings.host == "127.0.0.1"
    assert cli.parse(["pop.example", "-p", "110"]).settings.host == "pop.example"
    assert cli.parse(["-p", "110", "pop.example"]).settings.host == "pop.example"
    assert cli.parse(["-H", "a.example", "b.example"]).settings.host == "a.example"
    # Old spellings, and the last of -4/-6.
    opts = cli.parse(["-H", "x", "-to", "7", "-wt", "2", "-ct", "3", "-6", "-4"])
    assert (opts.settings.timeout, opts.warning, opts.critical) == (7.0, "2", "3")
    assert opts.settings.family == socket.AF_INET
    # States as check_pop compares them (strncmp), and ours.
    for text, code in (
        ("ok", 0),
        ("okay", 0),
        ("warn", 1),
        ("warning", 1),
        ("crit", 2),
        ("critical", 2),
        ("OK", 0),
        ("unknown", 3),
        ("1", 1),
    ):
        assert cli.parse(["-H", "x", "-r", text, "-M", text]).refuse_state == code, text
    # -e repeatable plain strings, -A, -M warning by default, long names.
    opts = cli.parse(["-H", "x", "-e", "+OK", "-e", "(", "-A", "--mismatch", "crit"])
    assert (opts.expect, opts.expect_all, opts.mismatch_state) == (("+OK", "("), True, 2)
    assert cli.parse(["-H", "x"]).mismatch_state == 1
    assert cli.parse(["-H", "x", "--refuse", "warn", "--jail"]).hide_banner
    # Accepted and not used: -s, -q, -d, -E, -C, -W, --protocol.
    opts = cli.parse(
        [
            "-H",
            "x",
            "-E",
            "-s",
            "CAPA\\r\\n",
            "-q",
            "BYE",
            "-d",
            "1",
            "-C",
            "1",
            "-W",
            "2",
            "--protocol",
            "tcp",
        ]
    )
    assert opts.settings.host == "x"
    # -w/-c numbers as check_pop's strtod reads them, kept as plain decimals.
    for given, kept in (
        (".5", "0.5"),
        ("5.", "5"),
        ("+2", "2"),
        ("1e-3", "0.001"),
        ("@1E1:2e1", "@10:20"),
    ):
        assert cli.parse(["-H", "x", "-w", given, "-c", given]).warning == kept, given
    assert cli.parse(["-H", "x", "-t", "100000"]).settings.timeout == 86400.0
    # Every range reads numbers so (--size-crit 1e9 is a byte count, printed plainly).
    assert (
        cli.parse(
            ["-H", "x", "--login", "-u", "a", "--auth", "apop", "--size-crit", "1e9"]
        ).size_crit
        == "1000000000"
    )
    assert cli.parse(["-H", "x", "-t", "0.5"]).settings.timeout == 0.5
    # -m as check_pop takes it: any whole number, used up to 1 MiB.
    assert cli.parse(["-H", "x", "-m", "1"]).settings.max_greeting == 1
    assert cli.parse(["-H", "x", "-m", "99999999"]).settings.max_greeting == 1 << 20


@pytest.mark.parametrize(
    ("words", "argparse_words"),
    [
        (["-to", "5", "-e", "-to"], ["-t", "5", "-e-t"]),
        (["-e", "-ERR", "-M", "ok"], ["-e-ERR", "-M", "ok"]),
        (["-e", ""], ["-e", ""]),
        (
            ["--mis=ok", "--ref", "warn", "--exp=x"],
            ["--mismatch=ok", "--refuse", "warn", "--expect=x"],
        ),
        # Ambiguous among check_pop's own, or not one of them: left to argparse.
        (
            ["--c=1", "--v", "--cert-warn=3", "--all", "--tls", "none"],
            ["--c=1", "--v", "--cert-warn=3", "--all", "--tls", "none"],
        ),
        (["--cert=3", "--s"], ["--certificate=3", "--s"]),
    ],
)
def test_command_words_are_read_as_check_pops_getopt_reads_them(
    words: list[str], argparse_words: list[str]
) -> None:
    from check_pop3_ipmon.check import cli

    assert cli._as_getopt(words) == argparse_words
