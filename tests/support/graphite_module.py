"""Icinga Web 2's graphite module reading a template file (graphite_module.php).

The module's own loader (Templates::loadIni) checks what the web interface
would refuse; the PHP next to this file prints the curves it made, their
metric filters resolved for one service, as JSON. Needs php-cli and Debian's
icingaweb2-module-graphite (its Icinga Web 2 library), no web server.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.integration import find_program, missing

MODULE = Path("/usr/share/icingaweb2/modules/graphite")
SCRIPT = Path(__file__).with_name("graphite_module.php")


def load_template(path: Path, service_name_template: str) -> dict[str, Any]:
    """{check command: {template: {"curves": {curve: [filter, function]}, "urlparams": ...}}}."""
    php = find_program("php", "php-cli")
    if not (MODULE / "library" / "Graphite" / "Graphing" / "Templates.php").is_file():
        missing(f"{MODULE} not found: install the Debian package icingaweb2-module-graphite")
    with tempfile.TemporaryDirectory() as config:
        proc = subprocess.run(
            [php, str(SCRIPT), str(path), service_name_template],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"ICINGAWEB_CONFIGDIR": config, "PATH": "/usr/bin:/bin"},
        )
    if proc.returncode != 0:
        raise AssertionError(f"the graphite module refused {path.name}: {proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
