"""A broken installation, and argv bytes that are not UTF-8: one line and UNKNOWN.

The installed console scripts run here with a module hidden from their
Python (None in sys.modules makes its import fail as a missing module
would); tests/packaging/test_sdist_and_wheel.py does the same with a real `--no-deps`
installation in a venv of its own.
"""

from __future__ import annotations

import configparser
import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from check_pop3_ipmon import launcher
from tests.support.output import run_plugin

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MISSING = (
    f"Python module nagiosplugin not found by {sys.executable}: pip install nagiosplugin, "
    "or apt install python3-nagiosplugin for Debian's Python"
)
THRESHOLD_DEFINITION = """\
[POP3]
name = Mail POP3
host = mail1
address = 192.0.2.10
warning = 2
"""


def run_hiding(
    module: str, script: str, *args: str, python_m: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script `script` (or `python -m check_pop3_ipmon`)
    with `module` hidden from its Python."""
    if python_m:
        start = "import runpy; runpy.run_module('check_pop3_ipmon', run_name='__main__')"
    else:
        start = f"import runpy; runpy.run_path({str(BIN / script)!r}, run_name='__main__')"
    code = f"import sys; sys.modules[{module!r}] = None; sys.argv[1:] = {list(args)!r}; {start}"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def console_scripts() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines)  # type: ignore[misc]


def test_every_console_script_goes_through_the_launcher_to_a_real_main() -> None:
    scripts = console_scripts()
    assert scripts == {name: f"check_pop3_ipmon.launcher:{name}" for name in launcher.SCRIPTS}
    for name, script in launcher.SCRIPTS.items():
        module, _, function = script.target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert callable(getattr(launcher, name))
        assert (BIN / name).exists(), f"{name} not installed beside {sys.executable}"
    with pytest.raises(AttributeError):
        launcher.no_such_script  # noqa: B018


def test_check_without_nagiosplugin_is_unknown_with_one_line() -> None:
    for proc in (
        run_hiding("nagiosplugin", "check_pop3_ipmon", "-H", "localhost"),
        run_hiding("nagiosplugin", "", "-H", "localhost", python_m=True),
    ):
        assert (proc.returncode, proc.stdout, proc.stderr) == (3, f"POP3 UNKNOWN - {MISSING}\n", "")


def test_config_needing_nagiosplugin_for_a_range_is_one_line(tmp_path: Path) -> None:
    """pop3_ipmon_config needs nagiosplugin only to read a threshold range."""
    definition = tmp_path / "monitors.ini"
    definition.write_text(THRESHOLD_DEFINITION)
    proc = run_hiding("nagiosplugin", "pop3_ipmon_config", "nagios", str(definition))
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", f"pop3_ipmon_config: {MISSING}\n")
    proc = run_hiding("no_such_module", "pop3_ipmon_config", "nagios", str(definition))
    assert proc.returncode == 0, proc.stderr
    assert "define service {" in proc.stdout


@pytest.mark.parametrize("name", sorted(launcher.SCRIPTS))
def test_our_own_missing_module_is_broken_not_missing(name: str) -> None:
    """A module of ours that fails to import is not "install nagiosplugin":
    it is a broken copy of the package, one line, UNKNOWN."""
    module = launcher.SCRIPTS[name].target.partition(":")[0]
    proc = run_hiding(module, name, "--help")
    line = (
        f"check_pop3_ipmon is broken (ModuleNotFoundError: import of {module} halted; "
        f"None in sys.modules): reinstall it for {sys.executable}\n"
    )
    if name == "check_pop3_ipmon":
        assert (proc.returncode, proc.stdout, proc.stderr) == (3, f"POP3 UNKNOWN - {line}", "")
    else:
        assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", f"{name}: {line}")


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            ImportError("cannot import name 'Summary' from 'nagiosplugin'", name="nagiosplugin"),
            "nagiosplugin is too old or broken for check_pop3_ipmon (cannot import name "
            "'Summary' from 'nagiosplugin'): pip install --upgrade nagiosplugin",
        ),
        (
            ModuleNotFoundError("No module named 'nagiosplugin.state'", name="nagiosplugin.state"),
            "nagiosplugin is too old or broken for check_pop3_ipmon (No module named "
            "'nagiosplugin.state'): pip install --upgrade nagiosplugin",
        ),
        (
            ModuleNotFoundError("No module named '_ssl'", name="_ssl"),
            f"Python module _ssl not found by {sys.executable}: use a Python that has it",
        ),
        (
            ImportError("cannot import name 'HASH' from 'hashlib'", name="hashlib"),
            "hashlib is too old or broken for check_pop3_ipmon (cannot import name 'HASH' "
            "from 'hashlib'): use a Python whose hashlib works",
        ),
        (
            SyntaxError("invalid syntax", ("session.py", 3, 1, "x x\n")),
            "check_pop3_ipmon is broken (SyntaxError: invalid syntax (session.py, line 3)): "
            f"reinstall it for {sys.executable}",
        ),
        (
            ImportError("cannot import name 'x' from partially initialized module"),
            "check_pop3_ipmon is broken (ImportError: cannot import name 'x' from partially "
            f"initialized module): reinstall it for {sys.executable}",
        ),
    ],
)
def test_problem_says_what_is_wrong(exc: BaseException, line: str) -> None:
    assert launcher.problem(exc) == line


def test_a_bug_at_run_time_is_not_reported_as_a_broken_installation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only imports are the launcher's business; the mains handle the rest
    (the check's through nagiosplugin's guard)."""

    def main() -> int:
        raise KeyError("bug")

    module = type(sys)("fake_main")
    module.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_main", module)
    with pytest.raises(KeyError):
        launcher.launch(launcher.Script("fake_main:main", "fake: "))
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (
            (b"-H", b"\xffmail"),
            r"POP3 UNKNOWN - argument -H/--hostname: not valid UTF-8: b'\xffmail'",
        ),
        (
            (b"-H", b"localhost", b"--login", b"--allow-plaintext-login", b"-u", b"caf\xe9"),
            r"POP3 UNKNOWN - argument -u/--username: not valid UTF-8: b'caf\xe9'",
        ),
    ],
)
@pytest.mark.parametrize("locale", [None, "C", "C.UTF-8"])
def test_argv_bytes_that_are_not_utf8_are_unknown(
    args: tuple[bytes, ...], first: str, locale: Optional[str]
) -> None:
    env = {"CHECK_POP3_IPMON_PASSWORD": "secret", "LC_ALL": locale}
    run = run_plugin(*(os.fsdecode(arg) for arg in args), env=env)
    assert (run.code, run.lines[0], run.stderr) == (3, first, "")
    assert run.lines[1].startswith("Usage: check_pop3_ipmon -H ADDRESS")
