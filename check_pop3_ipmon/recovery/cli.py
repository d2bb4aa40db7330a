"""pop3_ipmon_recovery: run a service's recovery actions for one alert.

Icinga 2 runs it as the command of a Notification of its own
(contrib/icinga2/pop3_ipmon_recovery.conf), each macro its own argv element
(no shell): --type is the notification's type, --alert the alert number the
Notification template computed. Exit 0 when done or nothing was due, 1 when an
action or the run failed, 2 when refused (bad input, configuration,
credentials file, state, lock or audit log). The audit log and syslog hold
the record; the output is for people running it by hand, --dry-run above all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.core import values
from check_pop3_ipmon.recovery import config as configuration
from check_pop3_ipmon.recovery.engine import (
    DRY_RUN,
    ActionResult,
    Facts,
    exit_code,
    run_actions,
)

PROG = "pop3_ipmon_recovery"
FAILED_EXIT, REFUSED_EXIT = 1, 2
ACTING_TYPES = ("PROBLEM", "RECOVERY")


def notification_type(value: str) -> str:
    """Icinga 2's $notification.type$: a word, shown back only if it is one."""
    word = value.strip().upper()
    if not word.isalpha() or len(word) > 40:
        raise argparse.ArgumentTypeError("expected a notification type such as PROBLEM")
    return word


def flag(value: str) -> bool:
    """Engine booleans: Icinga 2's acknowledgement is 0/1/2, downtime a depth."""
    try:
        return values.engine_flag(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def count(value: str) -> int:
    try:
        return values.count(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Facts reach External Process programs as POP3_IPMON_* environment variables; "
        "see contrib/RECOVERY.md.",
    )
    p.add_argument(
        "--config",
        type=Path,
        required=True,
        help="the recovery configuration (pop3_ipmon-recovery.ini beside nagios.cfg, "
        "or in Icinga 2's ConfigDir)",
    )
    p.add_argument("--service", required=True, help="service key, HOST!SERVICE")
    p.add_argument(
        "--type",
        type=notification_type,
        help="the notification's type: PROBLEM runs alert --alert's actions, RECOVERY ends "
        "the problem (--alert is then the number of alerts sent), any other does nothing",
    )
    p.add_argument("--alert", type=count, default=0, help="ipMonitor alert number (0: none)")
    p.add_argument("--state", required=True, help="engine state: OK WARNING CRITICAL UNKNOWN")
    p.add_argument("--ipmon-state", required=True, help="ipMonitor state: Up Warn Down Lost")
    p.add_argument("--failures", type=count, default=0, help="sequential failure count")
    p.add_argument("--monitor", default="", help="ipMonitor monitor name")
    p.add_argument("--host", default="", help="engine host name")
    p.add_argument("--address", default="", help="host address")
    p.add_argument("--target", default="", help="Recovery Parameters: FQDN, NetBIOS name or IP")
    p.add_argument("--output", default="", help="plugin output")
    p.add_argument("--host-state", default="UP", help="UP DOWN UNREACHABLE")
    p.add_argument("--downtime", type=flag, default=False, help="service downtime depth (0: none)")
    p.add_argument("--host-downtime", type=flag, default=False, help="host downtime depth")
    p.add_argument("--acknowledged", type=flag, default=False, help="0 or 1/2 (acknowledged)")
    p.add_argument("--enabled", type=flag, default=True, help="active checks enabled (1/0)")
    p.add_argument(
        "--dry-run", action="store_true", help="show exactly what would run; run and record nothing"
    )
    return p


def describe(result: ActionResult) -> list[str]:
    if result.action == "-":
        return [f"{result.result.upper()}: {result.reason}"]
    line = f"{result.action} ({result.kind}) on {result.target}: {result.result}"
    if result.reason and result.result != DRY_RUN:
        line += f" - {result.reason}"
    if result.steps:
        line += f" [{result.duration:.2f}s]"
    lines = [line]
    if result.result == DRY_RUN:
        lines += [
            f"  would run ({step.label}): {step.invocation.show()}" for step in result.planned
        ]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _main(args)
    except Exception as error:
        print(f"FAILED: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return FAILED_EXIT


def _main(args: argparse.Namespace) -> int:
    if args.type is not None and args.type not in ACTING_TYPES:
        print(f"{args.type}: no recovery action (only PROBLEM and RECOVERY call for one)")
        return 0
    # At a RECOVERY the alert number counts the alerts sent: none is new.
    alert = 0 if args.type == "RECOVERY" else args.alert
    try:
        config = configuration.load(args.config)
    except configuration.ConfigError as error:
        print(f"REFUSED: {error}", file=sys.stderr)
        return REFUSED_EXIT
    facts = Facts(
        monitor=args.monitor,
        host=args.host,
        address=args.address,
        state=args.state,
        ipmon_state=args.ipmon_state,
        failures=args.failures,
        output=args.output,
        host_state=args.host_state,
        target=args.target,
        in_downtime=args.downtime or args.host_downtime,
        acknowledged=args.acknowledged,
        enabled=args.enabled,
    )
    results = run_actions(args.service, alert, facts, config, dry_run=args.dry_run)
    if args.service not in config.services:
        print(f"no recovery configured for {args.service} in {args.config}")
    elif not results:
        print(f"nothing due for {args.service} at alert {alert} ({args.ipmon_state})")
    for result in results:
        for line in describe(result):
            print(line)
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
