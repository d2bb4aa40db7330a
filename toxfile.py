"""tox finds every Python pyenv installed, as CI does (.ci/run).

pyenv keeps its Pythons off PATH (its shims answer only for the versions
made active), so a plain `tox` skipped py39-py313 on a machine that has them
all. Their bin directories go at the end of PATH: tox then finds each pyXY
there, while `python3` (integration, lint, ...) stays the one PATH names
first. A Python the machine does not have is still reported as `pyXY: SKIP`
in tox's summary; .ci/run fails on it instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from tox.config.cli.parser import ToxParser
from tox.plugin import impl


def with_pyenv_pythons(path: str, pyenv_root: Path) -> str:
    """PATH with pyenv's installed Python 3 bin directories appended."""
    entries = path.split(os.pathsep) if path else []
    extra = [
        str(bin_dir)
        for bin_dir in sorted(pyenv_root.glob("versions/3.*/bin"))
        if str(bin_dir) not in entries
    ]
    return os.pathsep.join(entries + extra)


@impl
def tox_add_option(parser: ToxParser) -> None:  # the first hook tox calls
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    os.environ["PATH"] = with_pyenv_pythons(os.environ.get("PATH", ""), root)
