"""The package's layout as its docstring maps it, and the seams between modules.

The module map in check_pop3_ipmon/__init__.py lists every module with its
one job; no module reaches into another's private names; the plain check
keeps ssl, dataclasses and typing off its start-up path. The layers
themselves are import-linter's contracts (setup.cfg, tox -e lint).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import check_pop3_ipmon

PACKAGE = Path(check_pop3_ipmon.__file__).resolve().parent
MAP_LINE = re.compile(r"^    ([\w/]+(?:\.py|/))\s+\S", re.M)


def modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "__init__.py":
            continue
        found.add(relative[: -len("__init__.py")] if path.name == "__init__.py" else relative)
    return found


def test_the_module_map_lists_every_module_and_nothing_else() -> None:
    listed = MAP_LINE.findall(check_pop3_ipmon.__doc__ or "")
    assert len(listed) == len(set(listed)), "a module listed twice"
    assert set(listed) == modules()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_reaches(path: Path) -> list[str]:
    """`from other import _name` and `other._name` where other is one of our modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = module_name(path)
    ours: dict[str, str] = {}  # local name -> our module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("check_pop3_ipmon"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if (
                    alias.name.startswith("_")
                    and node.module != own
                    and alias.name != "__version__"
                ):
                    found.append(f"from {node.module} import {alias.name}")
                ours[alias.asname or alias.name] = target
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in ours
            and ours[node.value.id] != own
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    reaches = {
        path.relative_to(PACKAGE).as_posix(): private_reaches(path)
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert {path: found for path, found in reaches.items() if found} == {}


def test_the_plain_check_loads_neither_ssl_nor_dataclasses_nor_typing() -> None:
    # Only what our code adds: a virtualenv's site hook (_virtualenv.pth on
    # Python 3.9) imports typing before any code of ours runs.
    code = (
        "import sys; before = set(sys.modules);"
        "from check_pop3_ipmon.check import cli, run;"
        "options = cli.parse(['-H', '127.0.0.1', '-p', '1']); run.build_check(options);"
        "print(sorted(m for m in ('ssl', 'dataclasses', 'typing')"
        " if m in sys.modules and m not in before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "[]\n"
