"""The alerting handler's way in: run the recovery actions for the alert it just decided.

pop3_ipmon_alert calls run() after every result once it knows the alert
number (0 when this result sends none) and ipMonitor's state, for failures
and recoveries alike (recoveries end a problem for the per-problem cap). It
passes what its command line carries; for Nagios the facts a command line
cannot carry safely come from the environment macros, and the
acknowledgement from status.dat.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from check_pop3_ipmon.recovery import config as configuration
from check_pop3_ipmon.recovery import nagios
from check_pop3_ipmon.recovery.engine import (
    DEFERRED,
    FAILED,
    REFUSED,
    WARNING,
    Facts,
    exit_code,
    run_actions,
)

__all__ = ["Alerting", "Facts", "facts_for", "run"]

LEVELS = {
    FAILED: logging.ERROR,
    REFUSED: logging.ERROR,
    WARNING: logging.WARNING,
    DEFERRED: logging.WARNING,
}


@dataclass(frozen=True)
class Alerting:
    """One result as the alerting handler saw and decided it: the facts
    (engine.Facts, their one declaration) as its command line carried them,
    and what only the handler knows."""

    engine: str  # "nagios" or "icinga2"
    service: str
    alert: int  # the alert this result sends; 0: none
    facts: Facts  # an empty text: not on the command line (Nagios: the environment)
    acknowledged_known: bool = True  # False: unknown here (Nagios: read status.dat)


def facts_for(
    alerting: Alerting,
    env: Mapping[str, str],
    status_file: Optional[Path],
) -> Facts:
    facts = alerting.facts
    if alerting.engine == "nagios":
        missing: dict[str, Any] = {  # only the text facts the environment carries
            name: value
            for name, value in nagios.env_facts(env).items()
            if not getattr(facts, name) and value
        }
        facts = dataclasses.replace(facts, **missing)
        if not alerting.acknowledged_known and status_file is not None and facts.state != "OK":
            # Unknown is not "acknowledged": the rule is there to hold back, but
            # an unreadable status file must not silently disable recovery.
            try:
                acknowledged = nagios.acknowledged(status_file, facts.host, alerting.service)
            except OSError:
                acknowledged = False
            facts = dataclasses.replace(facts, acknowledged=acknowledged)
    return facts if facts.host_state else dataclasses.replace(facts, host_state="UP")


def run(
    config_path: Path,
    alerting: Alerting,
    log: logging.Logger,
    *,
    env: Optional[Mapping[str, str]] = None,
    status_file: Optional[Path] = None,
) -> int:
    """Run what is due; log one line per action; return 0, 1 (failed) or 2 (refused).

    Never raises: whatever goes wrong is logged with its reason, and the
    handler exits with its recovery code.
    """
    key = f"{alerting.facts.host}!{alerting.service}"
    try:
        return _run(key, config_path, alerting, log, env=env, status_file=status_file)
    except Exception as error:
        log.error("%s: recovery: internal error: %s: %s", key, type(error).__name__, error)
        return 1


def _run(
    key: str,
    config_path: Path,
    alerting: Alerting,
    log: logging.Logger,
    *,
    env: Optional[Mapping[str, str]],
    status_file: Optional[Path],
) -> int:
    try:
        config = configuration.load(config_path)
    except configuration.ConfigError as error:
        log.error("%s: recovery: %s", key, error)
        return 2
    if key not in config.services:
        return 0
    facts = facts_for(alerting, os.environ if env is None else env, status_file)
    results = run_actions(key, alerting.alert, facts, config)
    for result in results:
        what = (
            "" if result.action == "-" else f" {result.action} ({result.kind}) on {result.target}"
        )
        log.log(
            LEVELS.get(result.result, logging.INFO),
            "%s: recovery%s at alert %s: %s%s",
            key,
            what,
            alerting.alert if result.alert is None else f"{result.alert} (remembered)",
            result.result,
            f" - {result.reason}" if result.reason else "",
        )
    return exit_code(results)
