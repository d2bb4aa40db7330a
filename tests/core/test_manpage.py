"""The manual pages' generator (check_pop3_ipmon/manpage.py): one page per
console script, from the parser the script parses with. The built package's
pages, rendered by man and checked by lintian: tests/packaging/test_debian.py."""

from __future__ import annotations

from pathlib import Path

from check_pop3_ipmon import launcher, manpage


def test_every_console_script_has_its_parser() -> None:
    assert set(manpage.PARSERS) == set(launcher.SCRIPTS)


def test_escape_keeps_options_and_backslashes_literal() -> None:
    assert manpage.escape("--tls a\\b") == "\\-\\-tls a\\eb"
    assert manpage.escape("x\n.TH y\n'z") == "x\n\\&.TH y\n\\&'z"


def test_page_names_the_script_and_holds_every_option(tmp_path: Path) -> None:
    (path,) = manpage.write(tmp_path, ["pop3_ipmon_config"])
    text = path.read_text()
    assert text.startswith('.TH POP3_IPMON_CONFIG 1 "" "check_pop3_ipmon ')
    assert "\n.SH NAME\npop3_ipmon_config \\- turn an ipMonitor\\-style monitor definition" in text
    assert "\\fB\\-\\-interval\\-length INTERVAL_LENGTH\\fR" in text
