"""Every failure kind a test can end with, once: its state, the option that
changes that state, and whether the status line still shows the greeting.

The plugin (single address and --all-addresses alike) reads this table and
nothing else to turn a Failure into a state and a text.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional


class Kind:
    __slots__ = ("attribute", "flag", "name", "shows_greeting", "state")

    def __init__(
        self,
        name: str,
        state: int = 2,
        flag: str = "",
        *,
        shows_greeting: bool = True,
    ) -> None:
        self.name = name
        self.state = state  # the default exit code
        self.flag = flag  # the option that sets another state ("-r"); empty: none
        # The Options field that holds it: "--timeout-state" -> "timeout_state".
        self.attribute: Optional[str] = _attribute(flag) if flag else None
        # A greeting that is the failure itself (-ERR, not POP3) is not repeated.
        self.shows_greeting = shows_greeting


def _attribute(flag: str) -> str:
    return {"-r": "refuse_state", "-M": "mismatch_state"}.get(
        flag, flag.lstrip("-").replace("-", "_")
    )


STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")  # by exit code
AS_ASKED = " as asked by "  # marks a state an option changed

# The connection and TLS, whatever the protocol.
RESOLVE = "resolve"
REFUSED = "refused"
TIMEOUT = "timeout"
CONNECT = "connect"
TLS_VERIFY = "tls-verify"
TLS_ERROR = "tls"
CLOSED = "closed"
TOO_LONG = "too-long"
CONFIG = "config"  # our side is set up wrong (e.g. an unreadable --ca-file): UNKNOWN
TOO_MANY = "too-many"  # --all-addresses: the name has more addresses than a pool takes
# A dialog's own (POP3; SMTP for --round-trip).
ERR_GREETING = "err"
NOT_SERVICE = "not-pop3"  # the greeting is not the protocol's
NO_STARTTLS = "no-stls"
NO_AUTH = "no-auth"  # no usable login method (none offered, no APOP timestamp)
LOGIN = "login"
BUSY = "busy"  # the login refused for now: [LOGIN-DELAY], [IN-USE] (RFC 2449 8.1, 3206)
STAT = "stat"
SUBMIT = "submit"  # --round-trip: the SMTP server did not take the message
DELIVERY = "delivery"  # --round-trip: the message did not arrive in time

KINDS = {
    kind.name: kind
    for kind in (
        Kind(RESOLVE),
        Kind(REFUSED, 2, "-r"),
        Kind(TIMEOUT, 2, "--timeout-state"),
        Kind(CONNECT),
        Kind(TLS_VERIFY),
        Kind(TLS_ERROR),
        Kind(CLOSED),
        Kind(TOO_LONG),
        Kind(CONFIG, 3),
        Kind(TOO_MANY, 3),
        Kind(ERR_GREETING, shows_greeting=False),
        Kind(NOT_SERVICE, shows_greeting=False),
        Kind(NO_STARTTLS),
        Kind(NO_AUTH),
        Kind(LOGIN),
        Kind(BUSY, 1, "--busy-state"),
        Kind(STAT),
        Kind(SUBMIT),
        Kind(DELIVERY),
    )
}


def kind(name: str) -> Kind:
    """A kind by name; one not in the table is a finding about the server: CRITICAL."""
    return KINDS.get(name) or Kind(name)


def state_of(name: str, options: object) -> int:
    """The exit code a failure of this kind gets under these options."""
    found = kind(name)
    if found.attribute is None:
        return found.state
    value: int = getattr(options, found.attribute)
    return value


def text_of(name: str, message: str, options: object) -> str:
    """The failure's text, saying so when an option changed its state."""
    found = kind(name)
    if found.attribute is None:
        return message
    return overridden(message, state_of(name, options), found.state, found.flag)


def overridden(text: str, state: int, default: int, option: str) -> str:
    """Say so when an option changed the state, or an OK would hide what happened."""
    if state == default:
        return text
    return f"{text}, reported {STATE_NAMES[state]}{AS_ASKED}{option}"
