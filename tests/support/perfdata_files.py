"""Reading engine perfdata files in tests, independently of the package's parser,
and running the installed pop3_ipmon_report."""

from __future__ import annotations

import datetime
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def result_lines(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Every complete service result line of the files, as KEY -> VALUE, each once
    (a file and its copy hold the same lines)."""
    out = []
    seen: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_bytes().decode().split("\n")[:-1]:
            if line in seen:
                continue
            seen.add(line)
            out_fields = _fields(line)
            if out_fields.get("DATATYPE") == "SERVICEPERFDATA":
                out.append(out_fields)
    return out


def _fields(line: str) -> dict[str, str]:
    """KEY -> VALUE, each key's first occurrence (the engine's fields come
    first; a plugin may print more); SERVICEOUTPUT is the rest of the line."""
    head, _, output = line.partition("\tSERVICEOUTPUT::")
    fields: dict[str, str] = {}
    for part in head.split("\t"):
        key, sep, value = part.partition("::")
        if sep:
            fields.setdefault(key, value)
    fields["SERVICEOUTPUT"] = output
    return fields


def values(lines: Sequence[dict[str, str]], label: str) -> list[float]:
    """The label's values (plain `label=1.234s;...` items) in seconds."""
    found = []
    for fields in lines:
        for item in fields["SERVICEPERFDATA"].split():
            name, _, rest = item.partition("=")
            if name == label:
                found.append(float(rest.split(";")[0].rstrip("s")))
    return found


def nearest_rank(data: Sequence[float], level: int) -> float:
    ordered = sorted(data)
    return ordered[max(1, math.ceil(level * len(ordered) / 100)) - 1]


def iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> float:
    return (
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=datetime.timezone.utc)
        .timestamp()
    )


def report(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [str(BIN / "pop3_ipmon_report"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def json_report(db: Path, out: Path, *args: str) -> dict[str, Any]:
    report("--db", str(db), "json", "-o", str(out), *args)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def snapshot(paths: Iterable[Path], directory: Path) -> list[Path]:
    """Copies of the files as they are now (the one being written may end mid-line)."""
    directory.mkdir(exist_ok=True)
    copies = []
    for path in paths:
        if path.exists():
            copies.append(Path(shutil.copy(path, directory / path.name)))
    return copies
