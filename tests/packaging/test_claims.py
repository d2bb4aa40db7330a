"""What the package and the README claim is what the tests cover.

The package description and the README's first paragraph name the engines
the tests start for real (tests/support/nagios.py, tests/support/icinga2.py)
and no other; the Pythons the README says are known to work are the ones tox
tests (and CI requires) and the ones the package's classifiers name.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTED_ENGINES = {"Nagios 4": "nagios.py", "Icinga 2": "icinga2.py"}
UNTESTED_ENGINES = ("Naemon", "Checkmk", "Check_MK", "Shinken", "Sensu", "Zabbix", "Opsview")


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    return config


def readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_description_and_readme_name_only_the_engines_tested() -> None:
    intro = (ROOT / "README.md").read_text().split("\n\n")[1]
    package_doc = (ROOT / "check_pop3_ipmon" / "__init__.py").read_text().split("\n", 1)[0]
    for text in (setup_cfg()["metadata"]["description"], intro, package_doc):
        assert [name for name in TESTED_ENGINES if name in text] == list(TESTED_ENGINES), text
        assert [name for name in UNTESTED_ENGINES if name.lower() in text.lower()] == [], text
    for fixture in TESTED_ENGINES.values():
        assert (ROOT / "tests" / "support" / fixture).is_file()


def test_known_to_work_pythons_are_the_ones_tested() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    tested = [
        f"3.{env[3:]}" for env in re.findall(r"\bpy3\d+\b", tox["tox"]["envlist"])
    ]  # py39 -> 3.9
    (line,) = [
        line
        for line in readme_section("Known to work").splitlines()
        if line.startswith("- CPython ")
    ]
    claimed = re.findall(r"\b3\.\d+\b", line.split(", with")[0])
    classifiers = re.findall(
        r"Programming Language :: Python :: (3\.\d+)", setup_cfg()["metadata"]["classifiers"]
    )
    assert tested and tested == claimed == classifiers


def test_quick_start_is_two_commands_after_a_tox_that_installs_on_debian_12() -> None:
    """The demo and the tests; tox itself comes from a venv (Debian 12's Python
    refuses a plain `pip install tox`, PEP 668; its own tox 3.28 is too old)."""
    section = readme_section("Quick start")
    prose, block, _ = section.split("```", 2)
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["tox -e demo", "tox"]
    assert "(`pip install tox`)" not in prose
    assert "`python3 -m venv ~/.local/tox && ~/.local/tox/bin/pip install 'tox>=4'`" in prose
    assert (ROOT / "toxfile.py").is_file()  # the pyenv Pythons CI runs, found by tox


def test_every_test_file_the_docs_name_exists() -> None:
    """Issue 20: contrib/notify/README.md named a test file that did not exist."""
    docs = [
        ROOT / "README.md",
        *ROOT.glob("*.md"),
        *ROOT.glob("contrib/**/*.md"),
        *ROOT.glob("bench/*.md"),
    ]
    named = {
        (doc.relative_to(ROOT), path)
        for doc in docs
        for path in re.findall(r"\btests/[\w/]+\.py\b", doc.read_text())
    }
    assert named
    assert [(str(doc), path) for doc, path in sorted(named) if not (ROOT / path).is_file()] == []


def test_contrib_steps_link_the_scripts_from_where_the_install_put_them() -> None:
    """Issue 20: contrib/README.md linked them from /usr/local/bin, where the
    README's venv install on Debian 12 had put them in its venv's bin/."""
    install = readme_section("Install")
    (venv,) = re.findall(r"python3 -m venv --system-site-packages (\S+)\n", install)
    steps = (ROOT / "contrib" / "README.md").read_text()
    links = re.findall(r"ln -sf? (\S+)/\$p /usr/lib/nagios/plugins/\$p", steps)
    assert links == [f"{venv}/bin"] * 2
    assert f'export PATH="{venv}/bin:$PATH"' in steps
    for doc in ("README.md", "REPORTS.md", "RECOVERY.md", "notify/README.md"):
        text = (ROOT / "contrib" / doc).read_text()
        assert not re.findall(r"/usr/local/bin/(?:check_pop3_ipmon|pop3_ipmon_\w+)", text), doc


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of the ## and ### headings, outside code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        match = re.fullmatch(r"(##|###) (.+)", line)
        if match and not fenced:
            found.append((len(match.group(1)), match.group(2)))
    return found


TOC_PAGES = ("README.md", "contrib/README.md")


@pytest.mark.parametrize("page", TOC_PAGES)
def test_table_of_contents_lists_every_section_in_order(page: str) -> None:
    """Issue 20: the long pages have a table of contents, and it stays true."""
    text = (ROOT / page).read_text()
    toc = text.split("**Contents**\n\n", 1)[1].split("\n\n", 1)[0]
    expected = [
        f"{'  ' * (level - 2)}- [{title}](#{anchor(title)})" for level, title in headings(text)
    ]
    assert toc.splitlines() == expected


def test_relative_links_in_the_docs_lead_somewhere() -> None:
    pages = [*ROOT.glob("*.md"), *ROOT.glob("contrib/**/*.md"), *ROOT.glob("bench/*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https: and mailto:, not ours to check offline
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path) if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif fragment and resolved.suffix == ".md":
                anchors = {anchor(title) for _, title in headings(resolved.read_text())}
                anchors |= {anchor(t) for t in re.findall(r"^# (.+)$", resolved.read_text(), re.M)}
                if fragment not in anchors:
                    broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
