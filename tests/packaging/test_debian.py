"""The Debian package, built from the tree with the standard tools.

`dpkg-buildpackage -us -uc -b` (debhelper, dh-python's pybuild) in a copy of
the tree, `lintian` without errors, then the .deb unpacked into a temporary
root (the tests themselves leave /usr and /etc alone) and used there: the
check against a real Dovecot, `nagios4 -v` with the command definition from
/etc/nagios-plugins/config, and `icinga2 daemon -C` with
`include <plugins-contrib>` reading the CheckCommand from the package.

The same again with the package installed by apt, as .ci/run does before the
tests (`apt-get install ./check-pop3-ipmon_*_all.deb`): the installed check
run as a program by Debian's Python, Nagios reading the installed command
definition, and Icinga 2 running the installed CheckCommand from the system's
`include <plugins-contrib>`. Those skip (fail under REQUIRE_INTEGRATION=1)
when this tree's package is not installed.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from check_pop3_ipmon import __version__, completion
from check_pop3_ipmon.launcher import SCRIPTS
from check_pop3_ipmon.manpage import parser_of
from tests.packaging.test_contrib_config import STOCK_ICINGA2, STOCK_NAGIOS, nagios_verdict, stock
from tests.packaging.test_sdist_and_wheel import NOT_SOURCE, ROOT
from tests.support.dovecot import Dovecot
from tests.support.icinga2 import Icinga2
from tests.support.integration import find_program, missing, require_root, wait_until
from tests.support.nagios import Nagios

pytestmark = pytest.mark.packaging

PLUGINS = "usr/lib/nagios/plugins"
SYSTEM_PYTHON = "/usr/bin/python3"
# A build as on a Debian machine: Debian's Python first, not a venv or pyenv.
BUILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
BUILD_PACKAGES = "debhelper, dh-python, pybuild-plugin-pyproject, python3-all, dpkg-dev"
SYSTEM = Path("/")
# What the package installs from the tree byte for byte: installed, tree path.
SHIPPED = {
    "etc/nagios-plugins/config/pop3_ipmon_commands.cfg": "contrib/nagios/pop3_ipmon_commands.cfg",
    "usr/share/icinga2/include/plugins-contrib.d/pop3_ipmon_commands.conf": (
        "contrib/icinga2/pop3_ipmon_commands.conf"
    ),
    "usr/share/check_pop3_ipmon/nagios/pop3_ipmon_templates.cfg": (
        "contrib/nagios/pop3_ipmon_templates.cfg"
    ),
    "usr/share/check_pop3_ipmon/recovery/recovery.ini": "contrib/recovery/recovery.ini",
}
# As Debian's /etc/icinga2/constants.conf.
DEBIAN_PLUGIN_DIRS = {name: f"/{PLUGINS}" for name in ("PluginDir", "PluginContribDir")}


class Package(NamedTuple):
    deb: Path
    changes: Path
    root: Path  # the .deb unpacked (dpkg-deb -x)


def run(
    argv: list[str], cwd: Optional[Path] = None, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    # Generous: a package build on a machine shared with other test runs.
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=900, check=False, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    dpkg_buildpackage = find_program("dpkg-buildpackage", BUILD_PACKAGES)
    for program, debian in (("dh", "debhelper"), ("pybuild", "dh-python")):
        find_program(program, debian)
    base = tmp_path_factory.mktemp("deb")
    source = base / "check-pop3-ipmon"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    env = {**BUILD_ENV, "HOME": str(base)}
    build = run([dpkg_buildpackage, "-us", "-uc", "-b"], cwd=source, env=env)
    if "Unmet build dependencies" in build.stderr:
        missing(f"dpkg-buildpackage: {build.stderr.strip().splitlines()[-2]}")
    assert build.returncode == 0, (build.stdout + build.stderr)[-6000:]
    (deb,) = base.glob("check-pop3-ipmon_*_all.deb")
    (changes,) = base.glob("check-pop3-ipmon_*.changes")
    root = base / "root"
    assert run(["dpkg-deb", "-x", str(deb), str(root)]).returncode == 0
    return Package(deb, changes, root)


def test_lintian_prints_nothing(package: Package) -> None:
    """Not one tag, warnings and info included (--info); the only override is
    justified in debian/check-pop3-ipmon.lintian-overrides. --allow-root: the
    tests run as root, and lintian would say so on stderr."""
    lintian = find_program("lintian", "lintian")
    env = {**BUILD_ENV, "HOME": str(package.root.parent)}
    proc = run([lintian, "--allow-root", "--info", str(package.changes)], env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_every_console_script_has_a_manual_page_from_its_parser(package: Package) -> None:
    """Issue 20: lintian's no-manual-page; the page says what --help says."""
    man = find_program("man", "man-db")
    pages = package.root / "usr/share/man/man1"
    assert {path.name for path in pages.iterdir()} == {f"{name}.1.gz" for name in SCRIPTS}
    for name in SCRIPTS:
        env = {**BUILD_ENV, "MANWIDTH": "200"}
        proc = run([man, "--warnings", "-l", "-E", "UTF-8", str(pages / f"{name}.1.gz")], env=env)
        assert (proc.returncode, proc.stderr) == (0, ""), name
        text = proc.stdout
        assert text.split("\n")[0].startswith(name.upper() + "(1)"), name
        assert f"check_pop3_ipmon {__version__}" in text, name
        # Every option the parser knows (hidden ones aside), as typed.
        for option in manpage_options(name):
            assert option in text, (name, option)


def test_every_console_script_has_its_bash_completion(package: Package) -> None:
    """Where bash-completion loads it by command name, as the build wrote it."""
    completions = package.root / "usr/share/bash-completion/completions"
    assert {path.name for path in completions.iterdir()} == set(SCRIPTS)
    for name in SCRIPTS:
        assert (completions / name).read_text() == completion.script(name), name


def test_package_puts_every_part_where_debian_looks(package: Package) -> None:
    fields = run(["dpkg-deb", "-f", str(package.deb), "Package", "Version", "Depends"]).stdout
    assert f"Package: check-pop3-ipmon\nVersion: {__version__}\n" in fields
    assert "python3-nagiosplugin (>= 1.3.2)" in fields
    root = package.root
    for path in (
        f"usr/bin/{name}" if name != "check_pop3_ipmon" else f"{PLUGINS}/{name}" for name in SCRIPTS
    ):
        assert os.access(root / path, os.X_OK), path
        assert (root / path).read_text().startswith(f"#!{SYSTEM_PYTHON}\n"), path
    # The shipped command definitions name $USER1$/pop3_ipmon_alert (Nagios)
    # and PluginDir + "/pop3_ipmon_recovery" (Icinga 2's recovery command).
    assert os.readlink(root / PLUGINS / "pop3_ipmon_alert") == "../../../bin/pop3_ipmon_alert"
    assert os.readlink(root / PLUGINS / "pop3_ipmon_recovery") == "../../../bin/pop3_ipmon_recovery"
    # The shipped pop3-ipmon-forward names $USER1$/pop3_ipmon_forward (issue 18, item 5).
    forward = root / PLUGINS / "pop3_ipmon_forward"
    assert forward.read_bytes() == (ROOT / "contrib/nagios/pop3_ipmon_forward").read_bytes()
    assert os.access(forward, os.X_OK)
    for installed, source in SHIPPED.items():
        assert (root / installed).read_bytes() == (ROOT / source).read_bytes(), installed
    docs = root / "usr/share/doc/check-pop3-ipmon"
    assert {path.name for path in docs.iterdir()} >= {"copyright", "README.md.gz"}
    assert not (root / "usr/bin/check_pop3_ipmon").exists()  # a plugin, not a command


def manpage_options(script: str) -> set[str]:
    parser = parser_of(script)
    subcommands = [
        sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for sub in action.choices.values()
    ]
    return {
        option
        for p in (parser, *subcommands)
        for action in p._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


def run_from(root: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A program of the package under root, run by Debian's Python as installed
    (from an unpacked package, with its dist-packages on PYTHONPATH)."""
    if run([SYSTEM_PYTHON, "-c", "import nagiosplugin"]).returncode != 0:
        missing("nagiosplugin not importable by /usr/bin/python3: install python3-nagiosplugin")
    env = dict(BUILD_ENV)
    if root != SYSTEM:
        env["PYTHONPATH"] = str(root / "usr/lib/python3/dist-packages")
    return run([str(root / program), *args], env=env)


def assert_checks_dovecot(root: Path, dovecot: Dovecot) -> None:
    proc = run_from(
        root, f"{PLUGINS}/check_pop3_ipmon", "-H", dovecot.host, "-p", str(dovecot.port)
    )
    first = proc.stdout.split(" | ", 1)[0]
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    assert first.startswith("POP3 OK - greeting in ")
    assert first.endswith(f" from {dovecot.host}:{dovecot.port}: +OK Dovecot ready.")
    proc = run_from(root, "usr/bin/pop3_ipmon_config", "-V")
    assert (proc.returncode, proc.stdout) == (0, f"pop3_ipmon_config {__version__}\n")


def assert_nagios_verifies(root: Path, workdir: Path) -> None:
    """`nagios4 -v` with the package's command definition, templates and example."""
    share = root / "usr/share/check_pop3_ipmon/nagios"
    files = [
        root / "etc/nagios-plugins/config/pop3_ipmon_commands.cfg",
        share / "pop3_ipmon_templates.cfg",
        share / "pop3_ipmon_example.cfg",
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    nagios = Nagios(workdir, files, resource={"USER1": str(root / PLUGINS)})
    assert "Checked 1 services." in nagios_verdict(nagios)


def test_packaged_check_tests_a_real_dovecot(package: Package, dovecot: Dovecot) -> None:
    assert_checks_dovecot(package.root, dovecot)


def test_nagios_reads_the_packaged_command_definition(package: Package, tmp_path: Path) -> None:
    assert_nagios_verifies(package.root, tmp_path)


def test_icinga2_plugins_contrib_include_brings_the_check_command(
    package: Package, tmp_path: Path
) -> None:
    """`include <plugins-contrib>` over the system's ITL with the package's file
    added, as installing it would (IncludeConfDir points at a copy)."""
    require_root("Icinga 2")
    system = Path("/usr/share/icinga2/include")
    if not (system / "plugins-contrib").exists():
        missing(f"{system}/plugins-contrib not found: install the Debian package icinga2-common")
    include = tmp_path / "include"
    shutil.copytree(system, include)
    packaged = package.root / "usr/share/icinga2/include/plugins-contrib.d"
    shutil.copy(packaged / "pop3_ipmon_commands.conf", include / "plugins-contrib.d")
    share = package.root / "usr/share/check_pop3_ipmon/icinga2"
    icinga = Icinga2(
        tmp_path / "icinga2",
        [
            share / "pop3_ipmon_templates.conf",
            *stock(STOCK_ICINGA2, "icinga2-common"),
            share / "pop3_ipmon_example.conf",
        ],
        # As Debian's /etc/icinga2/constants.conf, into the unpacked package.
        constants={name: str(package.root / PLUGINS) for name in ("PluginDir", "PluginContribDir")},
        extra_config="include <plugins-contrib>\n",
    )
    argv = [icinga.binary, "daemon", "-C", f"-DIncludeConfDir={include}", *icinga.arguments()]
    proc = run(argv)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "Instantiated 1 Service." in proc.stdout
    # ipMonitor's alerting is the engine's own notifications: no event command.
    assert "EventCommand" not in proc.stdout
    (include / "plugins-contrib.d" / "pop3_ipmon_commands.conf").unlink()
    proc = run(argv)  # without the package's file the services have no command
    assert proc.returncode != 0
    assert "Object 'pop3_ipmon' of type 'CheckCommand' does not exist." in proc.stdout


@pytest.fixture(scope="module")
def installed() -> Path:
    """This tree's package, installed with apt as .ci/run does."""
    dpkg_query = find_program("dpkg-query", "dpkg")
    query = run([dpkg_query, "-W", "-f", "${db:Status-Status} ${Version}", "check-pop3-ipmon"])
    if query.stdout != f"installed {__version__}":
        missing(
            f"the Debian package check-pop3-ipmon {__version__} is not installed "
            f"({(query.stdout or query.stderr).strip()}): .ci/run builds it and installs it "
            "with apt-get install ./check-pop3-ipmon_*_all.deb"
        )
    # Not an older build of the same version: the installed files are the tree's.
    modules = {
        f"usr/lib/python3/dist-packages/{path.relative_to(ROOT)}": str(path.relative_to(ROOT))
        for path in (ROOT / "check_pop3_ipmon").rglob("*.py")
    }
    for path, source in {**SHIPPED, **modules}.items():
        if (
            not (SYSTEM / path).is_file()
            or (SYSTEM / path).read_bytes() != (ROOT / source).read_bytes()
        ):
            missing(f"the installed check-pop3-ipmon is not this tree's: /{path} differs")
    return SYSTEM


def test_installed_check_tests_a_real_dovecot(installed: Path, dovecot: Dovecot) -> None:
    assert_checks_dovecot(installed, dovecot)
    # The handlers are commands on Debian's PATH.
    assert shutil.which("pop3_ipmon_alert", path=BUILD_ENV["PATH"]) == "/usr/bin/pop3_ipmon_alert"


def test_nagios_reads_the_installed_command_definition(installed: Path, tmp_path: Path) -> None:
    assert_nagios_verifies(installed, tmp_path)


INSTALLED_PROBE = """\
object Host "mail" {{
  check_command = "dummy"
  address = "127.0.0.1"
}}
object Service "pop3" {{
  host_name = "mail"
  check_command = "pop3_ipmon"
  check_interval = 1s  // Icinga 2 spreads first checks over the interval
  vars.pop3_ipmon_port = {port}
}}
"""


def test_icinga2_plugins_contrib_runs_the_installed_check(
    installed: Path, dovecot: Dovecot, tmp_path: Path
) -> None:
    """The system's ITL with `include <plugins-contrib>` brings the installed
    CheckCommand (`daemon -C`), and Icinga 2 runs the installed check with it."""
    probe = tmp_path / "probe.conf"
    probe.write_text(INSTALLED_PROBE.format(port=dovecot.port))
    icinga = Icinga2(
        tmp_path / "icinga2",
        [probe],
        constants=DEBIAN_PLUGIN_DIRS,
        extra_config="include <plugins-contrib>\n",
    )
    check = icinga.validate()
    assert check.returncode == 0, check.stdout
    assert "Instantiated 1 Service." in check.stdout
    icinga.start()
    try:
        icinga.follow_events(("CheckResult",))
        wait_until(lambda: bool(icinga.check_results("mail", "pop3")), 60, "a check result")
    finally:
        icinga.stop()
    result = icinga.check_results("mail", "pop3")[0]
    port = str(dovecot.port)
    assert result["command"] == [f"/{PLUGINS}/check_pop3_ipmon", "-H", "127.0.0.1", "-p", port]
    assert result["exit_status"] == 0, result["output"]
    assert result["output"].startswith("POP3 OK - greeting in ")


def test_readme_debian_path_installs_offline(dovecot: Dovecot, tmp_path: Path) -> None:
    """README, Install, Debian 12: a venv that sees Debian's python3-nagiosplugin,
    built with Debian's setuptools, no index or network at all."""
    if run([SYSTEM_PYTHON, "-c", "import nagiosplugin, setuptools, wheel, venv"]).returncode:
        missing(
            "Debian's Python lacks a module: install python3-nagiosplugin "
            "python3-setuptools python3-wheel python3-venv"
        )
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    prefix = tmp_path / "opt"
    # No pip configuration (it may name a mirror or find-links), no index.
    env = {**BUILD_ENV, "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    steps = (
        [SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(prefix)],
        [
            str(prefix / "bin/pip"),
            "install",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            ".",
        ],
    )
    for argv in steps:
        proc = run(argv, cwd=source, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run([str(prefix / "bin/check_pop3_ipmon"), "-H", dovecot.host, "-p", str(dovecot.port)])
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    assert proc.stdout.startswith("POP3 OK - greeting in ")
    assert (prefix / "share/check_pop3_ipmon/nagios/pop3_ipmon_commands.cfg").is_file()
    assert (prefix / "share/check_pop3_ipmon/nagios/pop3_ipmon_forward").is_file()


def test_postinst_makes_the_recovery_directories_for_the_engines_user(
    package: Package, tmp_path: Path
) -> None:
    """Issue 10, item 15: the engine's user cannot create them under /var/lib and
    /var/log, and the handlers refuse directories another user owns. Run with
    $DPKG_ROOT (never on the system): the package's own maintainer scripts."""
    require_root("giving directories to the engine's user")
    try:
        engine = pwd.getpwnam("nagios")
    except KeyError:
        missing("no user nagios: install nagios4-core (it creates the engine's user)")
    control = tmp_path / "control"
    assert run(["dpkg-deb", "-e", str(package.deb), str(control)]).returncode == 0
    # Our part only: the generated rest (py3compile) acts on the installed system.
    ours = {
        name: (ROOT / "debian" / f"check-pop3-ipmon.{name}").read_text()
        for name in ("postinst", "postrm")
    }
    for name, text in ours.items():
        body = text.split("#DEBHELPER#")[0].split("set -e\n", 1)[1]
        assert body in (control / name).read_text(), name
    root = tmp_path / "root"
    env = {**BUILD_ENV, "DPKG_ROOT": str(root)}
    postinst = [str(ROOT / "debian/check-pop3-ipmon.postinst"), "configure", __version__]
    assert run(postinst, env=env).returncode == 0
    made = {
        "var/lib/check_pop3_ipmon": (0, 0o755),
        "var/lib/check_pop3_ipmon/recovery": (engine.pw_uid, 0o700),
        "var/log/check_pop3_ipmon": (engine.pw_uid, 0o750),
        # Issue 19: the perfdata both engines write and the report reads.
        "var/lib/check_pop3_ipmon/statistics": (engine.pw_uid, 0o750),
        "var/lib/check_pop3_ipmon/statistics/live": (engine.pw_uid, 0o750),
        "var/lib/check_pop3_ipmon/statistics/spool": (engine.pw_uid, 0o750),
    }
    for path, (owner, mode) in made.items():
        info = os.stat(root / path)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (owner, mode), path
    # An upgrade keeps what the administrator chose.
    (root / "var/log/check_pop3_ipmon").chmod(0o700)
    assert run(postinst, env=env).returncode == 0
    assert stat.S_IMODE(os.stat(root / "var/log/check_pop3_ipmon").st_mode) == 0o700
    postrm = [str(ROOT / "debian/check-pop3-ipmon.postrm"), "purge"]
    assert run(postrm, env=env).returncode == 0
    assert not (root / "var/lib/check_pop3_ipmon").exists()
    assert not (root / "var/log/check_pop3_ipmon").exists()
