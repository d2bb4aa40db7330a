"""The check's test, by protocol: each dialog over link.py's connection.

A new protocol is one module with its Dialog (and its Settings and result,
if it needs more than the connection's) and one line in DIALOGS. The names
below are what the rest of the check has always imported from here.
"""

from __future__ import annotations

from check_pop3_ipmon.check import pop3
from check_pop3_ipmon.check.failures import (
    BUSY,
    CLOSED,
    CONFIG,
    CONNECT,
    ERR_GREETING,
    LOGIN,
    NO_AUTH,
    REFUSED,
    RESOLVE,
    STAT,
    TIMEOUT,
    TLS_ERROR,
    TLS_VERIFY,
    TOO_LONG,
)
from check_pop3_ipmon.check.failures import NO_STARTTLS as NO_STLS
from check_pop3_ipmon.check.failures import NOT_SERVICE as NOT_POP3
from check_pop3_ipmon.check.link import (
    RESPONSE_LIMIT,
    TLS_IMPLICIT,
    TLS_NONE,
    TLS_STARTTLS,
    Failure,
    cannot_resolve,
    literal_family,
    resolve,
)
from check_pop3_ipmon.check.pop3 import ProbeResult, Settings, probe

# The dialogs by name; the first is the check's own.
DIALOGS = {pop3.Pop3.name: pop3.Pop3}
SERVICE = pop3.Pop3.name  # how the status line begins: "POP3 OK - ..."

__all__ = [
    "BUSY",
    "CLOSED",
    "CONFIG",
    "CONNECT",
    "DIALOGS",
    "ERR_GREETING",
    "LOGIN",
    "NOT_POP3",
    "NO_AUTH",
    "NO_STLS",
    "REFUSED",
    "RESOLVE",
    "RESPONSE_LIMIT",
    "SERVICE",
    "STAT",
    "TIMEOUT",
    "TLS_ERROR",
    "TLS_IMPLICIT",
    "TLS_NONE",
    "TLS_STARTTLS",
    "TLS_VERIFY",
    "TOO_LONG",
    "Failure",
    "ProbeResult",
    "Settings",
    "cannot_resolve",
    "literal_family",
    "probe",
    "resolve",
]
