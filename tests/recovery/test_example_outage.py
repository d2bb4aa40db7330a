"""The shipped contrib/recovery/recovery.ini, through a whole documented outage.

The example binds page-oncall to every alert, restart-pop3 to alerts 1-2 and
reboot-mail1 to alert 3. With the documented monitor (contrib/
pop3_ipmon_example.ini: F failures per alert, the Down interval between
tests) alert N comes (N-1)·F·Down after alert 1. Each alert's actions must
then be due: not held back by the example's own cooldown or action cap.

The safety rules are the real run_actions(); only what each action does is
swapped for a harmless recorder (the same names, alert ranges and cooldowns),
since restarting and rebooting need a real machine (tests/recovery/test_ssh.py
and test_reboot.py cover those).
"""

from __future__ import annotations

import configparser
import io
from pathlib import Path

from check_pop3_ipmon.recovery import load_config, run_actions
from check_pop3_ipmon.recovery.engine import OK
from tests.recovery.conftest import Recovery, facts

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
SERVICE = "mail1!POP3"
T0 = 1_700_000_000.0


def documented_alert_spacing() -> float:
    """F x Down interval of the example monitor, in seconds."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    parser.read(CONTRIB / "pop3_ipmon_example.ini", encoding="utf-8")
    monitor = parser["POP3"]
    return int(monitor["failures_per_alert"]) * float(monitor["down_interval"])


def example_with_recorded_actions(recovery: Recovery) -> str:
    """The shipped example, its paths in the temp dir, each action a recorder."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(CONTRIB / "recovery" / "recovery.ini", encoding="utf-8")
    parser["recovery"].update(
        state_dir=str(recovery.state_dir),
        audit_log=str(recovery.audit_log),
        syslog="off",
        credentials_file=str(recovery.credentials_file),
    )
    for name in parser.sections():
        if not name.startswith("action "):
            continue
        kept = {k: v for k, v in parser[name].items() if k in ("alerts", "cooldown")}
        parser.remove_section(name)
        parser[name] = {"type": "external-process", "command": recovery.recorder(name), **kept}
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def test_every_alert_of_the_documented_outage_gets_its_actions(recovery: Recovery) -> None:
    recovery.path.write_text(example_with_recorded_actions(recovery))
    config = load_config(recovery.path)
    spacing = documented_alert_spacing()
    assert spacing == 180  # F=3, Down 60 s: what contrib/README.md documents
    ran = {}
    for alert in (1, 2, 3):
        now = T0 + (alert - 1) * spacing
        results = run_actions(SERVICE, alert, facts(failures=3 * alert), config, now=now)
        ran[alert] = [(r.action, r.result, r.reason if r.result != OK else "") for r in results]
    assert ran == {
        1: [("page-oncall", OK, ""), ("restart-pop3", OK, "")],
        2: [("page-oncall", OK, ""), ("restart-pop3", OK, "")],
        3: [("page-oncall", OK, ""), ("reboot-mail1", OK, "")],
    }
    called = [call["argv"][-1] for call in recovery.calls()]
    assert called == ["action page-oncall", "action restart-pop3"] * 2 + [
        "action page-oncall",
        "action reboot-mail1",
    ]
