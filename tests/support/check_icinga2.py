"""The ApiUser contrib/README.md documents for check-icinga2, taken from the page itself."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.icinga2 import string

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### Icinga 2 API user for check-icinga2\n"
USER = "pop3-ipmon-check"


def documented_api_user(password: str) -> str:
    """The ApiUser block of contrib/README.md's section, with this run's password."""
    text = (ROOT / "contrib" / "README.md").read_text()
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```\n(object ApiUser .*?\n})\n```", section, re.S)
    assert f'object ApiUser "{USER}"' in block
    assert 'password = "a long random string"' in block
    return block.replace('"a long random string"', string(password))
