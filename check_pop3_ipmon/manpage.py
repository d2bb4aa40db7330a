"""Manual pages for the console scripts, written from their own argparse parsers.

Run at package build time (debian/rules: `python3 -m check_pop3_ipmon.manpage
DIR`), so a page can never disagree with `--help`: the options, their help,
the groups, the subcommands and the epilog all come from the parser the
script itself parses its arguments with. No third-party generator: Debian 12
ships argparse-manpage 1.2.2, several majors behind upstream, and the roff
needed here is a page of code.

Not on any script's import path: only the build imports it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable

from check_pop3_ipmon import __version__

# Every console script (launcher.SCRIPTS; a test keeps the two in step), with
# the function that builds its parser, and the section its page goes in.
PARSERS = {
    "check_pop3_ipmon": "check_pop3_ipmon.check.cli:build_parser",
    "pop3_ipmon_alert": "check_pop3_ipmon.alerting.arguments:build_parser",
    "pop3_ipmon_config": "check_pop3_ipmon.alerting.generate:build_parser",
    "pop3_ipmon_recovery": "check_pop3_ipmon.recovery.cli:parser",
    "pop3_ipmon_webhook": "check_pop3_ipmon.alerting.webhook:build_parser",
    "pop3_ipmon_report": "check_pop3_ipmon.report.cli:build_parser",
}
SECTION = "1"
# What the pages point at; one line each, shown on every page.
SEE_ALSO = (
    "/usr/share/check_pop3_ipmon/README.md (the engines' configuration), "
    "/usr/share/doc/check-pop3-ipmon/README.md.gz"
)


def escape(text: str) -> str:
    """Text as roff reads it literally: backslashes, hyphens (minus signs in
    options, so a copied option works), and a line that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n")
    )


def parser_of(script: str) -> argparse.ArgumentParser:
    module, _, function = PARSERS[script].partition(":")
    build: Callable[[], argparse.ArgumentParser] = getattr(
        __import__(module, fromlist=[function]), function
    )
    return build()


def _raw(parser: argparse.ArgumentParser) -> bool:
    """Description and epilog laid out by hand (the check's), not to be refilled."""
    formatter = parser.formatter_class
    return isinstance(formatter, type) and issubclass(
        formatter, argparse.RawDescriptionHelpFormatter
    )


def _text(text: str, raw: bool) -> list[str]:
    if raw:
        return [".nf", escape(text.strip("\n")), ".fi"]
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    out: list[str] = []
    for paragraph in paragraphs:
        out += [".PP", escape(paragraph)]
    return out[1:] if out else out


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, list[str]]]:
    """(group title, roff lines) for each group that shows an option."""
    formatter = parser._get_formatter()
    for group in parser._action_groups:
        lines: list[str] = []
        for action in group._group_actions:
            if action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    lines += [".TP", f"\\fB{escape(choice.dest)}\\fR", escape(choice.help or "")]
                continue
            invocation = formatter._format_action_invocation(action)
            helptext = formatter._expand_help(action) if action.help else ""
            lines += [".TP", f"\\fB{escape(invocation)}\\fR", escape(" ".join(helptext.split()))]
        if lines:
            yield group.title or "Options", lines


def _subcommands(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().strip()
    usage = usage[len("usage: ") :] if usage.lower().startswith("usage: ") else usage
    return " ".join(usage.split())  # man fills it to the reader's width


def page(script: str) -> str:
    """The manual page of one console script, in roff (man(7))."""
    parser = parser_of(script)
    raw = _raw(parser)
    # The NAME line (whatis, apropos): the description's first clause.
    description = " ".join((parser.description or script).split())
    description = description.removeprefix(f"{script}: ")  # recovery's docstring names it
    summary = re.split(r"\. | \(|: |, ", description)[0]
    summary = summary.rstrip(".")
    lines = [
        f'.TH {escape(script.upper())} {SECTION} "" '
        f'"check_pop3_ipmon {escape(__version__)}" "User Commands"',
        ".SH NAME",
        f"{escape(script)} \\- {escape(summary[0].lower() + summary[1:])}",
        ".SH SYNOPSIS",
        escape(_usage(parser)),
    ]
    if parser.description:
        lines += [".SH DESCRIPTION", *_text(parser.description, raw)]
    for title, options in _options(parser):
        lines += [f".SH {escape(title.upper())}", *options]
    for name, sub in _subcommands(parser):
        lines += [f".SH {escape(name.upper())} OPTIONS", escape(_usage(sub))]
        for title, options in _options(sub):
            lines += [f".SS {escape(title.capitalize())}", *options]
    if parser.epilog:
        lines += [".SH NOTES", *_text(parser.epilog, raw)]
    lines += [".SH SEE ALSO", escape(SEE_ALSO)]
    return "\n".join(lines) + "\n"


def write(directory: Path, scripts: Sequence[str] = tuple(PARSERS)) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for script in scripts:
        path = directory / f"{script}.{SECTION}"
        path.write_text(page(script), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] = tuple(sys.argv[1:])) -> int:
    if len(argv) != 1:
        print("usage: python3 -m check_pop3_ipmon.manpage DIRECTORY", file=sys.stderr)
        return 2
    for path in write(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
