"""The sdist and the wheel as a distribution or a user gets them.

Built once per module with `python -m build --no-isolation` (the sdist, then
the wheel from the sdist, as a packager does), offline; each test installs
them into a venv of its own under tmp_path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from check_pop3_ipmon.launcher import SCRIPTS

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
# What a checkout may hold that is no part of the source.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".tox",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
)
MISSING = (
    "Python module nagiosplugin not found by {python}: pip install nagiosplugin, "
    "or apt install python3-nagiosplugin for Debian's Python"
)
BROKEN = (
    "check_pop3_ipmon is broken (ModuleNotFoundError: No module named '{module}'): "
    "reinstall it for {python}"
)
PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


class Dists(NamedTuple):
    sdist: Path
    wheel: Path


def run(*argv: object, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    # Generous: pip and pytest on a machine shared with other test runs.
    return subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )


def ok(*argv: object, cwd: Optional[Path] = None) -> str:
    proc = run(*argv, cwd=cwd)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    base = tmp_path_factory.mktemp("dists")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    ok(sys.executable, "-m", "build", "--no-isolation", "--outdir", base / "out", source)
    (sdist,) = (base / "out").glob("check_pop3_ipmon-*.tar.gz")
    (wheel,) = (base / "out").glob("check_pop3_ipmon-*.whl")
    return Dists(sdist, wheel)


def venv(path: Path, *, borrow: bool = False) -> Path:
    """A new venv at `path`; with `borrow`, it also sees this test run's packages
    (pytest, nagiosplugin, setuptools...) after its own, so nothing is downloaded."""
    ok(sys.executable, "-m", "venv", path)
    python = path / "bin" / "python"
    if borrow:
        ours = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
        (site_packages(python) / "borrowed.pth").write_text("".join(f"{p}\n" for p in ours))
    return python


def site_packages(python: Path) -> Path:
    return Path(ok(python, "-c", PURELIB).strip())


def test_no_deps_install_every_console_script_fails_safe(dists: Dists, tmp_path: Path) -> None:
    """`pip install --no-deps`: the check is UNKNOWN with one line; the handlers,
    which need nagiosplugin only for threshold ranges, run; and with a module of
    ours missing, every script is one "broken" line and exit 3."""
    python = venv(tmp_path / "venv")
    ok(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", dists.wheel)
    assert run(python, "-c", "import nagiosplugin").returncode == 1
    bin_ = python.parent
    missing = MISSING.format(python=python)
    for argv in ([bin_ / "check_pop3_ipmon"], [python, "-m", "check_pop3_ipmon"]):
        proc = run(*argv, "-H", "localhost")
        assert (proc.returncode, proc.stdout, proc.stderr) == (3, f"POP3 UNKNOWN - {missing}\n", "")

    definition = tmp_path / "monitors.ini"
    definition.write_text("[POP3]\nname = POP3\nhost = mail1\naddress = 192.0.2.1\nwarning = 2\n")
    proc = run(bin_ / "pop3_ipmon_config", "nagios", definition)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", f"pop3_ipmon_config: {missing}\n")
    proc = run(bin_ / "pop3_ipmon_recovery", "--help")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: pop3_ipmon_recovery")
    proc = run(bin_ / "pop3_ipmon_alert", "--version")
    assert (proc.returncode, proc.stdout) == (3, "pop3_ipmon_alert 0.1.0\n")

    package = site_packages(python) / "check_pop3_ipmon"
    targets = {name: script.target.partition(":")[0] for name, script in SCRIPTS.items()}
    for module in targets.values():
        victim = package.parent / (module.replace(".", "/") + ".py")
        assert victim.is_file() and str(victim).startswith(str(tmp_path))
        victim.unlink()
    for name, module in targets.items():
        proc = run(bin_ / name, "--help")
        line = SCRIPTS[name].prefix + BROKEN.format(module=module, python=python) + "\n"
        if name == "check_pop3_ipmon":
            assert (proc.returncode, proc.stdout, proc.stderr) == (3, line, "")
        else:
            assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", line)


def test_wheel_installs_the_contrib_configuration_under_share(dists: Dists, tmp_path: Path) -> None:
    python = venv(tmp_path / "venv")
    ok(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", dists.wheel)
    share = tmp_path / "venv" / "share" / "check_pop3_ipmon"
    contrib = ROOT / "contrib"
    expected = {
        Path(name): contrib / name
        for name in (
            "README.md",
            "INTERNALS.md",
            "RECOVERY.md",
            "REPORTS.md",
            "pop3_ipmon_example.ini",
        )
    }
    for directory, pattern in (
        ("nagios", "*.cfg"),
        ("nagios", "pop3_ipmon_forward"),
        ("nagios-main", "*.cfg"),
        ("icinga2", "*.conf"),
        ("recovery", "*"),
        ("notify", "*"),
        ("pnp4nagios", "*.cfg"),
        ("icingaweb2", "*.ini"),
        ("director", "*.json"),
        ("director", "*.md"),
    ):
        files = sorted((contrib / directory).glob(pattern))
        assert files or directory == "notify", f"contrib/{directory} is empty"
        expected.update({Path(directory, path.name): path for path in files})
    installed = {path.relative_to(share) for path in share.rglob("*") if path.is_file()}
    assert installed == set(expected)
    for name, path in expected.items():
        assert (share / name).read_bytes() == path.read_bytes(), name
    licenses = list((site_packages(python)).glob("check_pop3_ipmon-*.dist-info/**/LICENSE"))
    assert [path.read_text() for path in licenses] == [(ROOT / "LICENSE").read_text()]


def test_sdist_holds_the_tests_and_pytest_runs_them(dists: Dists, tmp_path: Path) -> None:
    with tarfile.open(dists.sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extraction_filter = tarfile.data_filter
        tar.extractall(tmp_path)  # noqa: S202 - our own sdist, filtered where Python can
    (unpacked,) = tmp_path.glob("check_pop3_ipmon-*")
    for directory in ("tests", "contrib", "docs", "bench", "demo"):
        for path in (ROOT / directory).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                relative = path.relative_to(ROOT)
                assert (unpacked / relative).is_file(), f"{relative} not in the sdist"
    top = ("LICENSE", "README.md", "CONTRIBUTING.md", "CHANGELOG.md", "tox.ini", "setup.cfg")
    for name in (*top, "pyproject.toml"):
        assert (unpacked / name).is_file(), f"{name} not in the sdist"

    python = venv(tmp_path / "venv", borrow=True)
    ok(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
       dists.sdist)  # fmt: skip
    pytest_ = (python, "-m", "pytest", "-p", "no:cacheprovider", "-q")
    collected = ok(*pytest_, "--collect-only", "tests", cwd=unpacked)
    count = re.search(r"^(\d+) tests collected", collected, re.MULTILINE)
    assert count and int(count[1]) > 300, collected[-2000:]
    subset = (
        "tests/check/test_command_line.py",
        "tests/packaging/test_broken_installation.py",
        "tests/check/test_status_lines.py",
    )
    proc = run(*pytest_, *subset, cwd=unpacked)
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    passed = re.match(r"(\d+) passed", summary)
    assert passed and int(passed[1]) > 30, summary
