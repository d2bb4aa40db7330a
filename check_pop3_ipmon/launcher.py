"""The console scripts' entry points: a broken installation is one line and UNKNOWN.

Installed with `pip install --no-deps`, or run by a Python that lacks
nagiosplugin, a console script would end in a traceback and exit 1, which
the engines read as WARNING. Each entry point here imports its real main
only when it runs, and turns a failing import into one line that says what
is missing and how to fix it, and exit 3 (UNKNOWN) for every script.

A missing third-party module is told apart from our own import bugs: the
first is "not installed", the second "broken" (reinstall), never the other
way round. Both are one line, never a traceback.

Adding a console script: one line in SCRIPTS, and the entry point
`name = check_pop3_ipmon.launcher:name` in setup.cfg.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time, paid on every check
if TYPE_CHECKING:
    from typing import Callable, NoReturn, Optional

UNKNOWN = 3
PACKAGE = "check_pop3_ipmon"
# Each third-party module we import, with its Debian package (the README's
# offline path).
DEBIAN = {"nagiosplugin": "python3-nagiosplugin"}


class Script:
    __slots__ = ("prefix", "stdout", "target")

    def __init__(self, target: str, prefix: str, *, stdout: bool = False) -> None:
        self.target = target  # "module:function"; no argument, returns the exit code
        self.prefix = prefix  # how the script's broken-installation line begins
        # A plugin's line is its result, read from stdout; a handler's is an error.
        self.stdout = stdout


SCRIPTS = {
    "check_pop3_ipmon": Script("check_pop3_ipmon.check.run:entry", "POP3 UNKNOWN - ", stdout=True),
    "pop3_ipmon_alert": Script("check_pop3_ipmon.alerting.handler:main", "pop3_ipmon_alert: "),
    "pop3_ipmon_config": Script("check_pop3_ipmon.alerting.generate:main", "pop3_ipmon_config: "),
    "pop3_ipmon_recovery": Script("check_pop3_ipmon.recovery.cli:main", "pop3_ipmon_recovery: "),
    "pop3_ipmon_webhook": Script("check_pop3_ipmon.alerting.webhook:main", "pop3_ipmon_webhook: "),
    "pop3_ipmon_report": Script("check_pop3_ipmon.report.cli:main", "pop3_ipmon_report: "),
}


def problem(exc: BaseException) -> str:
    """What is wrong with the installation, and what to do about it, in one line."""
    python = sys.executable or "this Python"
    name = exc.name if isinstance(exc, ImportError) else None
    top = (name or "").partition(".")[0]
    if not top or top == PACKAGE:
        what = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        return f"{PACKAGE} is broken ({what}): reinstall it for {python}"
    known = top in DEBIAN  # a dependency; otherwise a module a stripped-down Python lacks
    if isinstance(exc, ModuleNotFoundError) and name == top:
        fix = (
            f"pip install {top}, or apt install {DEBIAN[top]} for Debian's Python"
            if known
            else "use a Python that has it"
        )
        return f"Python module {top} not found by {python}: {fix}"
    fix = f"pip install --upgrade {top}" if known else f"use a Python whose {top} works"
    return f"{top} is too old or broken for {PACKAGE} ({exc}): {fix}"


def launch(script: Script) -> NoReturn:
    """Run the script's main; a failing import of it, or within it, is one line and UNKNOWN."""
    module, _, function = script.target.partition(":")
    try:
        # __import__, not importlib.import_module: `python -X importtime`
        # (bench/startup.py) sees only imports that go through it.
        main: Callable[[], Optional[int]] = getattr(
            __import__(module, fromlist=[function]), function
        )
    except Exception as exc:  # an import can fail any way: a syntax error in a broken copy too
        fail(script, exc)
    try:
        code = main()
    except ImportError as exc:  # the lazy imports (cli's ranges need nagiosplugin)
        fail(script, exc)
    sys.exit(code)


def fail(script: Script, exc: BaseException) -> NoReturn:
    stream = sys.stdout if script.stdout else sys.stderr
    print(script.prefix + problem(exc), file=stream)
    sys.exit(UNKNOWN)


def __getattr__(name: str) -> Callable[[], NoReturn]:
    """`check_pop3_ipmon.launcher:<script>` for every script in SCRIPTS."""
    if name not in SCRIPTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return lambda: launch(SCRIPTS[name])
