"""The response-time chart as inline SVG: the total time as a band from the
lowest to the highest test of each pixel column (so no spike and no outage
disappears however many tests a column holds), thresholds dashed, outages
and maintenance shaded, failed tests marked. No script, no external
resource; a few kilobytes a chart, whatever the number of tests."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from html import escape
from typing import Optional

from check_pop3_ipmon.report.availability import Outage
from check_pop3_ipmon.report.model import Sample

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 12, 36
COLOURS = {
    "time": "#1f4e9c",
    "resolve_time": "#8c564b",
    "connect_time": "#2ca02c",
    "tls_time": "#9467bd",
    "stls_time": "#e377c2",
    "greeting_time": "#17becf",
    "capa_time": "#7f7f7f",
    "login_time": "#bcbd22",
    "stat_time": "#ff7f0e",
    "quit_time": "#6b6ecf",
}
MAINTENANCE = "#8e9aaf"
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def threshold_value(spec: str) -> Optional[float]:
    """The bound a Nagios range draws at: its upper end, or its only number."""
    numbers = _NUMBER.findall(spec)
    if not numbers:
        return None
    value = float(numbers[-1])
    return value if 0 <= value < 1e6 else None


class _Axes:
    """Time across; seconds up on a log scale, a decade a grid line: the
    phases (microseconds to connect on a LAN, milliseconds to greet) and the
    thresholds (seconds) all stay readable on one chart."""

    def __init__(self, start: float, end: float, values: Sequence[float]) -> None:
        self.start, self.end = start, max(end, start + 1)
        positive = [v for v in values if v > 0] or [0.001]
        self.low = max(-6, math.floor(math.log10(min(positive))))  # 1 us at least
        self.high = max(self.low + 1, math.ceil(math.log10(max(positive))))
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM

    def x(self, t: float) -> float:
        share = (min(max(t, self.start), self.end) - self.start) / (self.end - self.start)
        return LEFT + share * self.width

    def y(self, value: float) -> float:
        """A value at or below the lowest decade (0 included) sits on the axis."""
        power = math.log10(value) if value > 0 else self.low
        share = (min(max(power, self.low), self.high) - self.low) / (self.high - self.low)
        return TOP + self.height - share * self.height


def _seconds(value: float) -> str:
    """A decade as people say it: 10 us, 1 ms, 100 ms, 10 s."""
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("\u00b5s", 1e-6)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value:g} s"


def _step(dx: int, dy: int, x: int, y: int) -> str:
    """To the next point: relative ("l1,-3") when it is the next column."""
    return f"l{dx},{dy}" if abs(dx) == 1 else f"L{x},{y}"


def _band_path(columns: list[int], highs: list[int], lows: list[int]) -> str:
    """The upper edge along, the last column one pixel wide, the lower edge
    back: some 6 bytes a column and edge, a few kilobytes a chart."""
    out = [f"M{columns[0]},{highs[0]}"]
    for i in range(1, len(columns)):
        out.append(
            _step(columns[i] - columns[i - 1], highs[i] - highs[i - 1], columns[i], highs[i])
        )
    out.append(f"h1V{lows[-1]}h-1")
    for i in range(len(columns) - 2, -1, -1):
        out.append(_step(columns[i] - columns[i + 1], lows[i] - lows[i + 1], columns[i], lows[i]))
    out.append("Z")
    return "".join(out)


def _band(axes: _Axes, samples: Sequence[Sample], phase: str) -> str:
    """SVG path data: per pixel column the lowest and the highest value, as a
    closed band (upper edge along, lower edge back); a test without the
    phase (a failure before it) breaks the band."""
    runs: list[dict[int, list[float]]] = [{}]
    for sample in samples:
        value = sample.phases.get(phase)
        if value is None:
            if runs[-1]:
                runs.append({})
            continue
        column = int(axes.x(sample.t))
        low_high = runs[-1].get(column)
        if low_high is None:
            runs[-1][column] = [value, value]
        elif value < low_high[0]:
            low_high[0] = value
        elif value > low_high[1]:
            low_high[1] = value
    parts = []
    for run in runs:
        if run:
            columns = sorted(run)
            highs = [round(axes.y(run[x][1])) for x in columns]
            lows = [round(axes.y(run[x][0])) for x in columns]
            parts.append(_band_path(columns, highs, lows))
    return " ".join(parts)


def _grid(axes: _Axes, tz: datetime.tzinfo) -> list[str]:
    parts = []
    for power in range(axes.low, axes.high + 1):
        value = 10.0**power
        y = axes.y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + axes.width}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_seconds(value)}</text>'
        )
    span = axes.end - axes.start
    fmt = "%H:%M:%S" if span <= 600 else "%H:%M" if span <= 86400 else "%m-%d %H:%M"
    for i in range(7):
        t = axes.start + span * i / 6
        x = axes.x(t)
        label = datetime.datetime.fromtimestamp(t, tz).strftime(fmt)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + axes.height}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{HEIGHT - 14}" text-anchor="middle">{label}</text>'
        )
    return parts


def chart(
    samples: Sequence[Sample],
    *,
    start: float,
    end: float,
    down: Sequence[Outage],
    first_failure: Sequence[Outage],
    warn: str,
    crit: str,
    maintenance: Sequence[tuple[float, float]] = (),
    tz: datetime.tzinfo = datetime.timezone.utc,
) -> str:
    phases = ["time"] if any("time" in s.phases for s in samples) else []
    values = [s.phases["time"] for s in samples if "time" in s.phases]
    limits = [
        (name, threshold_value(spec)) for name, spec in (("warning", warn), ("critical", crit))
    ]
    drawn = [(name, value) for name, value in limits if value is not None]
    axes = _Axes(start, end, values + [v for _, v in drawn])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" font-size="11">',
        f'<rect x="{LEFT}" y="{TOP}" width="{axes.width}" height="{axes.height}" fill="#fff" '
        'stroke="#999"/>',
    ]
    for begin, stop in maintenance:
        x1, x2 = axes.x(begin), axes.x(stop)
        parts.append(
            f'<rect class="maintenance" x="{x1:.0f}" y="{TOP}" width="{max(x2 - x1, 1):.0f}" '
            f'height="{axes.height}" fill="{MAINTENANCE}" fill-opacity="0.35"/>'
        )
    for outages, fill in ((first_failure, "#f5b041"), (down, "#e74c3c")):
        for outage in outages:
            x1 = axes.x(outage.start)
            x2 = axes.x(outage.start + outage.seconds)  # an ongoing one: to the last test
            parts.append(
                f'<rect class="outage" x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 1):.1f}" '
                f'height="{axes.height}" fill="{fill}" fill-opacity="0.3"/>'
            )
    parts += _grid(axes, tz)
    for name, value in drawn:
        y = axes.y(value)
        colour = "#e67e22" if name == "warning" else "#c0392b"
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + axes.width}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
    for phase in phases:
        parts.append(
            f'<path fill="{COLOURS[phase]}" stroke="{COLOURS[phase]}" stroke-width="1.5" '
            f'stroke-linejoin="round" d="{_band(axes, samples, phase)}"/>'
        )
    # One mark a pixel column with a failed test, not one a test.
    marked = sorted({int(axes.x(sample.t)) for sample in samples if sample.state != 0})
    if marked:
        y = TOP + axes.height - 3
        dots = "".join(f"M{x},{y}h1" for x in marked)
        parts.append(f'<path d="{dots}" stroke="#c0392b" stroke-width="5" stroke-linecap="round"/>')
    legend = [("check time, min-max", COLOURS["time"], "")] if phases else []
    legend += [
        (f"{name} {value:g} s", "#e67e22" if name == "warning" else "#c0392b", "6 4")
        for name, value in drawn
    ]
    legend += [
        ("down", "#e74c3c", "area"),
        ("failing (SOFT)", "#f5b041", "area"),
        ("maintenance", MAINTENANCE, "area"),
    ]
    for i, (label, colour, dash) in enumerate(legend):
        y = TOP + 10 + i * 16
        x = WIDTH - RIGHT + 10
        if dash == "area":
            parts.append(
                f'<rect x="{x}" y="{y - 8}" width="18" height="10" fill="{colour}" '
                'fill-opacity="0.3"/>'
            )
        else:
            style = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x}" x2="{x + 18}" y1="{y - 3}" y2="{y - 3}" stroke="{colour}" '
                f'stroke-width="2"{style}/>'
            )
        parts.append(f'<text x="{x + 24}" y="{y}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
