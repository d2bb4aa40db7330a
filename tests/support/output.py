"""Running the installed plugin and reading its output by the guidelines' grammar."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# 'label'=value[UOM];[warn];[crit];[min];[max]  (trailing fields may be dropped)
_NUM = r"-?\d+(?:\.\d+)?"
# A range holds at least one number: "@", ":" or "~:" alone are not ranges.
_RANGE = rf"(?=[^;]*\d)@?(?:(?:{_NUM}|~)?:)?(?:{_NUM})?"
PERF_ITEM = re.compile(
    rf"(?P<label>'[^'=]+'|[^'= ]+)=(?P<value>{_NUM})(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(?:;(?P<warn>{_RANGE})?(?:;(?P<crit>{_RANGE})?(?:;(?P<min>{_NUM})?(?:;(?P<max>{_NUM})?)?)?)?)?$"
)


@dataclass
class Perf:
    value: float
    uom: str
    warn: str
    crit: str
    min: str
    max: str


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def first(self) -> str:
        """The status line without its perfdata."""
        return self.lines[0].split(" | ", 1)[0] if self.lines else ""

    @property
    def perfdata(self) -> dict[str, Perf]:
        """Every perfdata item (first line and long output); fails on a bad one."""
        items: dict[str, Perf] = {}
        texts = [line.split("|", 1)[1] for line in self.lines if "|" in line]
        for text in texts:
            for item in text.split():
                match = PERF_ITEM.match(item)
                assert match, f"perfdata item does not parse: {item!r} in {self.stdout!r}"
                label = match["label"].strip("'")
                items[label] = Perf(
                    float(match["value"]),
                    match["uom"] or "",
                    match["warn"] or "",
                    match["crit"] or "",
                    match["min"] or "",
                    match["max"] or "",
                )
        return items


def plugin_command() -> list[str]:
    """The installed console script beside this Python, as an administrator runs it."""
    script = Path(sys.executable).parent / "check_pop3_ipmon"
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the package (pip install .)")
    return [str(script)]


def run_plugin(
    *args: str,
    timeout: float = 60.0,
    env: Optional[Mapping[str, Optional[str]]] = None,
    prefix: Sequence[str] = (),
) -> Run:
    """Run the plugin (after `prefix`, a wrapper command); `env` adds variables to
    (or, with None values, removes them from) this process's environment.
    `timeout` is a guard against a hang, not a check."""
    run_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            run_env.pop(name, None)
        else:
            run_env[name] = value
    start = time.monotonic()
    proc = subprocess.run(
        [*prefix, *plugin_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=run_env,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def run_plugin_rusage(*args: str, timeout: float = 60.0) -> tuple[Run, int]:
    """Run the plugin; also return its own peak memory (ru_maxrss, KiB)."""
    helper = Path(__file__).with_name("maxrss.py")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "maxrss"
        run = run_plugin(
            *args,
            timeout=timeout,
            prefix=[sys.executable, "-I", "-S", str(helper), str(report)],
        )
        return run, int(report.read_text())
