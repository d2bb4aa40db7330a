"""--extra-opts: the monitoring-plugins' ini files, read as their C library reads them.

The rules are those of lib/extra_opts.c and lib/parse_ini.c (2.3.3); the
compatibility matrix (test_check_pop_compat.py) runs the same file through
the real check_pop. A password kept in the file reaches neither argv nor the
output.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from check_pop3_ipmon.check import cli, extra_opts
from check_pop3_ipmon.check.extra_opts import ExtraOptsError, expand, split
from tests.support.dovecot import USERS, Dovecot
from tests.support.output import run_plugin

PASSWORD = USERS["alice"]


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("argv", "locators", "rest"),
    [
        (["--extra-opts=a@f", "-t", "5"], ["a@f"], ["-t", "5"]),
        (["--extra-opts", "a@f", "-t", "5"], ["a@f"], ["-t", "5"]),
        (["--extra-opts", "-t", "5"], [None], ["-t", "5"]),
        (["-t", "5", "--extra-opts"], [None], ["-t", "5"]),
        (["--extra-opts="], [""], []),
        # One or two dashes make an option (is_option2): "-" is not a file here.
        (["--extra-opts", "-"], [None], ["-"]),
        (["--extra-opts", "---x"], ["---x"], []),
        (["--extra-opts=a", "--extra-opts", "b"], ["a", "b"], []),
    ],
)
def test_split_finds_every_extra_opts_as_the_c_library(
    argv: list[str], locators: list[str], rest: list[str]
) -> None:
    assert split(argv) == (locators, rest)


def test_section_lines_become_options_in_file_order(tmp_path: Path) -> None:
    ini = write(
        tmp_path / "p.ini",
        "; comment\n"
        "# another\n"
        "[other]\n"
        "timeout = 99\n"
        "[ check_pop3_ipmon ]\n"
        "  hostname   =   pop.example.com  \n"
        "t=7\n"
        "expect = a\n"
        "expect = b ; not a comment\n"
        "hide-banner =\n"
        "expect-regex = x=y\n"
        "\n"
        "[other]\n"
        "port = 1\n"
        "[check_pop3_ipmon]\r\n"
        "port = 1110\r\n",
    )
    expanded = expand(["--extra-opts", f"@{ini}", "-w", "2"], "check_pop3_ipmon", {})
    file_args = [
        "--hostname=pop.example.com",
        "-t=7",
        "--expect=a",
        "--expect=b ; not a comment",
        "--hide-banner",
        "--expect-regex=x=y",
        "--port=1110",
    ]
    assert expanded.argv == [*file_args, "-w", "2"]
    assert expanded.from_file == file_args
    assert expanded.password is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timeout = 5\n[s]\n", "config file error in {ini} line 1"),
        ("[s]\njust words\n", "config file error in {ini} line 2"),
        ("[s]\n= value\n", "config file error in {ini} line 2"),
        ("[t]\nx = 1\n", "invalid section 's' in config file '{ini}'"),
        ("[s]\n# only a comment\n", "invalid section 's' in config file '{ini}'"),
    ],
)
def test_file_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    ini = write(tmp_path / "p.ini", text)
    with pytest.raises(ExtraOptsError) as error:
        expand([f"--extra-opts=s@{ini}"], "check_pop3_ipmon", {})
    assert str(error.value) == "--extra-opts: " + message.format(ini=ini)


def test_default_file_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, fixed = tmp_path / "one", tmp_path / "two", tmp_path / "fixed"
    for directory in (first, second, fixed):
        directory.mkdir()
    monkeypatch.setattr(extra_opts, "INI_PATHS", (str(fixed / "a.ini"), str(fixed / "b.ini")))
    env = {"NAGIOS_CONFIG_PATH": f"::{first}:{second}"}
    assert extra_opts.default_file(env) is None
    write(fixed / "b.ini", "")
    assert extra_opts.default_file(env) == str(fixed / "b.ini")
    write(second / "nagios-plugins.ini", "")
    assert extra_opts.default_file(env) == f"{second}/nagios-plugins.ini"
    write(second / "plugins.ini", "")
    assert extra_opts.default_file(env) == f"{second}/plugins.ini"
    write(first / "monitoring-plugins.ini", "")
    write(second / "monitoring-plugins.ini", "")
    assert extra_opts.default_file(env) == f"{first}/monitoring-plugins.ini"
    # MP_CONFIG_FILE is taken as it is, existing or not.
    env["MP_CONFIG_FILE"] = str(tmp_path / "absent.ini")
    assert extra_opts.default_file(env) == str(tmp_path / "absent.ini")
    with pytest.raises(ExtraOptsError, match=r"can't read config file .*absent\.ini"):
        expand(["--extra-opts"], "check_pop3_ipmon", env)
    monkeypatch.setattr(extra_opts, "INI_PATHS", ())
    with pytest.raises(ExtraOptsError, match="cannot find config file in any standard location"):
        expand(["--extra-opts"], "check_pop3_ipmon", {})


def test_the_fixed_list_is_the_c_librarys() -> None:
    # parse_ini.c's default_ini_path_names (2.3.3), in its order.
    assert extra_opts.INI_PATHS[:4] == (
        "/usr/local/etc/monitoring-plugins/monitoring-plugins.ini",
        "/usr/local/etc/monitoring-plugins.ini",
        "/etc/monitoring-plugins/monitoring-plugins.ini",
        "/etc/monitoring-plugins.ini",
    )
    assert extra_opts.INI_PATHS[4:] == (
        "/etc/nagios/plugins.ini",
        "/usr/local/nagios/etc/plugins.ini",
        "/usr/local/etc/nagios/plugins.ini",
        "/etc/opt/nagios/plugins.ini",
        "/etc/nagios-plugins.ini",
        "/usr/local/etc/nagios-plugins.ini",
        "/etc/opt/nagios-plugins.ini",
    )


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("[s]\nport = 1995\npassword = pw\n"))
    expanded = expand(["--extra-opts=s@-"], "check_pop3_ipmon", {})
    assert (expanded.argv, expanded.password) == (["--port=1995"], "pw")


def test_command_line_wins_and_default_section_is_the_plugins_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = write(tmp_path / "plugins.ini", "[check_pop3_ipmon]\ntimeout = 3\nexpect = Dovecot\n")
    monkeypatch.setenv("NAGIOS_CONFIG_PATH", str(tmp_path))
    monkeypatch.delenv("MP_CONFIG_FILE", raising=False)
    opts = cli.parse(["-H", "x", "--extra-opts", "-t", "5", "-e", "Courier"])
    assert opts.settings.timeout == 5.0
    assert opts.expect == ("Dovecot", "Courier")
    opts = cli.parse([f"--extra-opts=check_pop3_ipmon@{ini}", "-H", "x"])
    assert opts.settings.timeout == 3.0


def test_a_password_in_the_file_logs_in_and_never_shows(dovecot: Dovecot, tmp_path: Path) -> None:
    ini = write(
        tmp_path / "pop3.ini",
        f"[alice]\nhostname = 127.0.0.1\nport = {dovecot.port}\nlogin =\nusername = alice\n"
        f"password = {PASSWORD}\nallow-plaintext-login =\n",
    )
    run = run_plugin(f"--extra-opts=alice@{ini}", "-vvv", env={"CHECK_POP3_IPMON_PASSWORD": None})
    assert run.code == 0, run.stdout
    assert "alice" in run.first and "messages" in run.first
    assert PASSWORD not in run.stdout + run.stderr
    # A file others can read does not keep a password.
    ini.chmod(0o640)
    run = run_plugin(f"--extra-opts=alice@{ini}")
    assert (run.code, run.lines) == (
        3,
        [
            f"POP3 UNKNOWN - --extra-opts: {ini} holds a password and is readable by group "
            "or others (mode 0640): refused; chmod 600 it"
        ],
    )


def test_the_password_is_in_no_argv(tmp_path: Path) -> None:
    """The plugin reads the file itself: ps and /proc show only the locator."""
    ini = write(tmp_path / "p.ini", f"[s]\npassword = {PASSWORD}\nlogin =\nusername = alice\n")
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    # A server that never greets keeps the plugin running while its argv is read.
    code = (
        "import socket,sys;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();"
        "open(sys.argv[1],'w').write(str(s.getsockname()[1]));import time;time.sleep(30)"
    )
    server = subprocess.Popen([sys.executable, "-c", code, str(fifo)])
    try:
        port = fifo.read_text()
        plugin = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "check_pop3_ipmon"),
                f"--extra-opts=s@{ini}",
                "-H",
                "127.0.0.1",
                "-p",
                port,
                "-S",
                "-t",
                "3",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        proc = Path(f"/proc/{plugin.pid}/cmdline")
        cmdline = b""
        while b"--extra-opts" not in cmdline and plugin.poll() is None:
            cmdline = proc.read_bytes()  # empty until the plugin's exec
        out, _ = plugin.communicate(timeout=30)
    finally:
        server.kill()
        server.wait()
    assert PASSWORD.encode() not in cmdline
    assert f"s@{ini}".encode() in cmdline
    assert PASSWORD not in out
    assert out.startswith("POP3 CRITICAL - no TLS handshake within 3s"), out


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # A mistyped key: argparse would echo the whole --pasword=... word.
        ("pasword = {pw}\n", "POP3 UNKNOWN - unrecognized arguments: --pasword=..."),
        ("timeout = {pw}\n", "POP3 UNKNOWN - argument -t/--timeout: not a number: '...'"),
        ("password = {pw}\n", "POP3 UNKNOWN - the password from --extra-opts needs --login"),
        (
            "password = {pw}\nlogin =\nusername = u\nauthfile = /x\nallow-plaintext-login =\n",
            "POP3 UNKNOWN - the password from --extra-opts excludes --authfile and --password-env",
        ),
    ],
)
def test_values_from_the_file_stay_out_of_usage_errors(
    tmp_path: Path, text: str, first: str
) -> None:
    ini = write(tmp_path / "p.ini", "[s]\n" + text.format(pw=PASSWORD))
    run = run_plugin(f"--extra-opts=s@{ini}", "-H", "x")
    assert run.code == 3
    assert run.lines[0] == first
    assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (
            ("--extra-opts=s@/nonexistent/p.ini",),
            "POP3 UNKNOWN - --extra-opts: can't read "
            "config file /nonexistent/p.ini: No such file or directory",
        ),
        (("--extra-opts=s@/",), "POP3 UNKNOWN - --extra-opts: / is not a regular file"),
    ],
)
def test_unreadable_files_are_unknown(args: tuple[str, ...], first: str) -> None:
    run = run_plugin(*args, "-H", "x")
    assert (run.code, run.lines) == (3, [first])


def test_a_plain_check_does_not_load_the_ini_reader() -> None:
    code = (
        "import sys; from check_pop3_ipmon.check import cli, run;"
        "cli.parse(['-H', 'x', '-w', '2', '-c', '5', '-e', 'x']);"
        "print(sorted(m for m in ('check_pop3_ipmon.check.extra_opts', 'configparser', 'decimal')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "[]\n"


def _attack(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A password-holding ini as an attacker may have left it, and the line it must get."""
    ini = write(tmp_path / "p.ini", f"[s]\npassword = {PASSWORD}\nlogin =\nusername = u\n")
    label = f"--extra-opts: {ini} holds a password and"
    if kind == "writable":
        ini.chmod(0o602)
        return ini, f"{label} is writable by group or others (mode 0602): refused; chmod 600 it"
    if kind == "foreign":
        os.chown(ini, 65534, 65534)
        return ini, (
            f"{label} belongs to uid 65534, not to root or this user (uid {os.geteuid()}): refused"
        )
    link = tmp_path / "link.ini"
    link.symlink_to(ini)
    return (
        link,
        f"--extra-opts: {link} holds a password and is a symlink: refused; name the file itself",
    )


@pytest.mark.parametrize("kind", ["writable", "foreign", "symlink"])
def test_a_password_file_follows_the_authfile_rule(tmp_path: Path, kind: str) -> None:
    """Whoever could append to it could add allow-plaintext-login (or change the server)."""
    if kind == "foreign" and os.geteuid() != 0:
        pytest.skip("giving the file to another user needs root")
    ini, first = _attack(tmp_path, kind)
    run = run_plugin(f"--extra-opts=s@{ini}", "-H", "x", "--tls", "implicit")
    assert (run.code, run.lines) == (3, [f"POP3 UNKNOWN - {first}"])
    assert PASSWORD not in run.stdout + run.stderr


def test_a_symlinked_file_of_plain_options_is_still_read(tmp_path: Path) -> None:
    ini = write(tmp_path / "plain.ini", "[s]\ntimeout = 7\n")
    link = tmp_path / "link.ini"
    link.symlink_to(ini)
    assert cli.parse([f"--extra-opts=s@{link}", "-H", "x"]).settings.timeout == 7.0
