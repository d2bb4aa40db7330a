"""Run check_pop3_ipmon for real against a small local POP3 responder.

For a first look without a POP3 server of one's own: starts three responders
on loopback (healthy, slow, refusing service) and runs the installed plugin
against each, as Nagios would, showing OK, WARNING and CRITICAL.

Then ipMonitor's "Store Monitor Statistics": the same checks run a few more
rounds, with a fourth server that is stopped for two of them; each result is
written as the perfdata line an engine would write (one round a minute, as
if tested every minute; HARD at the second failure), ingested with the
installed pop3_ipmon_report into a temporary database, and rendered as an
HTML report. The temporary directory is removed at the end; with --keep DIR
the perfdata, the database and the reports are written to DIR instead, and
stay there to be opened (tox -e demo -- --keep DIR).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shlex
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class Responder(socketserver.StreamRequestHandler):
    greeting = b"+OK demo POP3 responder ready\r\n"
    delay = 0.0

    def handle(self) -> None:
        time.sleep(self.delay)
        self.wfile.write(self.greeting)
        if self.rfile.readline(512).strip().upper() == b"QUIT":
            self.wfile.write(b"+OK bye\r\n")


class Slow(Responder):
    delay = 0.3


class Busy(Responder):
    greeting = b"-ERR [SYS/TEMP] too many connections, try later\r\n"


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[Responder], port: int = 0) -> Server:
    server = Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start(handler: type[Responder]) -> int:
    return int(serve(handler).server_address[1])


def run_check(plugin: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [str(plugin), "-H", "127.0.0.1", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
ROUNDS = 5
DOWN_ROUNDS = (1, 2)  # the flaky server is stopped for these rounds


def perfdata_line(t: int, service: str, proc: subprocess.CompletedProcess[str], hard: bool) -> str:
    """The line Nagios' service_perfdata_file template (contrib/REPORTS.md) gives."""
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    output, _, perf = first.partition(" | ")
    state = STATES[proc.returncode] if 0 <= proc.returncode <= 3 else "UNKNOWN"
    return "\t".join(
        [
            "DATATYPE::SERVICEPERFDATA",
            f"TIMET::{t}",
            "HOSTNAME::demo",
            f"SERVICEDESC::{service}",
            "SERVICECHECKCOMMAND::check_pop3_ipmon",
            f"SERVICESTATE::{state}",
            f"SERVICESTATETYPE::{'HARD' if hard else 'SOFT'}",
            "SERVICEDOWNTIME::0",
            "HOSTDOWNTIME::0",
            f"SERVICEPERFDATA::{perf}",
            f"SERVICEOUTPUT::{output}",
        ]
    )


def statistics(plugin: Path, cases: list[tuple[str, list[str]]], keep: Path | None) -> int:
    """More rounds of the checks, written as perfdata, ingested, reported:
    into keep, or a temporary directory removed at the end."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return _statistics(plugin, cases, keep, kept=True)
    with tempfile.TemporaryDirectory(prefix="pop3-ipmon-demo-") as work:
        return _statistics(plugin, cases, Path(work), kept=False)


def _statistics(plugin: Path, cases: list[tuple[str, list[str]]], work: Path, kept: bool) -> int:
    flaky = serve(Responder)
    flaky_port = int(flaky.server_address[1])
    cases = [*cases, ("flaky", ["-p", str(flaky_port)])]
    start_time = int(time.time()) - ROUNDS * 60
    failures = dict.fromkeys([name for name, _ in cases], 0)
    lines = []
    for number in range(ROUNDS):
        if number == DOWN_ROUNDS[0]:
            flaky.shutdown()
            flaky.server_close()
        if number == DOWN_ROUNDS[-1] + 1:
            flaky = serve(Responder, flaky_port)
        # The round's checks at once, as an engine runs them: the demo stays quick.
        with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
            done = list(pool.map(lambda case: run_check(plugin, case[1]), cases))
        for (name, _), proc in zip(cases, done):
            failures[name] = failures[name] + 1 if proc.returncode else 0
            # An engine with max_check_attempts 2: HARD at the second failure.
            hard = failures[name] != 1
            lines.append(perfdata_line(start_time + 60 * number, name, proc, hard))
    perfdata = work / "service-perfdata"
    perfdata.write_text("\n".join(lines) + "\n")
    report = Path(sys.executable).parent / "pop3_ipmon_report"
    db, page = work / "statistics.sqlite", work / "report.html"
    steps = [
        ["--db", str(db), "ingest", str(perfdata)],
        ["--db", str(db), "html", "-o", str(page)],
        ["--db", str(db), "json", "-o", str(work / "report.json")],
    ]
    print(f"# {ROUNDS} rounds of the checks, a 'flaky' server stopped for rounds 2 and 3")
    for step in steps:
        print(f"$ {shlex.join(['pop3_ipmon_report', *step])}")
        proc = subprocess.run(
            [str(report), *step], capture_output=True, text=True, timeout=60, check=False
        )
        print(proc.stdout + proc.stderr, end="")
        if proc.returncode:
            return 1
    for service in json.loads((work / "report.json").read_text())["services"]:
        print(
            f"{service['host']}!{service['service']}: availability "
            f"{service['availability_percent']:.1f} % (Down, HARD), "
            f"{service['availability_from_first_failure_percent']:.1f} % from the first "
            f"failure; {len(service['outages'])} outage(s)"
        )
    if kept:
        print(f"report: {page} (kept, with its database and perfdata, as --keep asked)")
    else:
        print("report: removed with the demo's temporary directory; to open it, run")
        print("        tox -e demo -- --keep DIR  (then DIR/report.html)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the report and its database here, and keep them",
    )
    args = parser.parse_args()
    plugin = Path(sys.executable).parent / "check_pop3_ipmon"
    cases = [
        ("healthy", "a healthy server", 0, ["-p", str(start(Responder))]),
        (
            "slow",
            "a server slower than -w 0.2",
            1,
            ["-p", str(start(Slow)), "-w", "0.2", "-c", "2"],
        ),
        ("busy", "a server refusing service", 2, ["-p", str(start(Busy))]),
    ]
    failed = 0
    for _, what, expected, argv in cases:
        print(f"# {what}\n$ {shlex.join(['check_pop3_ipmon', '-H', '127.0.0.1', *argv])}")
        proc = run_check(plugin, argv)
        print(proc.stdout + proc.stderr, end="")
        print(f"(exit {proc.returncode})\n")
        failed += proc.returncode != expected
    if failed:
        print(f"{failed} case(s) did not give the expected state", file=sys.stderr)
    failed += statistics(plugin, [(name, argv) for name, _, _, argv in cases], args.keep)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
