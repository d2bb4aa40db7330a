"""The report as one static HTML page: inline CSS and SVG, no script, no
external resource, so it reads the same in a mail client, from a web server
or from disk. Every name and output from the database is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Optional

from check_pop3_ipmon import __version__
from check_pop3_ipmon.report.availability import Availability, Outage
from check_pop3_ipmon.report.model import Report, ServiceReport, iso
from check_pop3_ipmon.report.perfdata import STATE_NAMES
from check_pop3_ipmon.report.svg import chart

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.s0 { background: #e8f6e8; } .s1 { background: #fff4d6; }
.s2 { background: #fbe0dd; } .s3 { background: #eee0f5; }
section { border-top: 2px solid #1f4e9c; margin-top: 2em; }
summary { cursor: pointer; color: #1f4e9c; }
"""


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f} %"


def _ms(value: float) -> str:
    """Milliseconds: 17.5, or 0.013 below one (DNS from a cache, loopback connects)."""
    ms = value * 1000
    return f"{ms:.1f}" if ms >= 1 else f"{ms:.3f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _outage_rows(outages: Sequence[Outage]) -> list[list[str]]:
    return [
        [escape(iso(o.start) or ""), escape(iso(o.end) or "still down"), _duration(o.seconds)]
        for o in outages
    ]


def _figures(down: Availability, first: Availability, tests: int, failed: int) -> str:
    rows = [
        ["availability (from HARD problem: ipMonitor's Down)", _percent(down.percent)],
        ["availability (from the first failed test)", _percent(first.percent)],
        ["outages (Down)", str(len(down.outages))],
        ["MTTR (mean time to recover)", _duration(down.mttr_seconds)],
        ["MTBF (mean time between failures)", _duration(down.mtbf_seconds)],
        ["time observed", _duration(down.observed_seconds)],
        ["tests / failed", f"{tests} / {failed}"],
    ]
    return _table(["figure", "value"], rows)


def _percentiles(phases: dict[str, dict[str, float]]) -> list[list[str]]:
    return [
        [escape(label), _ms(f["p50"]), _ms(f["p95"]), _ms(f["p99"])] for label, f in phases.items()
    ]


def _recent_tests(service: ServiceReport) -> str:
    rows = []
    for sample in reversed(service.recent):
        state = STATE_NAMES.get(sample.state, "?")
        total = sample.phases.get("time")
        rows.append(
            f'<tr class="s{sample.state}"><td>{iso(sample.t)}</td><td class="text">{state}</td>'
            f'<td class="text">{"HARD" if sample.hard else "SOFT"}</td>'
            f"<td>{'-' if total is None else _ms(total)}</td>"
            f'<td class="text">{escape(sample.output)}</td></tr>'
        )
    return (
        f"<details><summary>every test in the recent window ({len(rows)})</summary>"
        "<table><tr><th>time (UTC)</th><th>state</th><th>type</th><th>time ms</th>"
        f"<th>output (failed tests)</th></tr>{''.join(rows)}</table></details>"
    )


def _service(report: Report, service: ServiceReport) -> str:
    name = escape(f"{service.host}!{service.service}")
    down, first = service.down, service.first_failure
    # The chart starts at the first test when the data begins inside the window.
    start = max(report.recent_since, service.recent[0].t) if service.recent else report.recent_since
    parts = [
        f'<section id="{name}"><h2>{name}</h2>',
        _figures(down, first, service.tests, service.failed_tests),
        "<h3>Recent activity</h3>",
        f"<p>{iso(start)} to {iso(report.until)}; response times on a log scale, "
        "outages shaded, failed tests marked below the axis.</p>",
        chart(
            service.recent,
            start=start,
            end=report.until,
            down=down.outages,
            first_failure=first.outages,
            warn=service.warn,
            crit=service.crit,
        ),
        _recent_tests(service),
        "<h3>Outages (Down, from the HARD problem)</h3>",
        _table(["start (UTC)", "end (UTC)", "duration"], _outage_rows(down.outages))
        if down.outages
        else "<p>none</p>",
        "<h3>Outages from the first failed test</h3>",
        _table(["start (UTC)", "end (UTC)", "duration"], _outage_rows(first.outages))
        if first.outages
        else "<p>none</p>",
        "<h3>Response-time percentiles (ms)</h3>",
        _table(["phase", "p50", "p95", "p99"], _percentiles(service.phases)),
    ]
    days = [
        [escape(day), *row]
        for day, phases in service.phases_per_day.items()
        for row in _percentiles(phases)
    ]
    parts.append(
        f"<details><summary>per day ({len(service.phases_per_day)})</summary>"
        + _table(["day", "phase", "p50", "p95", "p99"], days)
        + "</details>"
    )
    if service.addresses:
        rows = [
            [escape(address), *row]
            for address, phases in service.addresses.items()
            for row in _percentiles(phases)
        ]
        parts += [
            "<h3>Per address (ms)</h3>",
            _table(["address", "phase", "p50", "p95", "p99"], rows),
        ]
    parts.append("</section>")
    return "\n".join(parts)


def to_html(report: Report) -> str:
    overview = [
        [
            f'<a href="#{escape(f"{s.host}!{s.service}")}">{escape(f"{s.host}!{s.service}")}</a>',
            _percent(s.down.percent),
            _percent(s.first_failure.percent),
            str(len(s.down.outages)),
            _duration(s.down.mttr_seconds),
            _duration(s.down.mtbf_seconds),
            str(s.tests),
        ]
        for s in report.services
    ]
    head = [
        "service",
        "availability (Down)",
        "from first failure",
        "outages",
        "MTTR",
        "MTBF",
        "tests",
    ]
    body = "\n".join(_service(report, service) for service in report.services)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="pop3_ipmon_report {escape(__version__)}">
<title>POP3 monitor statistics</title><style>{STYLE}</style></head>
<body><h1>POP3 monitor statistics</h1>
<p>{iso(report.since)} to {iso(report.until)} (UTC); {len(report.services)} service(s).</p>
{_table(head, overview) if overview else "<p>No results in this window.</p>"}
{body}
</body></html>
"""
