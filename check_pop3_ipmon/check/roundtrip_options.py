"""--round-trip's options, checked: usage errors for what cannot work.

Imported by cli.py only when a round-trip option is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from check_pop3_ipmon.check import credentials
from check_pop3_ipmon.check.link import TLS_IMPLICIT, TLS_STARTTLS
from check_pop3_ipmon.check.roundtrip import RoundTripSettings
from check_pop3_ipmon.check.smtp import SmtpSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from check_pop3_ipmon.check.pop3 import Settings

_ADDRESS_BAD = set("<>\r\n\0 ")


def _address(parser: argparse.ArgumentParser, value: str, option: str) -> str:
    if "@" not in value or any(ch in _ADDRESS_BAD for ch in value) or not value.isascii():
        parser.error(f"{option} {value!r} is not a mail address (user@domain, ASCII)")
    return value


def settings(
    parser: argparse.ArgumentParser, args: argparse.Namespace, pop3: Settings
) -> RoundTripSettings:
    if not args.round_trip:
        given = next(
            name
            for name in ("mail_to", "mail_from", "smtp_host", "smtp_port", "smtp_sni",
                         "smtp_auth", "smtp_user", "smtp_authfile", "delivery_warn",
                         "delivery_crit", "state_file")
            if getattr(args, name) is not None
        )  # fmt: skip
        parser.error(f"--{given.replace('_', '-')} needs --round-trip")
    login = pop3.login
    if login is None:
        parser.error("--round-trip needs --login (it reads the mailbox by POP3)")
    if args.all_addresses:
        parser.error("--round-trip and --all-addresses exclude each other")
    if args.state_file is None:
        parser.error("--round-trip needs --state-file FILE (the tokens of the messages sent)")
    mail_to = args.mail_to or (login.username if "@" in login.username else None)
    if mail_to is None:
        parser.error("--round-trip needs --mail-to ADDRESS (-u is not a mail address)")
    mail_to = _address(parser, mail_to, "--mail-to")
    mail_from = _address(parser, args.mail_from or mail_to, "--mail-from")
    if (
        args.delivery_warn is not None
        and args.delivery_crit is not None
        and args.delivery_warn > args.delivery_crit
    ):
        parser.error("--delivery-warn is longer than --delivery-crit")
    password = login.password
    if args.smtp_authfile is not None:
        try:
            password = credentials.from_file(args.smtp_authfile)
        except credentials.CredentialError as exc:
            print(f"POP3 UNKNOWN - {str(exc).replace('--authfile', '--smtp-authfile')}")
            sys.exit(3)
    tls = TLS_IMPLICIT if args.smtp_tls == "implicit" else TLS_STARTTLS
    host = args.smtp_host or pop3.host
    smtp = SmtpSettings(
        host=host,
        port=args.smtp_port or (465 if tls == TLS_IMPLICIT else 587),
        timeout=pop3.timeout,
        family=pop3.family,
        tls=tls,
        sni=args.smtp_sni,
        ca_file=pop3.ca_file,
        insecure=pop3.insecure,
        tls_min_version=pop3.tls_min_version,
        username=args.smtp_user or login.username,
        password=password,
        auth=args.smtp_auth,
        mail_from=mail_from,
        mail_to=mail_to,
    )
    return RoundTripSettings(
        smtp=smtp,
        state_file=Path(args.state_file).absolute(),
        delivery_warn=args.delivery_warn,
        delivery_crit=args.delivery_crit,
        poll_interval=args.poll_interval,
        lost_after=args.lost_after,
    )
