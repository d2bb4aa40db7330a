"""The HTML report in a real browser: headless Chromium renders it to a PNG
whose chart shows the response-time line and the shaded outage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.report.test_report import line
from tests.support.integration import find_program
from tests.support.perfdata_files import iso, report
from tests.support.png import read_rgb

pytestmark = pytest.mark.browser

T0 = 1_796_000_000
TIME_LINE = (0x1F, 0x4E, 0x9C)  # svg.COLOURS["time"]


def over(background: tuple[float, ...], colour: tuple[int, ...]) -> tuple[float, ...]:
    """`colour` at 30 % opacity over `background`, as the chart shades outages."""
    return tuple(b * 0.7 + c * 0.3 for b, c in zip(background, colour))


# Down (#e74c3c) drawn over the first-failure shading (#f5b041), over white.
DOWN_SHADE = tuple(
    round(v) for v in over(over((255, 255, 255), (0xF5, 0xB0, 0x41)), (0xE7, 0x4C, 0x3C))
)


def perfdata(path: Path) -> None:
    with open(path, "w") as out:
        for i in range(240):
            failing = 120 <= i < 150
            state, kind = (
                ("CRITICAL", "HARD" if i >= 122 else "SOFT") if failing else ("OK", "HARD")
            )
            total = 0.0004 if failing else 0.02 + (i % 7) / 500
            perf = f"time={total:.6f}s;0.03;0.05;0;10"
            if not failing:
                perf += f" connect_time=0.0003s;;;0 greeting_time={total - 0.001:.6f}s;;;0"
            out.write(line(T0 + 60 * i, state, kind, perf=perf, output=f"POP3 {state}"))


def count(rows: list[bytes], colour: tuple[float, ...], x_max: int, slack: int = 12) -> int:
    found = 0
    for row in rows:
        for x in range(0, min(len(row) // 3, x_max)):
            pixel = row[3 * x : 3 * x + 3]
            if all(abs(pixel[i] - colour[i]) <= slack for i in range(3)):
                found += 1
    return found


def test_chart_renders_in_chromium(tmp_path: Path) -> None:
    chromium = find_program("chromium", "chromium")
    pd, db, page = tmp_path / "perfdata", tmp_path / "db", tmp_path / "report.html"
    perfdata(pd)
    report("--db", str(db), "ingest", str(pd))
    report(
        "--db", str(db), "html", "-o", str(page), "--since", iso(T0), "--until", iso(T0 + 4 * 3600)
    )
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), run.stderr[-2000:]
    width, height, rows = read_rgb(shot)
    assert (width, height) == (1200, 900)
    # The plot area ends where the legend begins (SVG x 810, page margin 24).
    plot = 24 + 810 - 4
    line_pixels = count(rows, TIME_LINE, plot)
    shade_pixels = count(rows, DOWN_SHADE, plot, slack=6)
    print(f"time line: {line_pixels} px, Down shading: {shade_pixels} px")
    assert line_pixels > 300
    assert shade_pixels > 2000
