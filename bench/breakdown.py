"""One check in a fresh interpreter, timed step by step; bench.py runs it many times.

    python bench/breakdown.py OUTFILE PLUGIN-ARGS...

Does what the console script does, in the same order, and writes the
milliseconds of each step to OUTFILE as JSON (stdout stays the plugin's):
importing nagiosplugin (the floor's own import), argparse, socket, ssl (TLS
checks only), the plugin's modules; building the parser and parsing; making
the TLS context; the check run by nagiosplugin, split into the POP3 exchange
(what the plugin reports as `time`, server latency included), the rest of
the probe, and nagiosplugin's evaluation and output. What this process cannot
see (the interpreter's start and exit) is the rest of the wall time.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import json  # noqa: E402  (after the clock starts; the floor imports json too)
import os  # noqa: E402
import sys  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self.last = _START

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = (now - self.last) * 1000
        self.last = now


def imports(clock: Clock, tls_check: bool) -> None:
    import nagiosplugin  # noqa: F401

    clock.lap("import nagiosplugin")
    import argparse  # noqa: F401

    clock.lap("import argparse")
    import socket  # noqa: F401

    clock.lap("import socket")
    if tls_check:
        import ssl  # noqa: F401

        clock.lap("import ssl")
    from check_pop3_ipmon.check import cli, plugin, run, session  # noqa: F401

    if tls_check:
        from check_pop3_ipmon.check import tls  # noqa: F401  (in a check: inside tls_time)
    clock.lap("import check_pop3_ipmon")


def parse(clock: Clock, argv: list[str]) -> object:
    from check_pop3_ipmon.check import cli

    cli.build_parser()
    clock.lap("build the parser")
    again = time.perf_counter()
    cli.build_parser()
    again = (time.perf_counter() - again) * 1000
    options = cli.parse(argv)  # builds the parser again: not counted twice
    clock.lap("parse")
    clock.steps["parse"] -= again
    return options


def run(clock: Clock, options: object, tls_check: bool) -> int:
    from check_pop3_ipmon.check import cli, session
    from check_pop3_ipmon.check import run as check_run

    if not isinstance(options, cli.Options):
        raise TypeError(options)
    if tls_check:
        from check_pop3_ipmon.check import tls

        # Made here as session makes it, and handed to it, so that the
        # exchange below is the handshake without the context.
        s = options.settings
        context = tls.make_context(s.ca_file, s.insecure, s.tls_min_version)
        tls.make_context = lambda *args: context  # type: ignore[assignment]
        clock.lap("TLS context")
    check = check_run.build_check(options)
    probe = {"wall": 0.0, "reported": 0.0}
    original = session.probe

    def timed_probe(settings: session.Settings) -> session.ProbeResult:
        started = time.perf_counter()
        result = original(settings)
        probe["wall"] = (time.perf_counter() - started) * 1000
        probe["reported"] = result.total * 1000
        return result

    session.probe = timed_probe  # type: ignore[assignment]
    clock.lap("build the check")
    code = 0
    try:
        check.main(verbose=0, timeout=11)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 3
    sys.stdout.flush()
    clock.lap("check")
    total = clock.steps.pop("check")
    clock.steps["exchange (reported time)"] = probe["reported"]
    clock.steps["probe outside the exchange"] = probe["wall"] - probe["reported"]
    clock.steps["nagiosplugin evaluation and output"] = total - probe["wall"]
    return code


def main() -> None:
    clock = Clock()
    out, argv = sys.argv[1], sys.argv[2:]
    tls_check = "-S" in argv or "--ssl" in argv or "--tls" in argv
    imports(clock, tls_check)
    options = parse(clock, argv)
    code = run(clock, options, tls_check)
    with open(out, "w") as handle:
        json.dump({**clock.steps, "code": code}, handle)
    os._exit(0)  # as check_pop3_ipmon.check.run.entry() ends


main()
