"""The check's argument values: each option's text to its value, or one clear
usage error (argparse.ArgumentTypeError). Public: pop3_ipmon_config reads the
same values from its definitions file."""

from __future__ import annotations

import argparse
import re

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


def state(text: str) -> int:
    code = _STATES.get(text.lower())
    if code is None:
        # check_pop compares only the start (strncmp): "okay", "warning", "critical".
        code = next((c for word, c in _PREFIXES if text.startswith(word)), None)
    if code is None:
        raise argparse.ArgumentTypeError(f"invalid state {text!r} (ok, warning, critical, unknown)")
    return code


_PREFIXES = (("ok", 0), ("warn", 1), ("crit", 2))


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400: {text!r}")
    return value


MAX_TIMEOUT = 86400.0


def timeout(text: str) -> float:
    """-t: check_pop takes any whole number of seconds; beyond a day they all
    mean the same (an engine ends a check long before), so a day is used."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0 seconds: {text!r}")
    return min(value, MAX_TIMEOUT)


def port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)


def days(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None


# The guidelines' range syntax, decimals without exponent: [@]end, [@]start:,
# [@]~:end or [@]start:end. A range without any number ("@", ":") is refused.
_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = rf"@?(?:{_NUMBER}|(?:{_NUMBER}|~):(?:{_NUMBER})?|:{_NUMBER})"


# Numbers as C's strtod reads them in check_pop's -w/-c: ".5", "5.", "+5", "1e-3".
_LOOSE_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,2}(?!\d))?"


def _plain_numbers(text: str) -> str:
    """Each number of a range as a plain decimal, which perfdata must use."""
    from decimal import Decimal

    def plain(match: re.Match[str]) -> str:
        number = format(Decimal(match.group()).normalize(), "f")
        return "0" if number == "-0" else number

    return re.sub(_LOOSE_NUMBER, plain, text)


def threshold_range(given: str) -> str:
    from nagiosplugin import Range

    text = given if re.fullmatch(_RANGE, given) else _plain_numbers(given)
    if not text or not re.fullmatch(_RANGE, text):
        raise argparse.ArgumentTypeError(f"invalid range {given!r} (e.g. 5, 10:, ~:5, @1:3)")
    try:
        Range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid range {given!r}: {exc}") from None
    return text


def utf8(text: str) -> str:
    """Text that can go on the wire: bytes of argv that are not UTF-8 (kept by
    surrogateescape) would fail the encoding deep in the session."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {raw!r}") from None
    return text


def server_name(text: str) -> str:
    """A name the ssl module can send as SNI (it raises at connect time otherwise)."""
    try:
        ok = bool(text) and not text.startswith(".") and bool(text.encode("idna"))
    except UnicodeError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"not a server name: {text!r}")
    return text


def whole_days(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}")
    return int(text)


def cert_days(text: str) -> tuple[float, float]:
    """check_pop's -D warn[,crit] in whole days, crit 0 unless given.

    check_pop alerts when the whole days left (rounded down) are at most the
    number given: -D 30 warns at 30 days 23 hours, which is --cert-warn 31.
    """
    parts = text.split(",")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"expected DAYS[,DAYS]: {text!r}")
    warn = whole_days(parts[0])
    crit = whole_days(parts[1]) if len(parts) == 2 else 0
    return warn + 1.0, crit + 1.0


MAX_GREETING = 1 << 20


def positive_int(text: str) -> int:
    """A whole number above 0, as check_pop's is_intpos reads it."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number above 0: {text!r}")
    return int(text)


def bytes_limit(text: str) -> int:
    # Any of check_pop's values; beyond 1 MiB no POP3 greeting is plausible.
    return min(positive_int(text), MAX_GREETING)


def capa_name(text: str) -> str:
    from check_pop3_ipmon.check.capabilities import normalise_name

    name = normalise_name(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"not a capability name: {text!r}")
    return name
