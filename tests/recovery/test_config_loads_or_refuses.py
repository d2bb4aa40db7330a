"""The recovery config and the credentials file: what loads, and what is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from check_pop3_ipmon.recovery import ConfigError
from check_pop3_ipmon.recovery import credentials as creds
from check_pop3_ipmon.recovery.config import RestartService, alert_range, duration
from tests.recovery.conftest import Recovery

FULL = """\
[service mail1!pop3]
actions = page, restart-pop3 reboot-mail1
target = mail1.example.com
credentials = mail1-admin
allow_reboot = yes
max_actions = 2

[action page]
type = external-process
alerts = 1-
command = /usr/local/bin/page-oncall --team "mail ops"

[action restart-pop3]
type = restart-service
alerts = 1-2
services = postgresql dovecot
start dovecot = /usr/local/sbin/start-dovecot {service} --on {target}
verify_wait = 30s

[action reboot-mail1]
type = reboot-server
alerts = 3
cooldown = 6h
"""


def test_a_full_config_loads(recovery: Recovery) -> None:
    config = recovery.config(FULL, cooldown="10m", deadline="20")
    assert config.deadline == 20 and config.cooldown == 600
    service = config.services["mail1!pop3"]
    assert service.actions == ("page", "restart-pop3", "reboot-mail1")
    assert service.target == "mail1.example.com" and service.allow_reboot
    assert config.max_actions_for(service) == 2
    page = config.actions["page"]
    assert page.argv == ("/usr/local/bin/page-oncall", "--team", "mail ops")  # type: ignore[union-attr]
    restart = config.actions["restart-pop3"]
    assert isinstance(restart, RestartService)
    assert restart.services == ("postgresql", "dovecot")
    assert restart.commands["dovecot"]["start"][1:] == ("{service}", "--on", "{target}")
    assert restart.verify_wait == 30
    reboot = config.actions["reboot-mail1"]
    assert config.cooldown_for(service, reboot) == 6 * 3600
    assert config.cooldown_for(service, restart) == 600
    assert 3 in reboot.alerts and 2 not in reboot.alerts


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [("1", [1], [0, 2]), ("1-2", [1, 2], [0, 3]), ("3-", [3, 4, 99], [2]), ("1,3", [1, 3], [2])],
)
def test_alert_ranges(text: str, inside: list[int], outside: list[int]) -> None:
    alerts = alert_range(text)
    assert all(n in alerts for n in inside)
    assert not any(n in alerts for n in outside)


@pytest.mark.parametrize("text", ["", "0", "2-1", "a", "1-2-3", "-3"])
def test_bad_alert_ranges(text: str) -> None:
    with pytest.raises(ValueError, match="alert range"):
        alert_range(text)


def test_durations() -> None:
    assert [duration(t) for t in ("30", "30s", "10m", "4h", "1.5m")] == [30, 30, 600, 14400, 90]
    with pytest.raises(ValueError, match="not a duration"):
        duration("10 minutes")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[action a]\ntype = external-process\nalert = 1\ncommand = /bin/true\n", "needs alerts"),
        (
            "[action a]\ntype = external-process\nalerts = 1\ncommand = /bin/true\nalert = 2\n",
            "unknown key 'alert'",
        ),
        ("[action a]\ntype = shell\nalerts = 1\n", "type must be one of"),
        ("[action a]\ntype = external-process\nalerts = 1\ncommand = true\n", "absolute path"),
        (
            "[action a]\ntype = external-process\nalerts = 1\ncommand = /bin/echo {target}\n",
            r"unknown placeholder \{target\}",
        ),
        (
            "[action a]\ntype = restart-service\nalerts = 1\nservices = dovecot;reboot\n",
            "is not allowed for systemd",
        ),
        (
            "[action a]\ntype = restart-service\nalerts = 1\nservices = dovecot\n"
            "start postfix = /bin/true\n",
            "not in services",
        ),
        (
            "[action a]\ntype = restart-service\nalerts = 1\nplatform = windows\n"
            "services = POP3Svc\nstart POP3Svc = /bin/true\n",
            "not supported with platform = windows",
        ),
        ("[service s]\nactions = nope\n", "action 'nope' is not defined"),
        ("[service s]\nactions = a\ntarget = $(reboot)\n", "not a host name"),
        ("[services s]\nactions = a\n", "unknown section"),
    ],
)
def test_config_errors_name_the_file_and_the_problem(
    recovery: Recovery, body: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        recovery.config(body)
    assert str(recovery.path) in str(raised.value)


def test_a_missing_config_is_one_clear_error(tmp_path: Path) -> None:
    from check_pop3_ipmon.recovery import load_config

    with pytest.raises(ConfigError, match=r"cannot read recovery config .*No such file"):
        load_config(tmp_path / "nope.ini")


SET = """\
[mail1-admin]
method = ssh
user = recovery
identity_file = /etc/check_pop3_ipmon/ssh/id_ed25519
known_hosts = /etc/check_pop3_ipmon/ssh/known_hosts
sudo = yes
"""


def test_a_private_credentials_file_loads(recovery: Recovery) -> None:
    sets = creds.load(recovery.credentials(SET, 0o600))
    found = sets["mail1-admin"]
    assert (found.method, found.user, found.port, found.sudo) == ("ssh", "recovery", 22, True)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_credentials_file_others_can_access_is_refused(recovery: Recovery, mode: int) -> None:
    path = recovery.credentials(SET, mode)
    with pytest.raises(creds.CredentialError) as raised:
        creds.load(path)
    what = "readable" if mode & 0o044 else "writable"
    assert str(raised.value) == (
        f"credentials file {path} is {what} by group or others (mode {mode:04o}): "
        "refused; chmod 600 it"
    )


def test_a_symlinked_credentials_file_is_not_followed(recovery: Recovery) -> None:
    real = recovery.credentials(SET, 0o600)
    link = recovery.root / "link.ini"
    link.symlink_to(real)
    with pytest.raises(creds.CredentialError, match="cannot read credentials file"):
        creds.load(link)


@pytest.mark.parametrize("key", ["password", "passphrase", "sudo_password"])
def test_passwords_are_not_supported_and_not_echoed(recovery: Recovery, key: str) -> None:
    path = recovery.credentials(SET + f"{key} = hunter2-secret\n")
    with pytest.raises(creds.CredentialError, match="passwords are not supported") as raised:
        creds.load(path)
    assert "hunter2" not in str(raised.value)


def test_a_syntax_error_does_not_echo_the_line(recovery: Recovery) -> None:
    path = recovery.credentials("[x]\nmethod = ssh\n  leaked-secret-line\n[")
    with pytest.raises(creds.CredentialError) as raised:
        creds.load(path)
    assert "leaked" not in str(raised.value)


def test_ssh_sets_need_user_key_and_known_hosts(recovery: Recovery) -> None:
    path = recovery.credentials("[a]\nmethod = ssh\nuser = r\nidentity_file = /k\n")
    with pytest.raises(creds.CredentialError, match="needs known_hosts"):
        creds.load(path)


def test_a_group_readable_key_is_refused_before_ssh_runs(recovery: Recovery) -> None:
    key = recovery.root / "key"
    key.write_text("not really a key")
    os.chmod(key, 0o640)
    found = creds.CredentialSet("a", "ssh", "r", key, key, 22)
    with pytest.raises(
        creds.CredentialError,
        match=rf"identity file {key} is readable by group or others \(mode 0640\)",
    ):
        creds.check_identity(found)


def test_a_key_of_another_method_is_refused(recovery: Recovery) -> None:
    path = recovery.credentials("[a]\nmethod = local\nidentity_file = /k\n")
    with pytest.raises(creds.CredentialError, match="identity_file is not a key of method = local"):
        creds.load(path)


def test_a_new_transports_own_key_reaches_its_credential_set(
    recovery: Recovery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transport declares and parses its keys: one without a CredentialSet
    field of its own is kept in `extra`, never dropped."""
    from check_pop3_ipmon.recovery import transport

    class Winrm(transport.Transport):
        method = "winrm"
        keys = ("user", "certificate_file")

    monkeypatch.setitem(transport.TRANSPORTS, "winrm", Winrm())
    path = recovery.credentials("[w]\nmethod = winrm\nuser = r\ncertificate_file = /c.pem\n")
    found = creds.load(path)["w"]
    assert (found.method, found.user, found.extra) == ("winrm", "r", {"certificate_file": "/c.pem"})
    path = recovery.credentials("[w]\nmethod = winrm\nuser = r\n")
    with pytest.raises(creds.CredentialError, match="method = winrm needs certificate_file"):
        creds.load(path)
