"""Bash completion for the console scripts, written from their own argparse parsers.

Static files, made at package build time as the manual pages are (debian/rules:
`python3 -m check_pop3_ipmon.completion DIR`, installed by dh_bash-completion
to /usr/share/bash-completion/completions/): completing costs the shell a
function call and the check nothing, where argcomplete-style completion would
start Python, and a hook in every run of the check, for each Tab. Options,
their choices (--tls, --auth, ...) and subcommands come from the parser the
script parses with (manpage.PARSERS), so they cannot disagree with --help; a
value without choices completes as a file name (bash's default).

Not on any script's import path: only the build imports it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from check_pop3_ipmon.manpage import PARSERS, parser_of

_WORD = re.compile(r"[\w.@:+/-]+")


def _words(items: Sequence[object]) -> str:
    """Words the shell can take as they are (a choice that is not one is left out)."""
    return " ".join(str(item) for item in items if _WORD.fullmatch(str(item)))


def _options(parser: argparse.ArgumentParser) -> tuple[list[str], list[str], dict[str, str]]:
    """(every option, the options that take a value, {option: its choices})."""
    every: list[str] = []
    valued: list[str] = []
    choices: dict[str, str] = {}
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        every += action.option_strings
        if action.nargs != 0:
            valued += action.option_strings
            if action.choices:
                for option in action.option_strings:
                    choices[option] = _words(list(action.choices))
    return every, valued, choices


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _case(parser: argparse.ArgumentParser, indent: str) -> list[str]:
    """The shell lines that complete `cur` after `prev` for one parser."""
    every, valued, choices = _options(parser)
    cases = [
        f'{indent}    {option}) COMPREPLY=($(compgen -W "{words}" -- "$cur")); return ;;'
        for option, words in sorted(choices.items())
    ]
    rest = [option for option in valued if option not in choices]
    if rest:
        # A value without choices: bash's default, file names (complete -o default).
        cases.append(f"{indent}    {'|'.join(rest)}) return ;;")
    lines = [f'{indent}case "$prev" in', *cases, f"{indent}esac"] if cases else []
    lines.append(f'{indent}if [[ "$cur" == -* ]]; then')
    lines.append(f'{indent}    COMPREPLY=($(compgen -W "{_words(every)}" -- "$cur")); return')
    lines.append(f"{indent}fi")
    return lines


def script(name: str) -> str:
    """The completion file of one console script."""
    parser = parser_of(name)
    function = "_" + re.sub(r"\W", "_", name)
    subs = _subparsers(parser)
    lines = [
        f"# bash completion for {name}: written from its argparse parser by",
        "# check_pop3_ipmon/completion.py when the package is built; do not edit.",
        f"{function}() {{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        '    # --option=value: bash splits at "=".',
        '    if [[ "$cur" == = ]]; then cur=""; prev=${COMP_WORDS[COMP_CWORD-1]};',
        '    elif [[ "$prev" == = ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi',
        "    COMPREPLY=()",
    ]
    if subs:
        lines += [
            '    local sub="" i',
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            f'        case "${{COMP_WORDS[i]}}" in {"|".join(subs)})',
            "            sub=${COMP_WORDS[i]}; break ;;",
            "        esac",
            "    done",
            '    case "$sub" in',
        ]
        for sub_name, sub in subs.items():
            lines.append(f"    {sub_name})")
            lines += _case(sub, "        ")
            lines.append("        return ;;")
        lines.append("    esac")
    lines += _case(parser, "    ")
    if subs:
        lines.append(f'    COMPREPLY=($(compgen -W "{_words(list(subs))}" -- "$cur"))')
    lines += ["}", f"complete -o bashdefault -o default -F {function} {name}", ""]
    return "\n".join(lines)


def write(directory: Path, scripts: Sequence[str] = tuple(PARSERS)) -> list[Path]:
    """One file per script, named after it, as bash-completion looks them up."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in scripts:
        path = directory / name
        path.write_text(script(name), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] = tuple(sys.argv[1:])) -> int:
    if len(argv) != 1:
        print("usage: python3 -m check_pop3_ipmon.completion DIRECTORY", file=sys.stderr)
        return 2
    for path in write(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
