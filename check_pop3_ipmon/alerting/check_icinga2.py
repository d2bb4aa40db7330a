"""pop3_ipmon_config check-icinga2: read Icinga 2's objects, say what breaks ipMonitor's timeline.

One line per finding, a summary line, and the plugins' exit codes: 0 all
good, 1 warnings only, 2 errors, 3 the objects could not be read. The target
comes from icinga2_target (never from the objects themselves).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from check_pop3_ipmon.alerting import icinga2_check, icinga2_objects, icinga2_target
from check_pop3_ipmon.alerting.icinga2_api import ApiError, Icinga2Query
from check_pop3_ipmon.core.deadline import Deadline

PROG = "pop3_ipmon_config check-icinga2"
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def run(
    config: Optional[Path],
    urls: list[str],
    ca_file: Optional[Path],
    credentials_file: Optional[Path],
) -> int:
    try:
        target = icinga2_target.resolve(config, urls, ca_file, credentials_file)
        deadline = Deadline(target.timeout)  # one for every query of the run
        apis = [
            Icinga2Query(url, target.credentials, ca_file=target.ca_file, deadline=deadline)
            for url in target.urls
        ]
        services = icinga2_objects.services(apis[0])
        notifications = icinga2_objects.notifications(apis[0])
        nodes = [icinga2_objects.node(api) for api in apis]
    except ApiError as exc:
        print(f"{PROG}: UNKNOWN: {exc}")
        return UNKNOWN
    findings = icinga2_check.check_services(services, notifications, apis[0].base)
    findings += icinga2_check.check_nodes(nodes)
    for finding in findings:
        print(finding)
    errors = sum(finding.error for finding in findings)
    print(
        f"{len(services)} service(s) with ipMonitor alerting, {len(nodes)} node(s): "
        f"{errors} error(s), {len(findings) - errors} warning(s)"
    )
    sys.stdout.flush()
    return CRITICAL if errors else WARNING if findings else OK
