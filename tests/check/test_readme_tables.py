"""The README's option and perfdata tables say what the parser and the code do,
as check_patroni checks its README against --help: an option or a perfdata
item added, renamed or dropped fails here until the README follows."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from check_pop3_ipmon.check import cli, plugin
from check_pop3_ipmon.check.certificate import Certificate
from check_pop3_ipmon.check.phases import PHASES
from check_pop3_ipmon.check.session import ProbeResult
from check_pop3_ipmon.check.tls import TLSInfo

README = Path(__file__).resolve().parents[2] / "README.md"
# Metric contexts that print perfdata (the others only decide a state).
PERFDATA_CONTEXTS = {"time", "phase", "cert_days", "messages", "mailbox_size"}


def table(heading: str) -> list[list[str]]:
    """The rows of the first table after the heading, cells stripped."""
    text = README.read_text(encoding="utf-8")
    rest = text[text.index(heading) :]
    rows = []
    for line in rest.splitlines():
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if not set(cells[0]) <= set("-"):
            rows.append(cells)
    return rows[1:]  # the header row


def test_the_option_table_lists_every_option_the_help_shows_and_no_other() -> None:
    documented: set[str] = set()
    for cells in table("| option | meaning | default |"):
        documented.update(re.findall(r"`(-[-\w]+)", cells[0]))
        documented.update(re.findall(r"(?<=, )`?(-[-\w]+)", cells[0]))
    shown = [
        action
        for action in cli.build_parser()._actions
        if action.option_strings and action.help != argparse.SUPPRESS
    ]
    undocumented = [a.option_strings for a in shown if not documented & set(a.option_strings)]
    assert undocumented == []
    known = {option for a in shown for option in a.option_strings}
    repeated_flag = re.compile(r"-(v{2,3})")  # -vv, -vvv: -v given again
    assert {o for o in documented if o not in known and not repeated_flag.fullmatch(o)} == set()


def everything_measured() -> list[str]:
    """The perfdata labels of a session that did everything: TLS, login, STAT."""
    options = cli.parse(["-H", "127.0.0.1", "--tls", "starttls", "--capa", "-t", "10"])
    result = ProbeResult(options.settings)
    result.timings = {phase.name: 0.001 for phase in PHASES}
    result.total = 0.01
    certificate = Certificate.__new__(Certificate)
    result.tls = TLSInfo(
        version="TLSv1.3", cipher="x", verified=True, certificate=certificate, days_left=30.0
    )
    result.messages, result.mailbox_size = 1, 100
    metrics = plugin.result_metrics(result, options)
    return sorted(m.name for m in metrics if m.context in PERFDATA_CONTEXTS)


def test_the_perfdata_table_lists_what_the_code_measures() -> None:
    labels = [cells[0].strip("`") for cells in table("| label | unit | what | thresholds |")]
    assert labels[-1] == "ADDRESS_time`, ..."  # --all-addresses: the same, prefixed
    assert sorted(labels[:-1]) == everything_measured()


def test_the_phase_rows_say_what_the_phase_registry_says() -> None:
    rows = {cells[0].strip("`"): cells for cells in table("| label | unit | what | thresholds |")}
    for phase in PHASES:
        cells = rows[f"{phase.name}_time"]
        assert cells[1] == "s"
        assert cells[2].replace("`", "") == phase.described()


def test_help_lists_each_phase_as_the_registry_says() -> None:
    text = cli.epilog()
    for phase in PHASES:
        assert re.search(rf"^  {phase.name}_time +seconds, {re.escape(phase.measures)}", text, re.M)
