"""ipMonitor's recovery actions (External Process, Restart Service, Reboot Server).

The alerting event handler, or the engine through pop3_ipmon_recovery,
calls run_actions() with the service, its alert number and the alert's facts;
the recovery config says which actions each alert number calls for. See
contrib/RECOVERY.md.
"""

from __future__ import annotations

from check_pop3_ipmon.recovery.config import Config, ConfigError
from check_pop3_ipmon.recovery.config import load as load_config
from check_pop3_ipmon.recovery.engine import ActionResult, Facts, exit_code, run_actions

__all__ = [
    "ActionResult",
    "Config",
    "ConfigError",
    "Facts",
    "exit_code",
    "load_config",
    "run_actions",
]
