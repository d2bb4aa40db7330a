"""The POP3 password belongs in a private file, not in an engine's custom variable
(issue 10, item 16).

The documented Nagios way used to be a custom variable read through
--password-env: Nagios writes custom variables in clear into objects.cache,
which every local user can read. A real Nagios shows it; the documents now
recommend --authfile or --extra-opts, and name a password custom variable
only to say why not.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tests.packaging.test_contrib_config import STOCK_NAGIOS, stock
from tests.packaging.test_sdist_and_wheel import ROOT
from tests.support.integration import wait_until
from tests.support.nagios import Nagios

CANARY = "pop3-canary-5e1f"
# A password kept in an engine's variable: Nagios' custom variable (or its
# environment macro), Icinga 2's service variable.
IN_A_VARIABLE = re.compile(r"_POP3_PASSWORD|NAGIOS__SERVICE\w*PASSWORD|vars\.pop3_ipmon_password")


def documents() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "contrib").rglob("*.md")),
        *sorted((ROOT / "contrib" / "nagios").glob("*.cfg")),
    ]


def test_a_password_variable_is_named_only_to_say_why_not() -> None:
    """Before: docs/login-capa-addresses.md offered `_POP3_PASSWORD` with
    --password-env as the Nagios way."""
    for path in documents():
        for paragraph in path.read_text().split("\n\n"):
            if IN_A_VARIABLE.search(paragraph):
                assert "objects.cache" in paragraph, f"{path}: {paragraph}"
                assert "--authfile" in paragraph and "--extra-opts" in paragraph, paragraph


def test_the_recommendation_is_where_logins_are_set_up() -> None:
    for path in (ROOT / "docs/login-capa-addresses.md", ROOT / "contrib/README.md"):
        text = " ".join(path.read_text().split())
        assert re.search(r"[Uu]se `--authfile[^;]{0,120}? or `--extra-opts", text), path


@pytest.mark.engines
def test_nagios_writes_custom_variables_where_every_user_reads_them(tmp_path: Path) -> None:
    """The reason, from a real Nagios: objects.cache holds the variable in clear, mode 0644."""
    objects = tmp_path / "objects.cfg"
    objects.write_text(
        f"""\
define host {{
    host_name mail1
    address 127.0.0.1
    check_command check-nothing
    max_check_attempts 1
    check_period 24x7
    contacts nobody
}}
define service {{
    host_name mail1
    service_description POP3
    check_command check-nothing
    max_check_attempts 1
    check_interval 5
    retry_interval 1
    check_period 24x7
    notification_period 24x7
    contacts nobody
    active_checks_enabled 0
    _POP3_PASSWORD {CANARY}
}}
define contact {{
    contact_name nobody
    host_notifications_enabled 0
    service_notifications_enabled 0
    host_notification_period 24x7
    service_notification_period 24x7
    host_notification_commands notify-nothing
    service_notification_commands notify-nothing
}}
define command {{
    command_name check-nothing
    command_line /bin/true
}}
define command {{
    command_name notify-nothing
    command_line /bin/true
}}
"""
    )
    files = [
        objects,
        *(p for p in stock(STOCK_NAGIOS, "nagios4-common") if "timeperiods" in p.name),
    ]
    nagios = Nagios(tmp_path / "nagios", files)
    nagios.start()
    try:
        cache = tmp_path / "nagios" / "var" / "objects.cache"
        wait_until(cache.exists, 30, "objects.cache")
        assert re.search(rf"^\s*_POP3_PASSWORD\s+{CANARY}$", cache.read_text(), re.M)
        assert stat.S_IMODE(cache.stat().st_mode) & stat.S_IROTH
    finally:
        nagios.stop()
