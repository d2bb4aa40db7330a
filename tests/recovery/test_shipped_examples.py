"""The shipped examples in contrib/recovery/ load, and do what RECOVERY.md says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from check_pop3_ipmon.recovery import credentials, load_config
from check_pop3_ipmon.recovery.config import RebootServer, RestartService
from tests.support.integration import find_program

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "recovery"
SCRIPT = Path(sys.executable).parent / "pop3_ipmon_recovery"


def test_the_example_configuration_loads() -> None:
    config = load_config(CONTRIB / "recovery.ini")
    service = config.services["mail1!POP3"]
    assert service.allow_reboot and service.target == "mail1.example.com"
    restart = config.actions["restart-pop3"]
    assert isinstance(restart, RestartService) and restart.services == ("dovecot",)
    assert isinstance(config.actions["reboot-mail1"], RebootServer)
    assert config.deadline < 30  # below Nagios' default event_handler_timeout


def test_the_example_credentials_load_when_private(tmp_path: Path) -> None:
    copy = tmp_path / "credentials.ini"
    shutil.copy(CONTRIB / "credentials.ini", copy)
    copy.chmod(0o600)
    sets = credentials.load(copy)
    assert sets["mail1-admin"].sudo and sets["local-sudo"].method == "local"


def test_the_example_sudoers_rule_parses() -> None:
    visudo = find_program("visudo", "sudo")
    check = subprocess.run(
        [visudo, "-cf", str(CONTRIB / "sudoers")], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_sudoers_rule_allows_exactly_what_the_example_sends(tmp_path: Path) -> None:
    """Every privileged command of the example's dry run is in the sudoers rule."""
    config = (CONTRIB / "recovery.ini").read_text()
    key = tmp_path / "id_ed25519"
    key.write_text("")
    key.chmod(0o600)
    creds = (CONTRIB / "credentials.ini").read_text()
    creds = creds.replace("/etc/check_pop3_ipmon/ssh/id_ed25519", str(key))
    (tmp_path / "credentials.ini").write_text(creds)
    (tmp_path / "credentials.ini").chmod(0o600)
    config = config.replace(
        "/etc/check_pop3_ipmon/recovery-credentials.ini", str(tmp_path / "credentials.ini")
    )
    # An address literal: resolving the example's name would leave loopback.
    config = config.replace("target = mail1.example.com", "target = 198.51.100.7")
    (tmp_path / "recovery.ini").write_text(config)
    sent = []
    for alert in ("1", "3"):
        run = subprocess.run(
            [
                str(SCRIPT),
                "--config",
                str(tmp_path / "recovery.ini"),
                "--service",
                "mail1!POP3",
                "--alert",
                alert,
                "--state",
                "CRITICAL",
                "--ipmon-state",
                "Down",
                "--address",
                "192.0.2.10",
                "--dry-run",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        sent += [
            line.rsplit(" 'sudo -n -- ", 1)[1].rstrip("'")
            for line in run.stdout.splitlines()
            if "'sudo -n -- " in line
        ]
    assert sent == ["systemctl stop dovecot", "systemctl start dovecot", "systemctl reboot"]
    rule = (CONTRIB / "sudoers").read_text().split("NOPASSWD: ", 1)[1].strip()
    allowed = [command.strip() for command in rule.split(",")]
    assert allowed == [f"/usr/bin/{command}" for command in sent]
