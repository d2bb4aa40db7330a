"""One line of an engine's service perfdata file, parsed.

Both engines write the same shape, one check result a line, tab-separated
`KEY::VALUE` fields in a fixed order (engine_settings.FIELDS): first the
fields only the engine writes (time, names, check command, state, state
type, downtime depths), then the two the plugin writes, its perfdata and
its output, output last:

    DATATYPE::SERVICEPERFDATA  TIMET::1764578168  HOSTNAME::mail1
    SERVICEDESC::POP3  SERVICECHECKCOMMAND::check_pop3_ipmon!-p 110
    SERVICESTATE::OK  SERVICESTATETYPE::HARD  SERVICEDOWNTIME::0
    HOSTDOWNTIME::0  SERVICEPERFDATA::time=0.006s;2;5;0;10 ...
    SERVICEOUTPUT::POP3 OK - ...

The engine's fields are read by position, so nothing a plugin prints can
stand in for one: the perfdata runs to the first `<tab>SERVICEOUTPUT::`,
and everything after that is opaque text (a plugin that prints that marker
in its perfdata only garbles its own result). Icinga 2 would write the
output's newlines, so its template escapes them (engine_settings); a line
is one result.

Every byte is hostile: a line that cannot be a result raises BadLine (the
caller counts it); a perfdata item that cannot be read is left out and
counted, the result itself is kept (its state and time still count).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional

from check_pop3_ipmon.check.phases import NAMES as PHASE_NAMES
from check_pop3_ipmon.core.perflabel import label_address

# The plugin's per-phase labels (README, "Perfdata"), from the plugin's own
# table, in the order a test runs them; they are the store's columns too.
PHASES = ("time", *(f"{name}_time" for name in PHASE_NAMES))
_PHASE_SET = frozenset(PHASES)
# Longest first: 'ip6_..._1_greeting_time' is ::1's greeting_time, not the
# time of ::1 in a zone named "greeting".
_BY_LENGTH = sorted(PHASES, key=len, reverse=True)
STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
STATE_NAMES = {value: key for key, value in STATES.items()}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
# Longer than any result line a POP3 check writes; beyond it a line is garbage.
MAX_LINE = 64 * 1024
MAX_OUTPUT = 300
# The plugin's perfdata with every phase is some 300 characters, an
# --all-addresses check of a pool a few thousand: the regular expression
# never sees more than this.
MAX_PERFDATA = 8192
# The engine's fields, in the order the templates write them (engine_settings).
HEAD = (
    "DATATYPE",
    "TIMET",
    "HOSTNAME",
    "SERVICEDESC",
    "SERVICECHECKCOMMAND",
    "SERVICESTATE",
    "SERVICESTATETYPE",
    "SERVICEDOWNTIME",
    "HOSTDOWNTIME",
)
MAX_EXTRA_FIELDS = 16
_OUTPUT_MARK = "\tSERVICEOUTPUT::"
# Phase times are stored as integer microseconds; anything longer than this
# is not a POP3 test's timing.
MAX_SECONDS = 86400.0

_ITEM = re.compile(
    r"""(?<!\S)(?:'((?:[^']|'')+)'|([^'=\s][^=\s]*))=   # label, quoted or not
    ([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)  # value, exponent allowed
    ([a-zA-Z%]*)                                      # unit
    ((?:;[^;\s]*){0,4})                               # ;warn;crit;min;max
    (?=\s|$)""",
    re.VERBOSE,
)


class BadLine(ValueError):
    """Not a service perfdata result."""


@dataclass
class Result:
    timet: int
    host: str
    service: str
    state: int
    hard: bool
    output: str
    command: str = ""  # the check command's name (Nagios: before the first "!")
    downtime: bool = False  # in scheduled downtime (the service's or its host's)
    phases: dict[str, float] = field(default_factory=dict)  # seconds
    extra: dict[str, float] = field(default_factory=dict)  # other labels, per-address ones
    warn: str = ""  # thresholds of `time`, as written
    crit: str = ""
    bad_items: int = 0


def _state(text: str) -> int:
    text = text.strip().upper()
    if text in STATES:
        return STATES[text]
    if text in ("0", "1", "2", "3"):
        return int(text)
    raise BadLine(f"unknown service state {text[:20]!r}")


def _hard(text: str) -> bool:
    text = text.strip().upper()
    if text in ("HARD", "1"):
        return True
    if text in ("SOFT", "0"):
        return False
    raise BadLine(f"unknown state type {text[:20]!r}")


def _timet(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise BadLine(f"TIMET is not a time: {text[:20]!r}") from None
    if not (0 < value < 2**33):
        raise BadLine(f"TIMET out of range: {text[:20]!r}")
    return int(value)


def split_address(label: str) -> Optional[tuple[str, str]]:
    """'ip4_127_0_0_1_greeting_time' (or an earlier version's
    '127.0.0.1_greeting_time') -> ('127.0.0.1', 'greeting_time'), else None."""
    for phase in _BY_LENGTH:
        if label.endswith("_" + phase):
            address = label_address(label[: -len(phase) - 1])
            if address is not None:
                return address, phase
    return None


def parse_perfdata(text: str, result: Result) -> None:
    """Fill `result`'s phases and extra from a SERVICEPERFDATA field.

    One regular-expression scan over the field (millions of lines a month);
    whatever lies between two items it recognises is unreadable items.
    """
    pos = 0
    for match in _ITEM.finditer(text):
        if match.start() > pos and text[pos : match.start()].strip():
            result.bad_items += len(text[pos : match.start()].split())
        pos = match.end()
        quoted, plain, number, unit, thresholds = match.groups()
        value = float(number)
        if not math.isfinite(value):
            result.bad_items += 1
            continue
        _store(result, quoted.replace("''", "'") if quoted else plain, value, unit, thresholds)
    if text[pos:].strip():
        result.bad_items += len(text[pos:].split())


def _store(result: Result, label: str, value: float, unit: str, thresholds: str) -> None:
    timed = label in _PHASE_SET or split_address(label) is not None
    if timed:
        factor = _TIME_UNITS.get(unit)
        if factor is None or not 0 <= value * factor <= MAX_SECONDS:
            result.bad_items += 1
            return
        value *= factor
    if label in _PHASE_SET:
        result.phases[label] = value
        if label == "time":
            fields = thresholds.split(";")
            result.warn = fields[1][:40] if len(fields) > 1 else ""
            result.crit = fields[2][:40] if len(fields) > 2 else ""
    elif len(result.extra) < 64:  # an --all-addresses check of a huge pool, or junk
        result.extra[label[:100]] = value


def _depth(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 6:
        raise BadLine(f"downtime depth is not a number: {text[:20]!r}")
    return int(text)


def _head(parts: list[str]) -> dict[str, str]:
    """The engine's fields, by position."""
    if len(parts) > 4 and parts[4].startswith("SERVICEPERFDATA::"):
        raise BadLine(
            "the perfdata before the engine's fields: an older template, "
            "replace it with contrib/'s (REPORTS.md)"
        )
    if len(parts) <= len(HEAD):
        raise BadLine(f"{len(parts)} fields, not the template's {len(HEAD) + 2}")
    fields: dict[str, str] = {}
    for key, part in zip(HEAD, parts):
        name, sep, value = part.partition("::")
        if name != key or not sep:
            raise BadLine(f"field {len(fields) + 1} is not {key}::")
        fields[key] = value
    return fields


def parse_line(raw: bytes) -> Optional[Result]:
    """A result, or None for a line of another kind (host perfdata, blank)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if not text.strip():
        return None
    if not text.startswith("DATATYPE::"):
        raise BadLine("not a perfdata line (no DATATYPE:: at its start)")
    if text.startswith("DATATYPE::HOSTPERFDATA"):
        return None
    parts = text.split("\t", len(HEAD))
    fields = _head(parts)
    if fields["DATATYPE"] != "SERVICEPERFDATA":
        return None
    rest = parts[len(HEAD)]
    # Fields a site adds for its graphing tool (PNP4Nagios' HOSTSTATE,
    # Graphios' GRAPHITEPREFIX) may stand between: the engine writes them.
    for _ in range(MAX_EXTRA_FIELDS):
        if rest.startswith("SERVICEPERFDATA::"):
            break
        extra, sep, rest = rest.partition("\t")
        if not sep or "::" not in extra:
            break
    if not rest.startswith("SERVICEPERFDATA::"):
        raise BadLine(f"no SERVICEPERFDATA:: field after the engine's {len(HEAD)}")
    perfdata, sep, output = rest[len("SERVICEPERFDATA::") :].partition(_OUTPUT_MARK)
    if not sep:
        raise BadLine("no SERVICEOUTPUT field after the perfdata")
    for key in ("TIMET", "HOSTNAME", "SERVICEDESC", "SERVICESTATE"):
        if not fields[key]:
            raise BadLine(f"no {key} field")
    # Without a state type every failure counts as a HARD one (the safe side).
    state_type = fields["SERVICESTATETYPE"]
    result = Result(
        timet=_timet(fields["TIMET"]),
        host=fields["HOSTNAME"][:200],
        service=fields["SERVICEDESC"][:200],
        state=_state(fields["SERVICESTATE"]),
        hard=_hard(state_type) if state_type else True,
        output=output[:MAX_OUTPUT],
        command=fields["SERVICECHECKCOMMAND"].split("!", 1)[0].strip()[:200],
        downtime=_depth(fields["SERVICEDOWNTIME"] or "0") + _depth(fields["HOSTDOWNTIME"] or "0")
        > 0,
    )
    if len(perfdata) > MAX_PERFDATA:
        result.bad_items += 1
        perfdata = perfdata[:MAX_PERFDATA].rsplit(" ", 1)[0]
    parse_perfdata(perfdata, result)
    return result
