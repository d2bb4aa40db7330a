"""The check's console script: argv to options, one address or all of them, run.

The one place that knows both glues: plugin.py (one session) and pool.py
(--all-addresses, imported only then), so neither imports the other's caller.
"""

from __future__ import annotations

import math
import os
import sys

import nagiosplugin

from check_pop3_ipmon.check import cli, plugin

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn, Optional


def build_check(options: cli.Options) -> nagiosplugin.Check:
    if options.round_trip is not None:
        from check_pop3_ipmon.check import roundtrip_plugin

        return roundtrip_plugin.build_check(options)
    if options.all_addresses:
        from check_pop3_ipmon.check import pool

        return pool.build_check(options)
    return nagiosplugin.Check(
        plugin.Pop3(options), *plugin.contexts(options), plugin.Summary(options)
    )


# nagiosplugin-stubs lacks guarded's keyword-only form.
@nagiosplugin.guarded(verbose=0)  # type: ignore[call-arg,arg-type]
def main(argv: Optional[Sequence[str]] = None) -> None:
    options = cli.parse(argv)
    check = build_check(options)
    # Our own deadline ends the test; nagiosplugin's SIGALRM (whole seconds)
    # is only a backstop should something we did not foresee block.
    check.main(verbose=options.verbose, timeout=math.ceil(options.settings.timeout) + 1)


def entry() -> NoReturn:
    """The console script: main(), then an exit that skips the interpreter's teardown.

    Freeing every module at exit costs some 5 ms per check, a third of the
    plugin's own cost, and does nothing that the end of the process does not
    do; nothing is left to run at exit (no files written, logging goes to
    memory). The output is flushed first; should that fail, the ordinary
    exit reports it.
    """
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    os._exit(code)
