"""Bash completion (check_pop3_ipmon/completion.py), run by a real bash.

Each script's file is sourced into `bash --norc` and its function called as
bash's programmable completion calls it (COMP_WORDS, COMP_CWORD); what it
offers must be what the script's own parser accepts. The check never loads
the module: its start-up cost is unchanged (tests/packaging/test_layout.py
keeps the modules the check imports).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from check_pop3_ipmon import completion, launcher
from check_pop3_ipmon.manpage import parser_of

DRIVER = """\
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
spec=$(complete -p "${COMP_WORDS[0]}")
fn=${spec##*-F }; fn=${fn%% *}
"$fn"
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("completion")
    completion.write(directory)
    return directory


def complete(files: Path, *words: str) -> list[str]:
    bash = shutil.which("bash")
    assert bash is not None
    script = files.parent / "driver.sh"
    script.write_text(DRIVER)
    proc = subprocess.run(
        [bash, "--norc", "--noprofile", str(script), str(files / words[0]), *words],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    ]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_a_file_per_console_script(files: Path) -> None:
    assert {path.name for path in files.iterdir()} == set(launcher.SCRIPTS)
    for path in files.iterdir():
        syntax = subprocess.run(
            ["bash", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False
        )
        assert syntax.returncode == 0, syntax.stderr


@pytest.mark.parametrize("script", sorted(launcher.SCRIPTS))
def test_options_and_subcommands_are_the_parsers(files: Path, script: str) -> None:
    parser = parser_of(script)
    assert complete(files, script, "-") == options(parser)
    subs = subcommands(parser)
    if subs:
        assert complete(files, script, "") == list(subs)
        for name, sub in subs.items():
            assert complete(files, script, name, "-") == options(sub)


def test_choices_follow_their_option(files: Path) -> None:
    assert complete(files, "check_pop3_ipmon", "-H", "x", "--tls", "") == [
        "none",
        "starttls",
        "implicit",
    ]
    assert complete(files, "check_pop3_ipmon", "--tls", "=", "st") == ["starttls"]
    assert complete(files, "check_pop3_ipmon", "--auth", "a") == ["apop"]
    assert complete(files, "pop3_ipmon_report", "--db", "x", "html", "--period", "w") == ["week"]
    # A value without choices is bash's default (file names): nothing from us.
    assert complete(files, "check_pop3_ipmon", "--authfile", "-") == []
    assert complete(files, "check_pop3_ipmon", "--au") == ["--auth", "--authfile"]
