"""A real Icinga Director (Debian's icingaweb2-module-director), through icingacli only.

No web server: Icinga Web 2's configuration lives in a temporary directory
(ICINGAWEB_CONFIGDIR), with the director module (and incubator, which it
needs) enabled there and its database a fresh one on a throw-away PostgreSQL
(tests/support/postgres.py). `icingacli director migration run` makes the
schema; kickstart reads zones, endpoints and the ITL's commands from a real
Icinga 2's API, as an administrator's first setup does.

    director = Director(workdir, postgres); director.setup()
    director.kickstart(icinga)          # tests/support/icinga2.py, endpoint_address=True
    director.cli("director", "basket", "restore", stdin=json_text)
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Optional

from tests.support.icinga2 import TEST_USER, Icinga2
from tests.support.integration import find_program, missing
from tests.support.postgres import Postgres

MODULES = Path("/usr/share/icingaweb2/modules")


class Director:
    def __init__(self, workdir: Path, postgres: Postgres) -> None:
        self.icingacli = find_program("icingacli", "icingacli")
        for module in ("director", "incubator"):
            if not (MODULES / module / "module.info").is_file():
                missing(f"{MODULES / module} not found: install icingaweb2-module-{module}")
        self.config = workdir
        self.postgres = postgres
        self.password = secrets.token_hex(12)

    def setup(self) -> None:
        self.postgres.sql(f"CREATE ROLE director LOGIN PASSWORD '{self.password}'")
        self.postgres.sql(
            "CREATE DATABASE director OWNER director ENCODING 'UTF8' TEMPLATE template0"
        )
        self.postgres.sql("CREATE EXTENSION pgcrypto", database="director")
        enabled = self.config / "enabledModules"
        enabled.mkdir(parents=True)
        for module in ("director", "incubator"):
            (enabled / module).symlink_to(MODULES / module)
        (self.config / "config.ini").write_text(
            '[global]\nconfig_resource = ""\n\n[logging]\nlog = "php"\nlevel = "ERROR"\n'
        )
        (self.config / "resources.ini").write_text(
            f"""\
[director_db]
type = "db"
db = "pgsql"
host = "127.0.0.1"
port = "{self.postgres.port}"
dbname = "director"
username = "director"
password = "{self.password}"
charset = "utf8"
"""
        )
        module = self.config / "modules" / "director"
        module.mkdir(parents=True)
        (module / "config.ini").write_text('[db]\nresource = "director_db"\n')
        self.cli("director", "migration", "run")

    def kickstart(self, icinga: Icinga2) -> None:
        """Director's first setup against `icinga`: its endpoint, zones and commands."""
        (self.config / "modules" / "director" / "kickstart.ini").write_text(
            f"""\
[config]
endpoint = "{icinga.node_name}"
host = "127.0.0.1"
port = "{icinga.port}"
username = "{TEST_USER}"
password = "{icinga.password}"
"""
        )
        self.cli("director", "kickstart", "run")
        # The zone the node is in (ZoneName = NodeName), where hosts and
        # services go (kickstart guesses it; said here, not guessed).
        assert re.fullmatch(r"[\w.-]+", icinga.node_name), icinga.node_name
        self.postgres.sql(
            f"INSERT INTO director_setting VALUES ('master_zone', '{icinga.node_name}') "  # noqa: S608
            "ON CONFLICT (setting_name) DO UPDATE SET setting_value = EXCLUDED.setting_value",
            database="director",
        )

    def cli(self, *args: str, stdin: Optional[str] = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.icingacli, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "ICINGAWEB_CONFIGDIR": str(self.config)},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"icingacli {' '.join(args)}: {proc.stdout}{proc.stderr}")
        return proc.stdout + proc.stderr
