"""The alerting handler's way in: run the recovery actions for the alert it just decided.

pop3_ipmon_alert calls run() after every result once it knows the alert
number (0 when this result sends none) and ipMonitor's state, for failures
and recoveries alike (recoveries end a problem for the per-problem cap). It
passes what its command line carries; for Nagios the facts a command line
cannot carry safely come from the environment macros, and the
acknowledgement from status.dat.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

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

LEVELS = {
    FAILED: logging.ERROR,
    REFUSED: logging.ERROR,
    WARNING: logging.WARNING,
    DEFERRED: logging.WARNING,
}


@dataclass(frozen=True)
class Alerting:
    """One result as the alerting handler saw and decided it."""

    engine: str  # "nagios" or "icinga2"
    host: str
    service: str
    monitor: str
    state: str  # OK, WARNING, CRITICAL, UNKNOWN
    phase: str  # Up, Warn, Down, Lost, Maintenance, Disabled
    alert: int  # the alert this result sends; 0: none
    failures: int
    in_downtime: bool
    enabled: bool
    acknowledged: Optional[bool] = None  # None: unknown here (Nagios: read status.dat)
    address: str = ""
    host_state: str = ""
    output: str = ""
    target: str = ""


def facts_for(
    alerting: Alerting,
    env: Mapping[str, str],
    status_file: Optional[Path],
) -> Facts:
    address, host_state, output, target = (
        alerting.address,
        alerting.host_state,
        alerting.output,
        alerting.target,
    )
    acknowledged = alerting.acknowledged
    monitor = alerting.monitor
    if alerting.engine == "nagios":
        from_env = nagios.env_facts(env)
        monitor = monitor or from_env.monitor
        address = address or from_env.address
        host_state = host_state or from_env.host_state
        output = output or from_env.output
        target = target or from_env.target
        if acknowledged is None and status_file is not None and alerting.state != "OK":
            try:
                acknowledged = nagios.acknowledged(status_file, alerting.host, alerting.service)
            except OSError:
                acknowledged = None
    return Facts(
        monitor=monitor,
        host=alerting.host,
        address=address,
        state=alerting.state,
        ipmon_state=alerting.phase,
        failures=alerting.failures,
        output=output,
        host_state=host_state or "UP",
        target=target,
        in_downtime=alerting.in_downtime,
        # Unknown is not "acknowledged": the rule is there to hold back, but
        # an unreadable status file must not silently disable recovery.
        acknowledged=bool(acknowledged),
        enabled=alerting.enabled,
    )


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
    key = f"{alerting.host}!{alerting.service}"
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
