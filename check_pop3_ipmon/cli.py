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
from check_pop3_ipmon.record import Record
from check_pop3_ipmon.session import TLS_IMPLICIT, TLS_NONE, TLS_STARTTLS, Settings

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import NoReturn, Optional

PROG = "check_pop3_ipmon"
UNKNOWN = 3

_STATES = {
    "ok": 0,
    "0": 0,
    "warn": 1,
    "warning": 1,
    "1": 1,
    "crit": 2,
    "critical": 2,
    "2": 2,
    "unknown": 3,
    "3": 3,
}

USAGE = (
    f"Usage: {PROG} -H ADDRESS [-p PORT] [-t SECONDS] [-w RANGE] [-c RANGE] "
    "[--tls none|starttls|implicit] [-S] ... (see --help)"
)

DESCRIPTION = """\
Checks a POP3 server the way SolarWinds ipMonitor's POP3 monitor did: connect,
read the greeting, send QUIT, disconnect, all within one deadline (-t).

Check:
  OK        the server greets with "+OK" and answers QUIT, in time.
  WARNING   response time beyond -w; QUIT unanswered or refused; certificate
            expiring within --cert-warn days.
  CRITICAL  no answer, refused connection (-r), timeout (--timeout-state),
            "-ERR" greeting, anything that is not a POP3 greeting (a "220"
            banner is an SMTP server), greeting over -m bytes, TLS failure or
            certificate not valid, STLS not offered, expect mismatch (-M),
            response time beyond -c, certificate within --cert-crit days.
  UNKNOWN   bad arguments.
"""

EPILOG = """\
Perfdata:
  time           seconds, whole test (DNS to QUIT); -w/-c apply; max = -t
  connect_time   seconds, TCP connect (with DNS: resolve_time separately)
  resolve_time   seconds, name resolution
  tls_time       seconds, TLS handshake (with --tls or -S)
  greeting_time  seconds, from connected (or TLS ready) to the greeting
  stls_time      seconds, CAPA and STLS exchange (with --tls starttls)
  quit_time      seconds, QUIT to its reply
  cert_days      days until the certificate's notAfter (with TLS);
                 --cert-warn/--cert-crit apply

Examples:
  check_pop3_ipmon -H pop.example.com
  check_pop3_ipmon -H pop.example.com --tls starttls -w 1 -c 3 --cert-warn 21
  check_pop3_ipmon -H pop.example.com -S -D 30,7
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"POP3 UNKNOWN - {message}")
        print(USAGE)
        sys.exit(UNKNOWN)

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            print(message.strip())
        sys.exit(UNKNOWN if status == 0 else status)


def _state(text: str) -> int:
    try:
        return _STATES[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"invalid state {text!r} (ok, warning, critical, unknown)"
        ) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400: {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)


def _days(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None


# The guidelines' range syntax, decimals without exponent: [@][start:][end]
_RANGE = re.compile(r"@?(?:(?:~|-?\d+(?:\.\d+)?)?:)?(?:-?\d+(?:\.\d+)?)?")


def _range(text: str) -> str:
    from nagiosplugin import Range

    if not text or not _RANGE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid range {text!r} (e.g. 5, 10:, ~:5, @1:3)")
    try:
        Range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid range {text!r}: {exc}") from None
    return text


def _server_name(text: str) -> str:
    """A name the ssl module can send as SNI (it raises at connect time otherwise)."""
    try:
        ok = bool(text) and not text.startswith(".") and bool(text.encode("idna"))
    except UnicodeError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"not a server name: {text!r}")
    return text


def _cert_days(text: str) -> tuple[float, float]:
    """check_pop's -D warn[,crit]; crit defaults to 0 (expired) as there."""
    parts = text.split(",")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"expected DAYS[,DAYS]: {text!r}")
    warn = _days(parts[0])
    crit = _days(parts[1]) if len(parts) == 2 else 0.0
    return warn, crit


def _bytes_limit(text: str) -> int:
    if not text.isdigit() or not 16 <= int(text) <= 1 << 20:
        raise argparse.ArgumentTypeError(f"must be 16 to 1048576 bytes: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        usage=USAGE[len("Usage: ") :],
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
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
        required=True,
        metavar="ADDRESS",
        help="host name or IPv4/IPv6 address of the POP3 server",
    )
    g.add_argument("-p", "--port", type=_port, help="TCP port (default 110; 995 with implicit TLS)")
    fam = g.add_mutually_exclusive_group()
    fam.add_argument(
        "-4",
        "--use-ipv4",
        dest="family",
        action="store_const",
        const=socket.AF_INET,
        default=socket.AF_UNSPEC,
        help="use IPv4 only",
    )
    fam.add_argument(
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
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="deadline for the whole test, DNS included (default 10; "
        "ipMonitor's Maximum Test Duration)",
    )
    g.add_argument(
        "--timeout-state",
        type=_state,
        default=2,
        metavar="STATE",
        help="state when the deadline passes (default critical)",
    )
    g.add_argument(
        "-w",
        "--warning",
        type=_range,
        metavar="RANGE",
        help="response time in seconds giving WARNING (Nagios range)",
    )
    g.add_argument(
        "-c",
        "--critical",
        type=_range,
        metavar="RANGE",
        help="response time in seconds giving CRITICAL (Nagios range)",
    )
    g.add_argument(
        "-r",
        "--refuse-state",
        type=_state,
        default=2,
        metavar="STATE",
        help="state when the connection is refused (default critical)",
    )
    g.add_argument(
        "-e", "--expect", metavar="REGEX", help="regular expression the greeting text must match"
    )
    g.add_argument(
        "-M",
        "--mismatch-state",
        type=_state,
        default=2,
        metavar="STATE",
        help="state when --expect does not match (default critical)",
    )
    g.add_argument(
        "-j",
        "--hide-banner",
        action="store_true",
        help="leave the server's greeting out of the output",
    )
    g.add_argument(
        "-m",
        "--maxbytes",
        type=_bytes_limit,
        default=4096,
        metavar="BYTES",
        help="longest greeting accepted (default 4096; RFC 1939 says 512)",
    )

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
        type=_server_name,
        metavar="NAME",
        help="server name sent and verified (default the -H name)",
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
    t.add_argument(
        "--cert-warn",
        type=_days,
        metavar="DAYS",
        help="WARNING when the certificate expires within DAYS",
    )
    t.add_argument(
        "--cert-crit",
        type=_days,
        metavar="DAYS",
        help="CRITICAL when the certificate expires within DAYS",
    )
    t.add_argument(
        "-D",
        "--certificate",
        type=_cert_days,
        metavar="WARN[,CRIT]",
        help="check_pop's form of --cert-warn,--cert-crit (CRIT default 0)",
    )
    return p


class Options(Record):
    __slots__ = (
        "cert_crit",
        "cert_warn",
        "critical",
        "expect",
        "hide_banner",
        "mismatch_state",
        "refuse_state",
        "settings",
        "timeout_state",
        "verbose",
        "warning",
    )

    def __init__(
        self,
        *,
        settings: Settings,
        verbose: int,
        warning: Optional[str],
        critical: Optional[str],
        timeout_state: int,
        refuse_state: int,
        expect: Optional[str],
        mismatch_state: int,
        hide_banner: bool,
        cert_warn: Optional[float],
        cert_crit: Optional[float],
    ) -> None:
        self.settings = settings
        self.verbose = verbose
        self.warning = warning
        self.critical = critical
        self.timeout_state = timeout_state
        self.refuse_state = refuse_state
        self.expect = expect
        self.mismatch_state = mismatch_state
        self.hide_banner = hide_banner
        self.cert_warn = cert_warn
        self.cert_crit = cert_crit


def parse(argv: Optional[Sequence[str]] = None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ssl and args.tls not in (None, TLS_IMPLICIT):
        parser.error(f"-S/--ssl means implicit TLS, but --tls {args.tls} was given")
    tls_mode = TLS_IMPLICIT if args.ssl else (args.tls or TLS_NONE)
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
    if args.ca_file is not None and not os.access(args.ca_file, os.R_OK):
        parser.error(f"cannot read --ca-file {args.ca_file}")
    if args.expect is not None:
        try:
            re.compile(args.expect)
        except re.error as exc:
            parser.error(f"invalid --expect regular expression: {exc}")
    if args.certificate and (args.cert_warn is not None or args.cert_crit is not None):
        parser.error("-D/--certificate and --cert-warn/--cert-crit exclude each other")
    cert_warn, cert_crit = args.certificate or (args.cert_warn, args.cert_crit)
    if not args.hostname.strip() or any(ord(ch) < 33 for ch in args.hostname):
        parser.error(f"invalid host name: {args.hostname!r}")
    settings = Settings(
        host=args.hostname,
        port=args.port or (995 if tls_mode == TLS_IMPLICIT else 110),
        timeout=args.timeout,
        family=args.family,
        tls=tls_mode,
        sni=args.sni,
        ca_file=args.ca_file,
        insecure=args.insecure,
        tls_min_version=args.tls_min_version,
        max_greeting=args.maxbytes,
    )
    return Options(
        settings=settings,
        verbose=args.verbose,
        warning=args.warning,
        critical=args.critical,
        timeout_state=args.timeout_state,
        refuse_state=args.refuse_state,
        expect=args.expect,
        mismatch_state=args.mismatch_state,
        hide_banner=args.hide_banner,
        cert_warn=cert_warn,
        cert_crit=cert_crit,
    )
