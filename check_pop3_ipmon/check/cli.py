"""Command line: the options of monitoring-plugins' check_pop, and ours.

Usage errors are UNKNOWN (exit 3) with a usage line, never argparse's exit 2
(which an engine would read as CRITICAL). -h and -V exit 3 as well, as every
monitoring-plugins program does.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from collections.abc import Sequence

from check_pop3_ipmon import __version__
from check_pop3_ipmon.check import values
from check_pop3_ipmon.check.login import AUTH_METHODS, Login
from check_pop3_ipmon.check.record import Record
from check_pop3_ipmon.check.session import (
    SERVICE,
    TLS_IMPLICIT,
    TLS_NONE,
    TLS_STARTTLS,
    Settings,
    literal_family,
)

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Callable, NoReturn, Optional

    from check_pop3_ipmon.check.roundtrip import RoundTripSettings

PROG = "check_pop3_ipmon"
UNKNOWN = 3
DEFAULT_HOST = "127.0.0.1"  # check_pop's, when no host is given
# check_pop's "backwards compatibility" spellings, rewritten as it does.
_OLD_FLAGS = {"-to": "-t", "-wt": "-w", "-ct": "-c"}
# check_pop's long options (check_tcp.c), for getopt_long's abbreviations.
_CHECK_POP_LONG = (
    "hostname", "critical", "warning", "critical-codes", "warning-codes", "timeout",
    "protocol", "port", "escape", "all", "send", "expect", "maxbytes", "quit", "jail",
    "delay", "refuse", "mismatch", "use-ipv4", "use-ipv6", "verbose", "version", "help",
    "ssl", "sni", "certificate",
)  # fmt: skip
# Its short options with a value: getopt takes the next word even if it starts with "-".
_CHECK_POP_VALUED = frozenset("HsemqcwtpCWdrDM")
# Where the password comes from without --authfile (an Icinga 2 CheckCommand's
# `env` sets it); --password-env names another (Nagios's environment macros).
ENV_DEFAULT = "CHECK_POP3_IPMON_PASSWORD"
# Patterns as text: re compiles (and caches) them on first use, so a check
# without the option does not pay for compiling them at start-up.
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


USAGE = (
    f"Usage: {PROG} -H ADDRESS [-p PORT] [-t SECONDS] [-w RANGE] [-c RANGE] "
    "[--tls none|starttls|implicit] [-S] ... (see --help)"
)

DESCRIPTION = """\
Checks a POP3 server the way SolarWinds ipMonitor's POP3 monitor did: connect,
read the greeting, send QUIT, disconnect, all within one deadline (-t).
Optionally reads CAPA, logs in and counts the mailbox (STAT; nothing is ever
deleted or changed), and tests every address of a name at once.

Check:
  OK        the server greets with "+OK" and answers QUIT, in time.
  WARNING   response time beyond -w; -e or --expect-regex not found in the
            greeting (-M); QUIT unanswered or refused; certificate
            expiring within --cert-warn days; plaintext authentication offered
            before TLS (--forbid-plaintext-auth, --policy-state); messages or
            mailbox size beyond --messages-warn/--size-warn; a login
            refused for now, [LOGIN-DELAY] or [IN-USE] (--busy-state); CAPA's
            LOGIN-DELAY longer than --check-interval.
  CRITICAL  no answer, refused connection (-r), timeout (--timeout-state),
            "-ERR" greeting, anything that is not a POP3 greeting (a "220"
            banner is an SMTP server), greeting over -m bytes, TLS failure or
            certificate not valid, STLS not offered, response time beyond
            -c, certificate within --cert-crit days; login failed (with the
            server's text and response code such as
            [AUTH], [SYS/TEMP]); no usable login
            method; STAT failed; a --require-capa capability missing;
            messages or size beyond --messages-crit/--size-crit.
  UNKNOWN   bad arguments; an --authfile (or an --extra-opts file holding
            a password) that group or others can read.
  A state that -r, -M, --timeout-state, --policy-state or --busy-state
  changed says so:
  "connection refused by 127.0.0.1:110, reported OK as asked by -r".

  With --all-addresses, each address of -H is tested at once; the worst
  state counts and the status line sums them up, e.g.
  "3 addresses: 2 OK, 1 CRITICAL (127.0.0.3: connection refused)".
"""

_PERFDATA_HEAD = """\
Perfdata:
  time           seconds, whole test (DNS to QUIT); -w/-c apply; max = -t
"""
# The phases' items come from phases.py, the one list of them.
_PERFDATA_TAIL = """\
  cert_days      days until the certificate's notAfter (with TLS);
                 --cert-warn/--cert-crit apply
  messages       messages in the mailbox; --messages-warn/--messages-crit apply
  mailbox_size   bytes in the mailbox (B); --size-warn/--size-crit apply
"""
EPILOG_REST = """\
  With --all-addresses, each address's items are prefixed with it in
  letters, digits and "_" only, which Graphite and InfluxDB keep as one name
  ("ip4_127_0_0_1_time", "ip6_0_0_0_0_0_0_0_1_time", where -w/-c apply);
  time and resolve_time are the whole test's.
  With --round-trip: delivery_time (seconds from SMTP's acceptance to POP3
  listing the message; --delivery-warn/--delivery-crit apply), the SMTP
  leg's smtp_<phase>_time and smtp_cert_days, and pending, lost and late
  (messages waited for, counted lost, arrived late and deleted now); time is
  the whole round trip.

check_pop compatibility:
  check_pop's command lines run unchanged (-e is its plain substring, -M
  defaults to warning, -D and --sni switch TLS on, no host means 127.0.0.1).
  Its -s, -q, -d, -E, -C, -W and --protocol are accepted and not used: QUIT
  is always sent and --capa/--login talk POP3. Where the state differs from
  check_pop's, the README's table of deviations says why.

Examples:
  check_pop3_ipmon -H pop.example.com
  check_pop3_ipmon -H pop.example.com --tls starttls -w 1 -c 3 --cert-warn 21
  check_pop3_ipmon -H pop.example.com -S -D 30,7
  check_pop3_ipmon -H pop.example.com -S --login -u monitor \\
      --authfile /etc/nagios/pop3.pass --messages-warn 500 --size-crit 1000000000
  check_pop3_ipmon -H pop.example.com -S --login -u monitor@example.com \\
      --authfile /etc/nagios/pop3.pass --round-trip --delivery-crit 60 -t 90 \\
      --state-file /var/lib/check_pop3_ipmon/round-trip.json
  check_pop3_ipmon -H pop.example.com --tls starttls --forbid-plaintext-auth \\
      --require-capa UIDL --require-capa TOP --capa -v
  check_pop3_ipmon -H pop.example.com -4 --all-addresses -w 1 -c 5
"""


class _Parser(argparse.ArgumentParser):
    from_file: Sequence[str] = ()  # options read by --extra-opts

    def error(self, message: str) -> NoReturn:
        # argparse quotes an ambiguous "--passw=VALUE" whole: the value may be a password.
        message = re.sub(r"^(ambiguous option: -[^=\s]*)=\S*", r"\1=...", message)
        # A value from an ini file may be a secret under a mistyped key: never echoed.
        for word in self.from_file:
            key, _, value = word.partition("=")
            message = message.replace(word, f"{key}=...")
            if value:
                message = message.replace(repr(value), "'...'")
        print(f"{SERVICE} UNKNOWN - {message}")
        print(USAGE)
        sys.exit(UNKNOWN)

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            print(message.strip())
        sys.exit(UNKNOWN if status == 0 else status)


def _wrapped(line: str, width: int = 79, indent: int = 17) -> str:
    """One help line, folded at spaces (textwrap would cost every check its import)."""
    out = []
    while len(line) > width:
        cut = line.rfind(" ", indent, width)
        out.append(line[:cut])
        line = " " * indent + line[cut + 1 :]
    return "\n".join([*out, line])


def epilog() -> str:
    from check_pop3_ipmon.check.phases import help_lines

    phases = "".join(_wrapped(line) + "\n" for line in help_lines())
    return _PERFDATA_HEAD + phases + _PERFDATA_TAIL + EPILOG_REST


def build_parser() -> _Parser:
    p = _Parser(
        prog=PROG,
        usage=USAGE[len("Usage: ") :],
        description=DESCRIPTION,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    general = _general_options(p)
    _tls_options(p)
    _capability_options(p)
    _login_options(p)
    _add_unused(general)  # check_pop's options we accept and ignore: hidden, last
    _address_options(p)
    _round_trip_options(p)
    return p


def _general_options(p: _Parser) -> argparse._ArgumentGroup:
    """Where, how long, and what the greeting must say."""
    g = p.add_argument_group("Options")
    g.add_argument("-h", "--help", action="help", help="show this help and exit (status 3)")
    g.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"{PROG} {__version__}",
        help="show the version and exit (status 3)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="long output: -v phases and timings, -vv certificate and "
        "CAPA, -vvv the POP3 transcript",
    )
    g.add_argument(
        "-H",
        "--hostname",
        type=values.utf8,
        metavar="ADDRESS",
        help="host name or IPv4/IPv6 address of the POP3 server "
        f"(default {DEFAULT_HOST}, as check_pop; a first or last argument "
        "without a dash is taken as well)",
    )
    g.add_argument("host", nargs="?", type=values.utf8, help=argparse.SUPPRESS)
    g.add_argument(
        "-p",
        "--port",
        type=values.port,
        help="TCP port (default 110; 995 with -S or --tls implicit)",
    )
    # Not exclusive: the last of -4/-6 counts, as in check_pop.
    g.add_argument(
        "-4",
        "--use-ipv4",
        dest="family",
        action="store_const",
        const=socket.AF_INET,
        default=socket.AF_UNSPEC,
        help="use IPv4 only",
    )
    g.add_argument(
        "-6",
        "--use-ipv6",
        dest="family",
        action="store_const",
        const=socket.AF_INET6,
        help="use IPv6 only",
    )
    g.add_argument(
        "-t",
        "--timeout",
        type=values.timeout,
        default=10.0,
        metavar="SECONDS",
        help="deadline for the whole test, DNS included (default 10; "
        "ipMonitor's Maximum Test Duration; at most 86400 is used)",
    )
    g.add_argument(
        "--timeout-state",
        type=values.state,
        default=2,
        metavar="STATE",
        help="state when the deadline passes (default critical)",
    )
    g.add_argument(
        "-w",
        "--warning",
        type=values.threshold_range,
        metavar="RANGE",
        help="response time in seconds giving WARNING (Nagios range)",
    )
    g.add_argument(
        "-c",
        "--critical",
        type=values.threshold_range,
        metavar="RANGE",
        help="response time in seconds giving CRITICAL (Nagios range)",
    )
    g.add_argument(
        "-r",
        "--refuse",
        "--refuse-state",
        dest="refuse_state",
        type=values.state,
        default=2,
        metavar="STATE",
        help="state when the connection is refused (default critical)",
    )
    _add_expect(g)
    g.add_argument(
        "-j",
        "--jail",
        "--hide-banner",
        dest="hide_banner",
        action="store_true",
        help="leave the server's greeting out of the output",
    )
    g.add_argument(
        "-m",
        "--maxbytes",
        type=values.bytes_limit,
        default=4096,
        metavar="BYTES",
        help="longest greeting accepted, CRLF included; a longer one is CRITICAL "
        "(default 4096; RFC 1939 says 512; at most 1048576 is used)",
    )
    g.add_argument(
        "--extra-opts",
        action=_Unabbreviated,
        metavar="[SECTION][@FILE]",
        help="read options from an ini file, as monitoring-plugins do: section "
        f"default {PROG}, each `key = value` line is --key=value before the "
        "command line's options; `password = ...` gives --login's password "
        "(the file must then be chmod 600); see README",
    )
    return g


def _tls_options(p: _Parser) -> None:
    """Implicit TLS or STLS, verification, the certificate's days."""
    t = p.add_argument_group("TLS")
    t.add_argument(
        "--tls",
        choices=(TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT),
        default=None,
        help="none (default), starttls (STLS, RFC 2595) or implicit (POP3S)",
    )
    t.add_argument(
        "-S",
        "--ssl",
        action="store_true",
        help="implicit TLS, as check_spop (same as --tls implicit)",
    )
    t.add_argument(
        "--sni",
        type=values.server_name,
        metavar="NAME",
        help="server name sent and verified (default the -H name); "
        "without --tls means -S, as in check_pop",
    )
    t.add_argument(
        "--ca-file",
        metavar="FILE",
        help="CA certificates (PEM) to verify against instead of the system's",
    )
    t.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the certificate chain or host name (said in the output)",
    )
    t.add_argument("--tls-min-version", choices=("1.2", "1.3"), help="lowest TLS version accepted")
    _warn_and_crit(t, "--cert", values.days, "DAYS", "{} when the certificate expires within DAYS")
    t.add_argument(
        "-D",
        "--certificate",
        type=values.cert_days,
        metavar="WARN[,CRIT]",
        help="check_pop's form of --cert-warn/--cert-crit in whole days, CRIT default 0: "
        "alerts when the whole days left are at most the number "
        "(-D 30 is --cert-warn 31); without --tls means -S, as in check_pop",
    )


def _capability_options(p: _Parser) -> None:
    """CAPA and the policies checked against it."""
    c = p.add_argument_group("Capabilities and policy")
    c.add_argument(
        "--capa",
        action="store_true",
        help="read CAPA (before and, with STLS, after TLS) and list it with -v",
    )
    c.add_argument(
        "--require-capa",
        action="append",
        default=[],
        type=values.capa_name,
        metavar="NAME",
        help="CRITICAL unless the server offers NAME: a CAPA tag (STLS, UIDL, TOP, ...), "
        "a SASL mechanism (PLAIN), or a tag with arguments ('SASL PLAIN'); "
        "repeatable. STLS is looked for before TLS, the rest where the session ends",
    )
    c.add_argument(
        "--forbid-plaintext-auth",
        action="store_true",
        help="alert (--policy-state) when USER or SASL PLAIN/LOGIN is offered before TLS",
    )
    c.add_argument(
        "--policy-state",
        type=values.state,
        default=1,
        metavar="STATE",
        help="state for --forbid-plaintext-auth (default warning)",
    )


def _login_options(p: _Parser) -> None:
    """--login, its credentials, and the mailbox thresholds."""
    a = p.add_argument_group("Login and mailbox (nothing is deleted or changed)")
    a.add_argument(
        "--login",
        action="store_true",
        help="log in after the greeting (and TLS), then STAT",
    )
    a.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        type=str.lower,  # USER as RFC 1939 writes it, or user: the same method
        help="user (USER/PASS), apop (needs the greeting's timestamp) or plain "
        "(SASL PLAIN); default: the best the server offers (under TLS plain, "
        "user, apop; without TLS apop first)",
    )
    a.add_argument(
        "-u", "--username", type=values.utf8, metavar="USER", help="the mailbox to log in to"
    )
    a.add_argument(
        "--authfile",
        metavar="FILE",
        help="read the password from the first line of FILE, which group and "
        "others must not be able to read (chmod 600)",
    )
    a.add_argument(
        "--password-env",
        metavar="NAME",
        help="read the password from the environment variable NAME instead "
        f"(default {ENV_DEFAULT}, used when there is no --authfile)",
    )
    # Not an option: without it, argparse would take --password as an
    # abbreviation of --password-env and print the password as a variable name.
    a.add_argument("--password", nargs="?", action=_NoPassword, help=argparse.SUPPRESS)
    a.add_argument(
        "--allow-plaintext-login",
        action="store_true",
        help="allow USER/PASS or SASL PLAIN without TLS (the password crosses the network "
        "in clear)",
    )
    a.add_argument(
        "--probe",
        action="append",
        choices=("UIDL", "TOP"),
        type=str.upper,
        metavar="COMMAND",
        help="after STAT, try UIDL or TOP itself (on message 1, read-only): CRITICAL if "
        "refused; for a server without CAPA, where --require-capa cannot tell; repeatable",
    )
    a.add_argument(
        "--busy-state",
        type=values.state,
        default=1,
        metavar="STATE",
        help="state when the login is refused for now, [LOGIN-DELAY] or [IN-USE] "
        "(default warning: the server is up, another login was too recent or holds the maildrop)",
    )
    a.add_argument(
        "--check-interval",
        type=values.positive_float,
        metavar="SECONDS",
        help="how often the engine runs this check: WARNING when CAPA's LOGIN-DELAY is "
        "longer (the logins between would be refused); Icinga 2: $service.check_interval$",
    )
    _warn_and_crit(a, "--messages", values.threshold_range, "RANGE", "messages giving {}")
    _warn_and_crit(a, "--size", values.threshold_range, "RANGE", "mailbox bytes giving {}")


def _address_options(p: _Parser) -> None:
    """--all-addresses."""
    m = p.add_argument_group("Addresses")
    m.add_argument(
        "--all-addresses",
        action="store_true",
        help="test every address of -H (A and AAAA, as -4/-6 allow) at once, "
        "within the one deadline; the worst state counts",
    )


def _round_trip_options(p: _Parser) -> None:
    """--round-trip and its SMTP leg; roundtrip_options.py reads them (only then)."""
    r = p.add_argument_group(
        "Round trip (SMTP submission, then POP3; deletes only its own test messages)"
    )
    r.add_argument(
        "--round-trip",
        action="store_true",
        help="submit a message with a unique token by SMTP, then log in by POP3 "
        "(--login) until it arrives; use a dedicated mailbox",
    )
    r.add_argument("--mail-to", metavar="ADDRESS", help="its recipient (default: -u if an address)")
    r.add_argument("--mail-from", metavar="ADDRESS", help="its sender (default: --mail-to)")
    r.add_argument("--smtp-host", metavar="ADDRESS", help="the submission server (default: -H)")
    r.add_argument("--smtp-port", type=values.port, help="default 587 (starttls) or 465 (implicit)")
    r.add_argument(
        "--smtp-tls",
        choices=("starttls", "implicit"),
        default="starttls",
        help="STARTTLS (RFC 3207, default) or implicit TLS (RFC 8314); the certificate "
        "is verified as the POP3 leg's (--ca-file, --insecure, --tls-min-version)",
    )
    r.add_argument(
        "--smtp-sni", type=values.server_name, metavar="NAME", help="default: --smtp-host"
    )
    r.add_argument("--smtp-auth", choices=("plain", "login"), type=str.lower, help="AUTH method")
    r.add_argument("--smtp-user", type=values.utf8, metavar="USER", help="default: -u")
    r.add_argument(
        "--smtp-authfile",
        metavar="FILE",
        help="the SMTP password's private file (default: the POP3 password)",
    )
    _warn_and_crit(
        r, "--delivery", values.positive_float, "SECONDS", "seconds to arrival giving {}"
    )
    r.add_argument(
        "--poll-interval",
        type=values.positive_float,
        default=1.0,
        metavar="SECONDS",
        help="pause between POP3 logins while waiting (default 1)",
    )
    r.add_argument(
        "--lost-after",
        type=values.positive_float,
        default=3600.0,
        metavar="SECONDS",
        help="a message not arrived after this long counts as lost (default 3600)",
    )
    r.add_argument(
        "--state-file",
        metavar="FILE",
        help="the private file of the tokens sent (needed with --round-trip), in a "
        "directory only the engine's user may write",
    )


def _warn_and_crit(
    group: argparse._ArgumentGroup,
    stem: str,
    value: Callable[[str], object],
    metavar: str,
    help_text: str,
) -> None:
    """--STEM-warn and --STEM-crit, their help saying WARNING and CRITICAL."""
    for suffix, state in (("-warn", "WARNING"), ("-crit", "CRITICAL")):
        group.add_argument(stem + suffix, type=value, metavar=metavar, help=help_text.format(state))


def _add_expect(group: argparse._ArgumentGroup) -> None:
    """-e, -A and -M as check_pop reads them, and our --expect-regex."""
    group.add_argument(
        "-e",
        "--expect",
        action="append",
        default=[],
        metavar="STRING",
        help="text the greeting line must contain (a plain, case-sensitive substring, "
        "as check_pop's -e); repeatable: one of them must be found",
    )
    group.add_argument(
        "-A",
        "--all",
        dest="expect_all",
        action="store_true",
        help="every -e must be found, not just one",
    )
    group.add_argument(
        "--expect-regex",
        metavar="REGEX",
        help="Python regular expression the greeting line must match (searched anywhere)",
    )
    group.add_argument(
        "-M",
        "--mismatch",
        "--mismatch-state",
        dest="mismatch_state",
        type=values.state,
        default=1,
        metavar="STATE",
        help="state when -e or --expect-regex does not match (default warning, as check_pop)",
    )


def _add_unused(group: argparse._ArgumentGroup) -> None:
    """check_pop's options that have no use here: accepted so that its command
    lines run unchanged, and left out of --help (the epilog names them)."""
    group.add_argument("-s", "--send", help=argparse.SUPPRESS)
    group.add_argument("-q", "--quit", help=argparse.SUPPRESS)
    group.add_argument("-d", "--delay", type=values.positive_int, help=argparse.SUPPRESS)
    group.add_argument("-E", "--escape", action="store_true", help=argparse.SUPPRESS)
    for flag, name in (("-C", "--critical-codes"), ("-W", "--warning-codes")):
        group.add_argument(flag, name, action="append", default=[], help=argparse.SUPPRESS)
    group.add_argument("--protocol", help=argparse.SUPPRESS)


class _Unabbreviated(argparse.Action):
    """--extra-opts is taken out before parsing; only an abbreviation reaches here."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: Optional[str] = None,
    ) -> None:
        parser.error("write --extra-opts in full, on the command line (as the C plugins require)")


class _NoPassword(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: Optional[str] = None,
    ) -> None:
        parser.error(
            "no password on the command line (every local user can read it): "
            f"use --authfile FILE or the environment variable {ENV_DEFAULT}"
        )


class Options(Record, kw_only=True):
    """The whole command line, checked. A field named as an argparse option's
    `dest` takes that option's value as argparse left it (parse())."""

    settings: Settings
    verbose: int = 0
    warning: Optional[str] = None
    critical: Optional[str] = None
    timeout_state: int = 2
    refuse_state: int = 2
    expect: tuple[str, ...] = ()
    expect_all: bool = False
    expect_regex: Optional[str] = None
    mismatch_state: int = 1
    hide_banner: bool = False
    cert_warn: Optional[float] = None
    cert_crit: Optional[float] = None
    show_capa: bool = False
    require_capa: tuple[str, ...] = ()
    forbid_plaintext_auth: bool = False
    policy_state: int = 1
    messages_warn: Optional[str] = None
    messages_crit: Optional[str] = None
    size_warn: Optional[str] = None
    size_crit: Optional[str] = None
    all_addresses: bool = False
    busy_state: int = 1
    check_interval: Optional[float] = None
    round_trip: Optional[RoundTripSettings] = None


def _unknown(message: str) -> NoReturn:
    """UNKNOWN without a usage line: the options are right, a file is not."""
    print(f"{SERVICE} UNKNOWN - {message}")
    sys.exit(UNKNOWN)


def _expand(parser: _Parser, argv: list[str]) -> tuple[list[str], Optional[str]]:
    """argv with --extra-opts read (imported only then), and the file's password."""
    if not any(word.startswith("--extra-opts") for word in argv):
        return argv, None
    from check_pop3_ipmon.check import extra_opts

    try:
        expanded = extra_opts.expand(argv, PROG)
    except extra_opts.ExtraOptsError as exc:
        _unknown(str(exc))
    parser.from_file = expanded.from_file
    return expanded.argv, expanded.password


def _tls_mode(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if args.ssl and args.tls not in (None, TLS_IMPLICIT):
        parser.error(f"-S/--ssl means implicit TLS, but --tls {args.tls} was given")
    # check_pop switches TLS on for -D and --sni; --tls none says otherwise.
    implied = args.tls is None and (args.certificate is not None or args.sni is not None)
    tls_mode: str = TLS_IMPLICIT if args.ssl or implied else (args.tls or TLS_NONE)
    tls_only = (
        "sni",
        "ca_file",
        "insecure",
        "tls_min_version",
        "cert_warn",
        "cert_crit",
        "certificate",
    )
    if tls_mode == TLS_NONE:
        given = [name for name in tls_only if getattr(args, name) not in (None, False)]
        if given:
            flag = "--" + given[0].replace("_", "-")
            parser.error(f"{flag} needs TLS (--tls starttls, --tls implicit or -S)")
    return tls_mode


def _hostname(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    hostname: str = args.hostname or args.host or DEFAULT_HOST
    if not hostname.strip() or any(ord(ch) < 33 for ch in hostname):
        parser.error(f"invalid host name: {hostname!r}")
    if hostname.startswith("/"):
        # check_pop's Unix socket path: POP3 is tested over TCP here.
        parser.error(f"-H {hostname}: Unix sockets are not supported, only TCP")
    literal = literal_family(hostname)
    if literal is not None and args.family not in (socket.AF_UNSPEC, literal):
        flag = "-4" if args.family == socket.AF_INET else "-6"
        parser.error(f"{hostname} is not an IPv{flag[1]} address, but {flag} was given")
    return hostname


def _as_getopt(words: Sequence[str]) -> list[str]:
    """check_pop's command line as its getopt_long reads it, spelt for argparse.

    "-to 5" is "-t 5"; "-e -ERR" is "-e" with the value "-ERR"; "--mis=ok" is
    "--mismatch=ok" (a unique prefix of one of check_pop's long options),
    even where it would be ambiguous among ours (--mismatch-state).
    """
    out: list[str] = []
    rest = [_OLD_FLAGS.get(word, word) for word in words]  # every word, as check_pop does
    while rest:
        word = rest.pop(0)
        valued = len(word) == 2 and word[0] == "-" and word[1] in _CHECK_POP_VALUED
        if valued and rest and rest[0].startswith("-"):
            out.append(word + rest.pop(0))  # "-e-ERR": argparse's attached value
            continue
        name, equals, value = word[2:].partition("=")
        if word.startswith("--") and name and name not in _CHECK_POP_LONG:
            matches = [option for option in _CHECK_POP_LONG if option.startswith(name)]
            if len(matches) == 1:
                word = f"--{matches[0]}{equals}{value}"
        out.append(word)
    return out


def parse(argv: Optional[Sequence[str]] = None) -> Options:
    parser = build_parser()
    words, file_password = _expand(parser, list(sys.argv[1:] if argv is None else argv))
    if not words:
        parser.error("no arguments: give at least -H ADDRESS")
    args = parser.parse_args(_as_getopt(words))
    tls_mode = _tls_mode(parser, args)
    if args.ca_file is not None and not os.access(args.ca_file, os.R_OK):
        parser.error(f"cannot read --ca-file {args.ca_file}")
    if args.expect_regex is not None:
        try:
            re.compile(args.expect_regex)
        except re.error as exc:
            parser.error(f"invalid --expect-regex regular expression: {exc}")
    if args.certificate and (args.cert_warn is not None or args.cert_crit is not None):
        parser.error("-D/--certificate and --cert-warn/--cert-crit exclude each other")
    cert_warn, cert_crit = args.certificate or (args.cert_warn, args.cert_crit)
    hostname = _hostname(parser, args)
    if args.forbid_plaintext_auth and tls_mode == TLS_IMPLICIT:
        parser.error(
            "--forbid-plaintext-auth looks at what is offered before TLS: "
            "use it with --tls none or starttls"
        )
    login = _login(parser, args, tls_mode, file_password)
    # With STLS the CAPA before TLS is read anyway, and STLS is only ever
    # listed there: only the other needs call for the CAPA after TLS.
    required = [name for name in args.require_capa if tls_mode != TLS_STARTTLS or name != "STLS"]
    read_capa = bool(
        args.capa
        or required
        or (args.forbid_plaintext_auth and tls_mode == TLS_NONE)
        or (login is not None and login.method is None)
        or args.check_interval is not None
    )
    settings = Settings(
        host=hostname,
        # TLS that check_pop's -D or --sni switched on stays on its port, 110.
        port=args.port or (995 if args.ssl or args.tls == TLS_IMPLICIT else 110),
        timeout=args.timeout,
        family=args.family,
        tls=tls_mode,
        sni=args.sni,
        ca_file=args.ca_file,
        insecure=args.insecure,
        tls_min_version=args.tls_min_version,
        max_greeting=args.maxbytes,
        read_capa=read_capa,
        login=login,
        probe=tuple(dict.fromkeys(args.probe or ())),
    )
    round_trip = None
    if args.round_trip or any(getattr(args, name) is not None for name in _ROUND_TRIP_ONLY):
        from check_pop3_ipmon.check import roundtrip_options

        round_trip = roundtrip_options.settings(parser, args, settings)
    computed = {
        "round_trip": round_trip,
        "settings": settings,
        "expect": tuple(args.expect),
        "cert_warn": cert_warn,
        "cert_crit": cert_crit,
        "show_capa": args.capa,
        "require_capa": tuple(dict.fromkeys(args.require_capa)),
    }
    given = vars(args)
    as_given = {name: given[name] for name in Options.fields() if name not in computed}
    return Options(**computed, **as_given)


# Options that mean nothing without --round-trip.
_ROUND_TRIP_ONLY = (
    "mail_to", "mail_from", "smtp_host", "smtp_port", "smtp_sni", "smtp_auth", "smtp_user",
    "smtp_authfile", "delivery_warn", "delivery_crit", "state_file",
)  # fmt: skip


def _password(args: argparse.Namespace, file_password: Optional[str]) -> str:
    """From the --extra-opts file, the --authfile, or the environment."""
    from check_pop3_ipmon.check import credentials

    try:
        if file_password is not None:
            return credentials.check_password(file_password, "--extra-opts")
        if args.authfile is not None:
            return credentials.from_file(args.authfile)
        return credentials.from_env(
            args.password_env or ENV_DEFAULT, shown=args.password_env is None
        )
    except credentials.CredentialError as exc:
        # Not a usage line: the options are right, the file or variable is not.
        _unknown(str(exc))


_LOGIN_ONLY = (
    "auth",
    "username",
    "authfile",
    "password_env",
    "allow_plaintext_login",
    "messages_warn",
    "messages_crit",
    "size_warn",
    "size_crit",
    "check_interval",
    "probe",
)


def _login(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    tls: str,
    file_password: Optional[str] = None,
) -> Optional[Login]:
    """The --login settings, password included; usage errors for what cannot work."""
    if not args.login:
        given = [name for name in _LOGIN_ONLY if getattr(args, name) not in (None, False)]
        if given:
            parser.error(f"--{given[0].replace('_', '-')} needs --login")
        if file_password is not None:
            parser.error("the password from --extra-opts needs --login")
        return None
    if not args.username:
        parser.error("--login needs -u/--username")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in args.username):
        parser.error(f"invalid user name: {args.username!r}")
    if tls == TLS_NONE and args.auth != "apop" and not args.allow_plaintext_login:
        parser.error(
            "--login without TLS would send the password in clear: use --tls starttls, "
            "--tls implicit, --auth apop, or --allow-plaintext-login"
        )
    if args.authfile is not None and args.password_env is not None:
        parser.error("--authfile and --password-env exclude each other")
    if args.password_env is not None and not re.fullmatch(_ENV_NAME, args.password_env):
        # Not echoed: a password given here by mistake must not reach the output.
        parser.error("--password-env takes the name of an environment variable")
    if file_password is not None and (args.authfile or args.password_env) is not None:
        parser.error("the password from --extra-opts excludes --authfile and --password-env")
    return Login(
        username=args.username,
        password=_password(args, file_password),
        method=args.auth,
        allow_plaintext=args.allow_plaintext_login,
    )
