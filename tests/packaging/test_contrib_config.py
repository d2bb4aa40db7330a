"""The shipped contrib files pass the engines' own configuration checks.

`nagios4 -v` and `icinga2 daemon -C` read the shipped commands and templates,
the hand-written examples, and what pop3_ipmon_config makes of the example
definition, next to the stock sample objects the examples refer to (the
administrator's mail commands, 24x7, icingaadmin). Also: the CheckCommand
exposes every plugin option, and passes each the way the plugin parses it.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from check_pop3_ipmon.check import cli
from tests.alerting.test_engines import generate
from tests.support import recorder
from tests.support.icinga2 import Icinga2, keep_secret
from tests.support.integration import missing, require_root, wait_until
from tests.support.nagios import Nagios

ROOT = Path(__file__).resolve().parents[2]
NAGIOS = ROOT / "contrib" / "nagios"
ICINGA2 = ROOT / "contrib" / "icinga2"
EXAMPLE_INI = ROOT / "contrib" / "pop3_ipmon_example.ini"
BIN = Path(sys.executable).parent

STOCK_NAGIOS = [Path("/etc/nagios4/objects") / name for name in ("commands.cfg", "timeperiods.cfg")]
STOCK_ICINGA2 = [
    Path("/etc/icinga2/conf.d") / name
    for name in ("commands.conf", "users.conf", "templates.conf", "timeperiods.conf")
]


def stock(paths: list[Path], package: str) -> list[Path]:
    for path in paths:
        if not os.access(path.parent, os.X_OK):  # Debian's /etc/icinga2/conf.d: 0750
            require_root(f"reading {path.parent}")
        if not path.exists():
            missing(f"{path} not found: install the Debian package {package}")
    return paths


def nagios_verdict(nagios: Nagios) -> str:
    out = nagios.verify().stdout
    assert "Total Errors:   0" in out, out
    assert "Total Warnings: 0" in out, out
    return out


def test_nagios_accepts_the_shipped_files_and_example(tmp_path: Path) -> None:
    files = [
        NAGIOS / "pop3_ipmon_commands.cfg",
        NAGIOS / "pop3_ipmon_templates.cfg",
        NAGIOS / "pop3_ipmon_example.cfg",
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    out = nagios_verdict(Nagios(tmp_path, files, resource={"USER1": str(BIN)}))
    assert "Checked 1 services." in out


def test_nagios_reads_the_contrib_directory_as_a_cfg_dir(tmp_path: Path) -> None:
    """Issue 20: cfg_dir on contrib/nagios (or its copy in share/) reads every
    .cfg there as object files; the nagios.cfg settings live apart, in
    contrib/nagios-main/, or Nagios stops at their first line."""
    nagios = Nagios(
        tmp_path,
        stock(STOCK_NAGIOS, "nagios4-common"),
        resource={"USER1": str(BIN)},
        settings={"cfg_dir": str(NAGIOS)},
    )
    assert "Checked 1 services." in nagios_verdict(nagios)
    assert list((NAGIOS.parent / "nagios-main").glob("*.cfg")) == [
        NAGIOS.parent / "nagios-main" / "pop3_ipmon_main.cfg"
    ]


def test_nagios_accepts_the_generated_example(tmp_path: Path) -> None:
    services = generate("nagios", EXAMPLE_INI, tmp_path / "services.cfg")
    contact = tmp_path / "contact.cfg"
    contact.write_text(
        (NAGIOS / "pop3_ipmon_example.cfg").read_text().split("define host")[0]
    )  # the example's contact pop3-admin, which the definition names
    files = [
        NAGIOS / "pop3_ipmon_commands.cfg",
        NAGIOS / "pop3_ipmon_templates.cfg",
        contact,
        services,
        *stock(STOCK_NAGIOS, "nagios4-common"),
    ]
    out = nagios_verdict(Nagios(tmp_path / "nagios", files, resource={"USER1": str(BIN)}))
    assert "Checked 2 services." in out


def test_nagios_objects_check_finds_what_nagios_cannot(tmp_path: Path) -> None:
    """pop3_ipmon_config check-nagios reads the resolved objects Nagios wrote."""
    broken = tmp_path / "broken.cfg"
    broken.write_text(
        (NAGIOS / "pop3_ipmon_example.cfg")
        .read_text()
        .replace("Mail POP3 (head office)", "M" * 65)
        .replace("    retry_interval                  1 ", "    retry_interval                  2 ")
        .replace(
            "_POP3_IPMON_MAX_ALERTS          3", "_POP3_IPMON_MAX_ALERTS 3\n max_check_attempts 9"
        )
    )
    results = {}
    for name, example in (("good", NAGIOS / "pop3_ipmon_example.cfg"), ("broken", broken)):
        files = [
            NAGIOS / "pop3_ipmon_commands.cfg",
            NAGIOS / "pop3_ipmon_templates.cfg",
            example,
            *stock(STOCK_NAGIOS, "nagios4-common"),
        ]
        nagios = Nagios(tmp_path / name, files, resource={"USER1": str(BIN)})
        assert nagios.verify(precache=True).returncode == 0
        results[name] = subprocess.run(
            [str(BIN / "pop3_ipmon_config"), "check-nagios", str(nagios.precache)],
            capture_output=True,
            text=True,
            check=False,
        )
    assert (results["good"].returncode, results["good"].stdout) == (
        0,
        "1 service(s) with ipMonitor alerting: 0 error(s), 0 warning(s)\n",
    )
    assert results["broken"].returncode == 1
    assert results["broken"].stdout.splitlines() == [
        "error: service 'mail1!POP3': the monitor name (display_name) is 65 characters long;"
        " ipMonitor allows at most 64",
        "error: service 'mail1!POP3': retry_interval 2 differs from _POP3_IPMON_DOWN_INTERVAL"
        " 1: both are the Down interval (Nagios tests SOFT failures at retry_interval, the"
        " handler sets the HARD ones from the copy)",
        "error: service 'mail1!POP3': max_check_attempts 9 is not the failures per alert 3:"
        " the service must turn HARD (ipMonitor's Down) at failure 3, where Nagios sends"
        " alert 1",
        "1 service(s) with ipMonitor alerting: 3 error(s), 0 warning(s)",
    ]


def icinga(tmp_path: Path, *files: Path) -> Icinga2:
    return Icinga2(
        tmp_path,
        [
            ICINGA2 / "pop3_ipmon_commands.conf",
            ICINGA2 / "pop3_ipmon_templates.conf",
            *stock(STOCK_ICINGA2, "icinga2-common"),
            *files,
        ],
        constants={"PluginDir": str(BIN)},
    )


def test_icinga2_accepts_the_shipped_files_and_example(tmp_path: Path) -> None:
    notifications = ICINGA2 / "pop3_ipmon_notifications.conf"
    check = icinga(tmp_path, ICINGA2 / "pop3_ipmon_example.conf", notifications).validate()
    assert check.returncode == 0, check.stdout
    assert "Instantiated 1 Notification." in check.stdout
    # Issue 20: the steps copy the notifications, and the example (its objects
    # to be replaced by the generated ones) holds none of them.
    assert "Notification" not in (ICINGA2 / "pop3_ipmon_example.conf").read_text()
    readme = (ICINGA2.parent / "README.md").read_text()
    assert "cp contrib/icinga2/pop3_ipmon_notifications.conf /etc/icinga2/conf.d/" in readme


def test_icinga2_accepts_the_generated_example(tmp_path: Path) -> None:
    services = generate("icinga2", EXAMPLE_INI, tmp_path / "services.conf")
    users = tmp_path / "users.conf"
    users.write_text('object User "pop3-admin" { }\n')  # the definition's contacts
    # The shipped notification rule, for the generated services as they are.
    notifications = ICINGA2 / "pop3_ipmon_notifications.conf"
    check = icinga(tmp_path / "icinga2", services, users, notifications).validate()
    assert check.returncode == 0, check.stdout
    assert "Instantiated 2 Services." in check.stdout
    assert "Instantiated 2 Notifications." in check.stdout


def test_icinga2_refuses_a_monitor_name_over_64_characters(tmp_path: Path) -> None:
    conf = tmp_path / "long.conf"
    conf.write_text(
        (ICINGA2 / "pop3_ipmon_example.conf")
        .read_text()
        .replace('"Mail POP3 (head office)"', '"' + "M" * 65 + '"')
    )
    # The Notification template refuses it (pop3_ipmon_notifications.conf applies it).
    notifications = ICINGA2 / "pop3_ipmon_notifications.conf"
    check = icinga(tmp_path / "icinga2", conf, notifications).validate()
    assert check.returncode != 0
    assert (
        "pop3_ipmon: service 'mail1!POP3': the monitor name (display_name) is 65 characters "
        "long; ipMonitor allows at most 64"
    ) in check.stdout


def test_icinga2_accepts_the_recovery_notification(tmp_path: Path) -> None:
    notifications = ICINGA2 / "pop3_ipmon_notifications.conf"
    recovery = ICINGA2 / "pop3_ipmon_recovery.conf"
    check = icinga(tmp_path, ICINGA2 / "pop3_ipmon_example.conf", notifications, recovery)
    result = check.validate()
    assert result.returncode == 0, result.stdout
    assert "Instantiated 2 Notifications." in result.stdout


@pytest.mark.parametrize("value", ["0", "2.5", '"3"'])
def test_icinga2_refuses_a_max_alerts_that_is_not_a_count(tmp_path: Path, value: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(
        (ICINGA2 / "pop3_ipmon_example.conf")
        .read_text()
        .replace("vars.pop3_ipmon_max_alerts = 3", f"vars.pop3_ipmon_max_alerts = {value}")
    )
    notifications = ICINGA2 / "pop3_ipmon_notifications.conf"
    check = icinga(tmp_path / "icinga2", conf, notifications).validate()
    assert check.returncode != 0
    assert (
        "pop3_ipmon: service 'mail1!POP3': vars.pop3_ipmon_max_alerts must be a whole number "
        "of 1 or more"
    ) in check.stdout


def test_the_shipped_icinga2_files_give_alerting_no_handler_and_no_credential() -> None:
    """Issue 17: the alerts must not depend on anything of ours that can break
    (an event command, a gate set through the API) or on a credential, and
    nothing that runs may be chosen by a custom variable."""
    files = [*ICINGA2.glob("*.conf"), *(ROOT / "contrib" / "notify").glob("*.conf")]
    for path in files:
        text = path.read_text()
        for word in ("EventCommand", "event_command", "volatile = true", "ApiUser", "api_"):
            assert word not in text, (path.name, word)
        # Every command runs a fixed program, never one named by a macro
        # (the PagerDuty command's path is a User's or Notification's variable,
        # which an objects/modify/Service user cannot change).
        for command in re.findall(r"^\s*command = (.+)$", text, re.MULTILINE):
            assert "$" not in command or "pop3_ipmon_pd_nagios" in command, (path.name, command)
    recovery = (ICINGA2 / "pop3_ipmon_recovery.conf").read_text()
    assert '"--config" = ConfigDir + "/pop3_ipmon-recovery.ini"' in recovery
    templates = (ICINGA2 / "pop3_ipmon_templates.conf").read_text()
    assert "volatile = false" in templates


def check_command_arguments() -> set[str]:
    text = (ICINGA2 / "pop3_ipmon_commands.conf").read_text()
    block = text.split('object CheckCommand "pop3_ipmon"')[1]
    keys = re.findall(r'^    "(-[^"]+)" = \{', block, re.MULTILINE)
    # Every argument has a description.
    assert block.count("description = ") == len(keys)
    return set(keys)


def test_check_command_exposes_every_plugin_option() -> None:
    keys = check_command_arguments()
    for action in cli.build_parser()._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue  # --password exists only to refuse a password on the command line
        assert keys & set(action.option_strings), f"{action.option_strings} not in CheckCommand"
    text = (ICINGA2 / "pop3_ipmon_commands.conf").read_text()
    variables = set(
        re.findall(r"\$(pop3_ipmon_[a-z0-9_]+)\$", text.split("object EventCommand")[0])
    )
    # One variable per option, all prefixed; and the password, passed in the environment.
    assert len(variables) == len(keys) + 1 and "pop3_ipmon_password" in variables


PROBE_PASSWORD = "s3cret pass"  # noqa: S105 - a throw-away test secret
PROBE_ENV_PASSWORD = "from the probe's own variable"  # noqa: S105

PROBE = """\
object CheckCommand "pop3_ipmon-probe" {{
  import "pop3_ipmon"
  command = {command}
}}
object Host "probe" {{
  check_command = "dummy"
  address = "127.0.0.1"
}}
template Service "probe" {{
  host_name = "probe"
  check_command = "pop3_ipmon-probe"
  check_interval = 1s  // Icinga 2 spreads first checks over the interval
}}
object Service "all" {{
  import "probe"
  vars.pop3_ipmon_address = "pop.example.test"
  vars.pop3_ipmon_port = 1110
  vars.pop3_ipmon_ipv4 = true
  vars.pop3_ipmon_timeout = 7.5
  vars.pop3_ipmon_timeout_state = "warning"
  vars.pop3_ipmon_warning = "2"
  vars.pop3_ipmon_critical = "@5:9"
  vars.pop3_ipmon_refuse_state = "unknown"
  vars.pop3_ipmon_expect = [ "Dovecot (Debian) ready", "+OK" ]
  vars.pop3_ipmon_expect_all = true
  vars.pop3_ipmon_expect_regex = "^[+]OK"
  vars.pop3_ipmon_mismatch_state = "warning"
  vars.pop3_ipmon_hide_banner = true
  vars.pop3_ipmon_maxbytes = 512
  vars.pop3_ipmon_tls = "starttls"
  vars.pop3_ipmon_sni = "pop.example.test"
  vars.pop3_ipmon_ca_file = "{ca_file}"
  vars.pop3_ipmon_insecure = false
  vars.pop3_ipmon_tls_min_version = "1.3"
  vars.pop3_ipmon_cert_warn = 21
  vars.pop3_ipmon_cert_crit = 7
  vars.pop3_ipmon_verbose = 2
  vars.pop3_ipmon_capa = true
  vars.pop3_ipmon_require_capa = [ "UIDL", "SASL PLAIN" ]
  vars.pop3_ipmon_forbid_plaintext_auth = true
  vars.pop3_ipmon_policy_state = "critical"
  vars.pop3_ipmon_login = true
  vars.pop3_ipmon_auth = "user"
  vars.pop3_ipmon_username = "monitor"
  vars.pop3_ipmon_password = "{password}"
  vars.pop3_ipmon_messages_warn = 500
  vars.pop3_ipmon_messages_crit = 1000
  vars.pop3_ipmon_size_warn = "10000000"
  vars.pop3_ipmon_size_crit = "@0:10"
}}
object Service "other" {{
  import "probe"
  vars.pop3_ipmon_address = "pop6.example.test"
  vars.pop3_ipmon_ipv6 = true
  vars.pop3_ipmon_ssl = true
  vars.pop3_ipmon_insecure = true
  vars.pop3_ipmon_certificate = "30,7"
  vars.pop3_ipmon_verbose = true
  vars.pop3_ipmon_require_capa = "TOP"
  vars.pop3_ipmon_login = true
  vars.pop3_ipmon_username = "other"
  vars.pop3_ipmon_authfile = "{authfile}"
  vars.pop3_ipmon_allow_plaintext_login = true
  vars.pop3_ipmon_all_addresses = true
}}
object Service "env" {{
  import "probe"
  vars.pop3_ipmon_tls = "implicit"
  vars.pop3_ipmon_login = true
  vars.pop3_ipmon_username = "third"
  vars.pop3_ipmon_auth = "apop"
  vars.pop3_ipmon_password_env = "POP3_IPMON_PROBE_PW"
  vars.pop3_ipmon_extra_opts = "probe@{extra_opts}"
}}
object Service "defaults" {{
  import "probe"
}}
"""


@pytest.mark.engines
def test_check_command_passes_options_as_the_plugin_reads_them(
    tmp_path: Path, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Icinga 2 builds the argv from the variables; the plugin's parser reads it back."""
    out = tmp_path / "argv.jsonl"
    probe = tmp_path / "probe.conf"
    command = "[ " + ", ".join(f'"{part}"' for part in recorder.command(out)) + " ]"
    authfile = keep_secret(tmp_path / "pop3.pass", "file password\n")
    extra_opts = tmp_path / "plugins.ini"
    extra_opts.write_text("[probe]\nwarning = 3\n")
    probe.write_text(
        PROBE.format(
            command=command,
            ca_file=ca_file,
            authfile=authfile,
            password=PROBE_PASSWORD,
            extra_opts=extra_opts,
        )
    )
    engine = Icinga2(
        tmp_path / "icinga2",
        [ICINGA2 / "pop3_ipmon_commands.conf", probe],
        constants={"PluginDir": str(BIN)},
    )
    engine.start()
    try:
        wait_until(
            lambda: len({tuple(r["argv"]) for r in recorder.read(out)}) >= 4,
            30,
            "a check of each probe service",
        )
    finally:
        engine.stop()
    options = {}
    for record in recorder.read(out):
        args = record["argv"]
        env = record["env"]
        name = (
            "all"
            if "1110" in args
            else "other"
            if "other" in args
            else "env"
            if "third" in args
            else "d"
        )
        if name == "all":
            # The password came in the environment, never on the command line.
            assert env["CHECK_POP3_IPMON_PASSWORD"] == PROBE_PASSWORD
            assert not any(PROBE_PASSWORD in arg for arg in args)
        # The plugin reads the password from its environment, as the engine set it.
        monkeypatch.setenv("CHECK_POP3_IPMON_PASSWORD", env["CHECK_POP3_IPMON_PASSWORD"])
        monkeypatch.setenv("POP3_IPMON_PROBE_PW", PROBE_ENV_PASSWORD)
        options[name] = cli.parse(list(args))
    assert sorted(options) == ["all", "d", "env", "other"]
    full = options["all"]
    assert full.settings.host == "pop.example.test"
    assert full.settings.family == socket.AF_INET
    assert full.settings.timeout == 7.5 and full.timeout_state == 1
    assert (full.warning, full.critical) == ("2", "@5:9")
    assert full.refuse_state == 3 and full.mismatch_state == 1
    assert full.expect == ("Dovecot (Debian) ready", "+OK") and full.expect_all
    assert full.expect_regex == "^[+]OK" and full.hide_banner
    assert full.settings.max_greeting == 512
    assert full.settings.tls == "starttls" and full.settings.sni == "pop.example.test"
    assert full.settings.ca_file == str(ca_file) and not full.settings.insecure
    assert full.settings.tls_min_version == "1.3"
    assert (full.cert_warn, full.cert_crit) == (21, 7)
    assert full.verbose == 2
    assert full.show_capa and full.require_capa == ("UIDL", "SASL PLAIN")
    assert full.forbid_plaintext_auth and full.policy_state == 2
    login = full.settings.login
    assert login is not None and (login.username, login.password) == ("monitor", PROBE_PASSWORD)
    assert login.method == "user" and not login.allow_plaintext
    assert (full.messages_warn, full.messages_crit) == ("500", "1000")
    assert (full.size_warn, full.size_crit) == ("10000000", "@0:10")
    assert not full.all_addresses
    other = options["other"]
    assert other.settings.family == socket.AF_INET6
    # -D counts whole days as check_pop does: "30,7" alerts below 31 and 8 days.
    assert other.settings.insecure and (other.cert_warn, other.cert_crit) == (31, 8)
    assert other.verbose == 1
    assert other.require_capa == ("TOP",) and other.all_addresses
    assert other.settings.login is not None
    assert (other.settings.login.username, other.settings.login.password) == (
        "other",
        "file password",
    )
    assert other.settings.login.allow_plaintext
    third = options["env"].settings.login
    assert third is not None and third.method == "apop"
    assert third.password == PROBE_ENV_PASSWORD
    assert options["env"].warning == "3"  # read from the --extra-opts file
    default = options["d"]
    assert default.settings.host == "127.0.0.1" and default.settings.port == 110
    assert default.verbose == 0 and default.settings.tls == "none"
    assert default.settings.login is None and not default.show_capa


def test_nagios_steps_set_what_the_handler_and_recovery_need() -> None:
    """The step-by-step appends pop3_ipmon_main.cfg to nagios.cfg: the handler as
    ocsp_command, the command file, and the environment macros recovery actions
    read (Debian's nagios.cfg has enable_environment_macros=0)."""
    from tests.support.nagios import main_settings

    settings = main_settings(NAGIOS.parent / "nagios-main" / "pop3_ipmon_main.cfg")
    assert settings["enable_environment_macros"] == "1"
    assert settings["check_external_commands"] == "1"
    assert (settings["obsess_over_services"], settings["ocsp_command"]) == ("1", "pop3-ipmon-alert")
    readme = (NAGIOS.parent / "README.md").read_text()
    assert "cat contrib/nagios-main/pop3_ipmon_main.cfg >> /etc/nagios4/nagios.cfg" in readme
    # The handler's log goes beside Nagios' own: stderr would be thrown away.
    commands = (NAGIOS / "pop3_ipmon_commands.cfg").read_text()
    assert "--log-beside '$LOGFILE$'" in commands
