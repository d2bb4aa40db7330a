"""The report as one static HTML page: inline CSS and SVG, no script, no
external resource, so it reads the same in a mail client, from a web server
or from disk. Every name and output from the database is escaped.

For a manager first: a headline availability (against --target when given),
then one plain table of the services; per service its figures, a chart of
the last 24 hours of the window, its outages and only its failed tests (the
passing ones are in the CSV and JSON), so a month of 100 services stays a
page a browser opens at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from html import escape
from typing import Optional

from check_pop3_ipmon import __version__
from check_pop3_ipmon.report.availability import Outage
from check_pop3_ipmon.report.model import Report, Sample, ServiceReport, local_time, zone
from check_pop3_ipmon.report.perfdata import STATE_NAMES
from check_pop3_ipmon.report.svg import chart

MAX_FAILED_LISTED = 100  # a service's latest failed tests; the rest in the CSV and JSON

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.s1 { background: #fff4d6; } .s2 { background: #fbe0dd; } .s3 { background: #eee0f5; }
.met { color: #1d7a34; } .missed { color: #b3261e; }
.headline { font-size: 1.6em; margin: 0.3em 0; }
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


class _Page:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.tz: datetime.tzinfo = zone(report.timezone)

    def time(self, t: Optional[float], missing: str = "") -> str:
        return missing if t is None else local_time(t, self.tz)

    def outage_rows(self, outages: Sequence[Outage]) -> list[list[str]]:
        return [
            [
                escape(self.time(o.start)),
                escape(self.time(o.end, "still down")),
                _duration(o.seconds),
            ]
            for o in outages
        ]

    def figures(self, service: ServiceReport) -> str:
        down, first = service.down, service.first_failure
        warning = (
            "counted as down (--warning-is-down)"
            if self.report.warning_is_down
            else f"{_percent(down.degraded_percent)} of the time"
        )
        rows = [
            ["Availability", _percent(down.percent)],
            ["Availability counting every failed check", _percent(first.percent)],
            ["Slow but answering (WARNING)", warning],
            ["Scheduled maintenance", _duration(down.maintenance_seconds)],
            ["Outages", str(len(down.outages))],
            ["Mean time to recover", _duration(down.mttr_seconds)],
            ["Mean time between failures", _duration(down.mtbf_seconds)],
            ["Time observed (without maintenance)", _duration(down.observed_seconds)],
            ["Checks / failed", f"{service.tests} / {service.failed_tests}"],
        ]
        return _table(["Figure", "Value"], rows)

    def failed_tests(self, service: ServiceReport) -> str:
        failed = [sample for sample in service.recent if sample.state != 0]
        shown = failed[-MAX_FAILED_LISTED:]
        rows = []
        for sample in reversed(shown):
            state = STATE_NAMES.get(sample.state, "?")
            total = sample.phases.get("time")
            rows.append(
                f'<tr class="s{sample.state}"><td>{self.time(sample.t)}</td>'
                f'<td class="text">{state}</td>'
                f'<td class="text">{"confirmed" if sample.hard else "first tries"}'
                f"{', maintenance' if sample.downtime else ''}</td>"
                f"<td>{'-' if total is None else _ms(total)}</td>"
                f'<td class="text">{escape(sample.output)}</td></tr>'
            )
        if not rows:
            return "<p>No failed checks in the last 24 hours.</p>"
        more = (
            f" (the latest {len(shown)}; the CSV and JSON have every figure)"
            if len(failed) > len(shown)
            else ""
        )
        return (
            f"<details><summary>failed checks in the last 24 hours: {len(failed)}{more}"
            f"</summary><table><tr><th>Time</th><th>State</th><th>Kind</th>"
            f"<th>Check time (ms)</th><th>Output</th></tr>{''.join(rows)}</table></details>"
        )

    def service(self, service: ServiceReport) -> str:
        report = self.report
        name = escape(f"{service.host}!{service.service}")
        down, first = service.down, service.first_failure
        # The chart starts at the first test when the data begins inside the window.
        start = (
            max(report.recent_since, service.recent[0].t) if service.recent else report.recent_since
        )
        parts = [
            f'<section id="{name}"><h2>{name}</h2>',
            self.figures(service),
            "<h3>The last 24 hours</h3>",
            f"<p>{self.time(start)} to {self.time(report.until)}; check times on a log scale, "
            "outages and maintenance shaded, failed checks marked below the axis.</p>",
            chart(
                service.recent,
                start=start,
                end=report.until,
                down=down.outages,
                first_failure=first.outages,
                warn=service.warn,
                crit=service.crit,
                maintenance=_maintenance(service.recent, report.until),
                tz=self.tz,
            ),
            self.failed_tests(service),
            "<h3>Outages</h3>",
            _table(["Start", "End", "Duration"], self.outage_rows(down.outages))
            if down.outages
            else "<p>none</p>",
        ]
        if first.outages != down.outages:
            parts += [
                "<details><summary>counting every failed check, confirmed or not: "
                f"{len(first.outages)} outage(s)</summary>",
                _table(["Start", "End", "Duration"], self.outage_rows(first.outages)),
                "</details>",
            ]
        parts += [
            "<h3>Check times (ms)</h3>",
            _table(["Phase", "Median", "95 %", "99 %"], _percentiles(service.phases)),
            "<p>Per day: in the JSON and CSV.</p>",
        ]
        if service.addresses:
            rows = [
                [escape(address), *row]
                for address, phases in service.addresses.items()
                for row in _percentiles(phases)
            ]
            parts += [
                "<h3>Per address (ms)</h3>",
                _table(["Address", "Phase", "Median", "95 %", "99 %"], rows),
            ]
        parts.append("</section>")
        return "\n".join(parts)

    def headline(self) -> str:
        report = self.report
        overall = report.overall()
        text = f'<p class="headline">Availability {_percent(overall)}'
        if report.target is not None and overall is not None:
            met = overall >= report.target
            text += (
                f' <span class="{"met" if met else "missed"}">'
                f"(target {report.target:g} %: {'met' if met else 'missed'})</span>"
            )
        text += "</p>"
        below = report.below_target()
        if report.target is not None:
            names = ", ".join(
                f'<a href="#{escape(f"{s.host}!{s.service}")}">'
                f"{escape(f'{s.host}!{s.service}')}</a>"
                for s in below[:20]
            )
            text += (
                f"<p>{len(report.services) - len(below)} of {len(report.services)} service(s)"
                f" met the target{'; below it: ' + names if names else ''}"
                f"{' and more' if len(below) > 20 else ''}.</p>"
            )
        return text


def _maintenance(samples: Sequence[Sample], end: float) -> list[tuple[float, float]]:
    """Runs of tests in downtime, each until the next test."""
    runs: list[tuple[float, float]] = []
    begin: Optional[float] = None
    for sample in samples:
        if sample.downtime and begin is None:
            begin = sample.t
        elif not sample.downtime and begin is not None:
            runs.append((begin, sample.t))
            begin = None
    if begin is not None:
        runs.append((begin, samples[-1].t if samples else end))
    return runs


def _percentiles(phases: dict[str, dict[str, float]]) -> list[list[str]]:
    return [
        [escape(label), _ms(f["p50"]), _ms(f["p95"]), _ms(f["p99"])] for label, f in phases.items()
    ]


def to_html(report: Report) -> str:
    page = _Page(report)
    overview = [
        [
            f'<a href="#{escape(f"{s.host}!{s.service}")}">{escape(f"{s.host}!{s.service}")}</a>',
            _percent(s.down.percent),
            "-" if report.warning_is_down else _percent(s.down.degraded_percent),
            _duration(s.down.maintenance_seconds),
            str(len(s.down.outages)),
            _duration(s.down.mttr_seconds),
            _duration(s.down.mtbf_seconds),
            str(s.tests),
            str(s.failed_tests),
        ]
        for s in report.services
    ]
    head = [
        "Service",
        "Availability",
        "Slow (WARNING)",
        "Maintenance",
        "Outages",
        "Mean time to recover",
        "Mean time between failures",
        "Checks",
        "Failed checks",
    ]
    body = "\n".join(page.service(service) for service in report.services)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="pop3_ipmon_report {escape(__version__)}">
<title>POP3 monitor statistics</title><style>{STYLE}</style></head>
<body><h1>POP3 monitor statistics</h1>
<p>{page.time(report.since)} to {page.time(report.until)} ({escape(report.timezone)});
{len(report.services)} service(s). Availability: the time a service answered (slow
answers included{", here counted as down" if report.warning_is_down else ""}) over the
time observed, scheduled maintenance left out; a service is down from the check that
confirms a failure (the engine's HARD state) until it answers again.</p>
{page.headline() if overview else ""}
{_table(head, overview) if overview else "<p>No results in this window.</p>"}
{body}
</body></html>
"""
