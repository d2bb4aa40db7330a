"""The session's phases, once: in the order a test runs them, what the session
waits for in each ("no greeting within 10s"), and what each `<phase>_time`
perfdata item measures, for the plugin, --help and the README's table."""

from __future__ import annotations


class Phase:
    __slots__ = ("measures", "name", "waiting_for", "when")

    def __init__(self, name: str, waiting_for: str, measures: str, when: str = "") -> None:
        self.name = name  # the perfdata label is name + "_time"
        self.waiting_for = waiting_for
        self.measures = measures
        self.when = when  # the options that make the phase happen; empty: always

    def described(self) -> str:
        """What the time measures, and when it is there, as --help says it."""
        return f"{self.measures} (with {self.when})" if self.when else self.measures


PHASES = (
    Phase("resolve", "DNS answer", "name resolution"),
    Phase("connect", "connection", "TCP connect"),
    Phase("tls", "TLS handshake", "TLS handshake", "--tls or -S"),
    Phase("greeting", "greeting", "connected (or TLS ready) to the greeting"),
    Phase("stls", "STLS reply", "CAPA and STLS exchange", "--tls starttls"),
    Phase(
        "capa",
        "CAPA reply",
        "CAPA exchange, after TLS with STLS",
        "--capa, --require-capa, --login without --auth, --forbid-plaintext-auth without TLS",
    ),
    Phase("login", "login reply", "authentication", "--login"),
    Phase("stat", "STAT reply", "STAT", "--login"),
    Phase("quit", "QUIT reply", "QUIT to its reply"),
)
NAMES = tuple(phase.name for phase in PHASES)
# --round-trip's SMTP leg (smtp.py), its labels prefixed: smtp_connect_time.
SMTP_PHASES = (
    Phase("smtp_resolve", "DNS answer for the SMTP server", "SMTP server name resolution"),
    Phase("smtp_connect", "SMTP connection", "SMTP TCP connect"),
    Phase("smtp_greeting", "SMTP greeting", "SMTP greeting"),
    Phase("smtp_starttls", "STARTTLS reply", "EHLO and STARTTLS exchange", "--smtp-tls starttls"),
    Phase("smtp_tls", "SMTP TLS handshake", "SMTP TLS handshake"),
    Phase("smtp_ehlo", "EHLO reply", "EHLO after TLS"),
    Phase("smtp_auth", "AUTH reply", "SMTP authentication"),
    Phase("smtp_submit", "reply to the message", "MAIL, RCPT, DATA and the message"),
    Phase("smtp_quit", "SMTP QUIT reply", "SMTP QUIT to its reply"),
)
SMTP_NAMES = tuple(phase.name for phase in SMTP_PHASES)
WAITING_FOR = {phase.name: phase.waiting_for for phase in (*PHASES, *SMTP_PHASES)}
# Read within the deadline, but timed as part of the TLS phase.
WAITING_FOR["ca-file"] = "--ca-file data"
# After STAT, timed with it (a phase of its own would add a perfdata label).
WAITING_FOR["probe"] = "--probe reply"


def help_lines(width: int = 15, phases: tuple[Phase, ...] = PHASES) -> list[str]:
    """The phases' perfdata items as --help lists them."""
    lines = []
    for phase in phases:
        label = f"{phase.name}_time".ljust(width)
        lines.append(f"  {label}seconds, {phase.described()}")
    return lines
