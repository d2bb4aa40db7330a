"""Usage errors of the login, CAPA and address options: UNKNOWN, one clear line,
nothing sent to any server, and never a password in the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.output import run_plugin

SECRET = "s3cret-on-argv"  # noqa: S105 (a test value)
BASE = ("-H", "127.0.0.1", "-p", "1")


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (("-u", "alice"), "POP3 UNKNOWN - --username needs --login"),
        (("--auth", "user"), "POP3 UNKNOWN - --auth needs --login"),
        (("--messages-warn", "5"), "POP3 UNKNOWN - --messages-warn needs --login"),
        (("--allow-plaintext-login",), "POP3 UNKNOWN - --allow-plaintext-login needs --login"),
        (("--login", "--auth", "apop"), "POP3 UNKNOWN - --login needs -u/--username"),
        (
            ("--login", "-u", "alice\r\nDELE 1", "--auth", "apop"),
            "POP3 UNKNOWN - invalid user name: 'alice\\r\\nDELE 1'",
        ),
        (
            ("--login", "-u", "a", "--auth", "apop", "--authfile", "f", "--password-env", "X"),
            "POP3 UNKNOWN - --authfile and --password-env exclude each other",
        ),
        (
            ("--login", "-u", "a", "--auth", "apop", "--password-env", "1-X"),
            "POP3 UNKNOWN - --password-env takes the name of an environment variable",
        ),
        (
            ("--login", "-u", "a", "--auth", "kerberos"),
            "POP3 UNKNOWN - argument --auth: invalid choice: 'kerberos' "
            "(choose from 'user', 'apop', 'plain')",
        ),
        (
            ("--login", "-u", "a", "--auth", "apop", "--size-crit", "1GB"),
            "POP3 UNKNOWN - argument --size-crit: invalid range '1GB' (e.g. 5, 10:, ~:5, @1:3)",
        ),
        (
            ("--policy-state", "sometimes"),
            "POP3 UNKNOWN - argument --policy-state: invalid state 'sometimes' "
            "(ok, warning, critical, unknown)",
        ),
    ],
)
def test_usage_errors(args: tuple[str, ...], first: str) -> None:
    run = run_plugin(*BASE, *args)
    assert run.code == 3, run.stdout
    assert run.first == first
    assert run.lines[1].startswith("Usage: check_pop3_ipmon ")


@pytest.mark.parametrize(
    "args",
    [
        ("--password", SECRET),
        (f"--password={SECRET}",),
        (f"--passw={SECRET}",),
        ("--passw", SECRET),
    ],
)
def test_a_password_on_the_command_line_is_refused_unseen(args: tuple[str, ...]) -> None:
    run = run_plugin(*BASE, "--login", "-u", "alice", *args)
    assert run.code == 3, run.stdout
    assert run.first.startswith("POP3 UNKNOWN - ")
    assert SECRET not in run.stdout + run.stderr


def test_password_file_problems(tmp_path: Path) -> None:
    login = [*BASE, "--login", "-u", "alice", "--auth", "apop"]
    for name, content, message in [
        ("empty", b"", "is empty"),
        ("blank", b"\n", "is empty"),
        ("nul", b"pass\0word\n", "the password from --authfile {} contains NUL, CR or LF"),
        ("latin1", b"p\xe4ss\n", "--authfile {} is not UTF-8"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        path.chmod(0o600)
        run = run_plugin(*login, "--authfile", str(path))
        assert run.code == 3, run.stdout
        expected = message.format(path) if "{}" in message else f"--authfile {path} {message}"
        assert run.first == f"POP3 UNKNOWN - {expected}"
    run = run_plugin(*login, "--authfile", str(tmp_path))
    assert run.first == f"POP3 UNKNOWN - --authfile {tmp_path} is not a regular file"
    run = run_plugin(*login, env={"CHECK_POP3_IPMON_PASSWORD": ""})
    assert run.first == "POP3 UNKNOWN - the environment variable CHECK_POP3_IPMON_PASSWORD is empty"


def test_a_password_from_the_environment_that_is_not_utf8_gets_the_authfile_line() -> None:
    """The bytes of the latin1 --authfile above, in the environment (kept as surrogates)."""
    login = [*BASE, "--login", "-u", "alice", "--auth", "apop"]
    latin1 = b"p\xe4ss".decode("utf-8", "surrogateescape")
    run = run_plugin(*login, env={"CHECK_POP3_IPMON_PASSWORD": latin1})
    assert (run.code, run.lines, run.stderr) == (
        3,
        ["POP3 UNKNOWN - the environment variable CHECK_POP3_IPMON_PASSWORD is not UTF-8"],
        "",
    )
    run = run_plugin(*login, "--password-env", "MY_PASS", env={"MY_PASS": latin1})
    assert run.lines == ["POP3 UNKNOWN - the --password-env variable is not UTF-8"]


def test_forbid_plaintext_auth_with_implicit_tls_is_a_usage_error() -> None:
    run = run_plugin(*BASE, "-S", "--forbid-plaintext-auth")
    assert run.code == 3
    assert run.first.startswith("POP3 UNKNOWN - --forbid-plaintext-auth looks at what is offered")


def test_help_documents_the_new_options() -> None:
    run = run_plugin("--help")
    assert run.code == 3
    for option in (
        "--login", "--auth", "--authfile", "--password-env", "--allow-plaintext-login",
        "--messages-warn", "--size-crit", "--capa", "--require-capa", "--forbid-plaintext-auth",
        "--policy-state", "--all-addresses", "login_time", "mailbox_size",
        "CHECK_POP3_IPMON_PASSWORD",
    ):  # fmt: skip
        assert option in run.stdout, option
    assert "--password " not in run.stdout
