"""check-icinga2's rules: what in Icinga 2's objects breaks ipMonitor's timeline.

Engine-native alerting (contrib/icinga2/pop3_ipmon_templates.conf): with F
failures per alert, M alerts and the Down interval, the service turns HARD at
failure F (max_check_attempts = F, SOFT failures every retry_interval =
Down) and the Notification sends PROBLEM 1 there, reminders every
interval = F x Down, none after times.end, which lies between alert M and
alert M+1. Icinga 2's notification timer ticks about 5 s after its last
run ended, so each reminder can come up to 5 s late, and late ones add up:
times.end keeps a margin of at least half an F x Down after alert M's due
time, and F x Down must be at least 10 s.

The old design (a volatile service, the event command pop3_ipmon_alert and
its gate, `times.begin` ten years ahead, set through the API) left modified
attributes that survive restarts (DataDir/modified-attributes.conf): a gate
left closed silences the service.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from check_pop3_ipmon.alerting.icinga2_objects import Node

TEMPLATE = "pop3-ipmon-notification"
OLD_EVENT_COMMAND = "pop3_ipmon_alert"
TIMER_TICK = 5.0  # NotificationComponent's timer (lib/notification/notificationcomponent.cpp)
MIN_ALERT_INTERVAL = 2 * TIMER_TICK


@dataclass(frozen=True)
class Finding:
    error: bool
    subject: str  # "service 'h!s'", "notification 'h!s!n'", "node 'master1'"
    message: str

    def __str__(self) -> str:
        return f"{'error' if self.error else 'warning'}: {self.subject}: {self.message}"


def _seconds(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _s(value: float) -> str:
    if value == int(value):
        days = f" ({value / 86400:g} days)" if value >= 86400 else ""
        return f"{int(value)}s{days}"
    return f"{value:g}s"


def restore_hint(type_name: str, name: str, attr: str, console_url: str) -> str:
    """How to remove a modified attribute in Icinga 2 2.13 (its API cannot restore one)."""
    script = f"get_object({type_name}, {json.dumps(name)}).restore_attribute({json.dumps(attr)})"
    return (
        f"icinga2 console --connect {console_url}/ --eval {shlex.quote(script)} "
        "(as an ApiUser with permission console, in ICINGA2_API_USERNAME and "
        "ICINGA2_API_PASSWORD), or stop Icinga 2, delete the object's "
        f"modify_attribute({json.dumps(attr)}, ...) line in DataDir/modified-attributes.conf "
        "(/var/lib/icinga2/) and start it"
    )


def end_bounds(f: int, m: int, down: float) -> tuple[float, float, float]:
    """times.end: (lowest kept, the design's value, first that lets alert M+1 out)."""
    every = f * down
    design = (m - 1) * every + max(every / 2, every - 1)
    return (m - 1) * every + every / 2, design, m * every


def _modified(attrs: Mapping[str, Any]) -> list[str]:
    original = attrs.get("original_attributes")
    return sorted(original) if isinstance(original, dict) else []


def _service_modified(service: Mapping[str, Any], name: str, console_url: str) -> list[Finding]:
    """The old handler set check_interval and vars at run time: leftovers survive restarts."""
    found: list[Finding] = []
    for attr in _modified(service):
        about = f"{attr} is a modified attribute (set at run time, kept across restarts)"
        hint = restore_hint("Service", name, attr, console_url)
        if attr in ("check_interval", "retry_interval", "max_check_attempts", "volatile"):
            found.append(Finding(True, f"service '{name}'", f"{about}: remove it: {hint}"))
        elif attr == "vars" or attr.startswith("vars.pop3_ipmon_"):
            found.append(
                Finding(False, f"service '{name}'", f"{about}, likely the old handler's: {hint}")
            )
    return found


def check_service(
    service: Mapping[str, Any], notifications: Sequence[Mapping[str, Any]], console_url: str
) -> list[Finding]:
    name = str(service.get("__name") or f"{service.get('host_name')}!{service.get('name')}")
    subject = f"service '{name}'"
    found: list[Finding] = []

    def error(message: str, about: str = subject) -> None:
        found.append(Finding(True, about, message))

    def warning(message: str, about: str = subject) -> None:
        found.append(Finding(False, about, message))

    raw_vars = service.get("vars")
    variables: Mapping[str, Any] = raw_vars if isinstance(raw_vars, dict) else {}
    numbers: dict[str, Optional[float]] = {}
    for key in ("failures_per_alert", "max_alerts", "down_interval", "up_interval"):
        value = _seconds(variables.get(f"pop3_ipmon_{key}"))
        numbers[key] = value if value is not None and value > 0 else None
        if numbers[key] is None:
            error(f"vars.pop3_ipmon_{key} is missing or not a positive number")
    f, m = numbers["failures_per_alert"], numbers["max_alerts"]
    down, up = numbers["down_interval"], numbers["up_interval"]
    for key in ("failures_per_alert", "max_alerts"):
        value = numbers[key]
        if value is not None and value != int(value):
            error(f"vars.pop3_ipmon_{key} {value:g} is not a whole number")
            numbers[key] = None
    f, m = numbers["failures_per_alert"], numbers["max_alerts"]

    attempts = _seconds(service.get("max_check_attempts"))
    if f is not None and attempts != f:
        error(
            f"max_check_attempts {service.get('max_check_attempts')} is not the failures per "
            f"alert {f:g}: Icinga 2 must turn HARD (ipMonitor's Down) at failure {f:g}, "
            "where it sends alert 1"
        )
    for attribute, wanted, why in (
        ("retry_interval", down, "the Down interval: Icinga 2 tests the SOFT failures at it"),
        ("check_interval", up, "the Up interval: Icinga 2 tests an OK service at it"),
    ):
        written = _seconds(service.get(attribute))
        if wanted is not None and (written is None or abs(written - wanted) > 1e-6):
            shown = _s(written) if written is not None else repr(service.get(attribute))
            copy = "down" if attribute == "retry_interval" else "up"
            error(
                f"{attribute} {shown} differs from vars.pop3_ipmon_{copy}_interval "
                f"{_s(wanted)}: both are {why}"
            )
    if service.get("volatile") is True:
        error(
            "volatile is true: Icinga 2 then turns HARD at failure 1 and notifies on every "
            "failed test; ipMonitor's services are not volatile"
        )
    if service.get("event_command") == OLD_EVENT_COMMAND:
        error(
            f"event_command is {OLD_EVENT_COMMAND} (the old design's handler): remove it; "
            "Icinga 2 now sends ipMonitor's alerts on its own"
        )
    if service.get("enable_notifications") is False:
        error("enable_notifications is false: no alert goes out")
    found += _service_modified(service, name, console_url)
    every = f * down if f is not None and down is not None else None
    if every is not None and every < MIN_ALERT_INTERVAL:
        error(
            f"F x Down = {_s(every)} is under {_s(MIN_ALERT_INTERVAL)}: Icinga 2's "
            f"notification timer ticks every {TIMER_TICK:g} s, so reminders come late and "
            "the last alerts can be lost; raise the Down interval"
        )

    ours = [n for n in notifications if TEMPLATE in (n.get("templates") or [])]
    if not ours:
        error(f"no Notification imports {TEMPLATE}: no alert of ipMonitor's goes out")
    # The template takes F and Down from max_check_attempts and
    # retry_interval: once those are wrong (said above), so is its timing,
    # which follows them when they are fixed; only the gate is still worth a line.
    derived = (
        _seconds(service.get("max_check_attempts")) == f
        and _seconds(service.get("retry_interval")) == down
    )
    for notification in notifications:
        found += _check_notification(
            notification,
            notification in ours,
            f=f if derived else None,
            m=m,
            every=every,
            console_url=console_url,
        )
    return found


def _check_notification(
    notification: Mapping[str, Any],
    ours: bool,
    *,
    f: Optional[float],
    m: Optional[float],
    every: Optional[float],
    console_url: str,
) -> list[Finding]:
    name = str(notification.get("__name") or "?")
    subject = f"notification '{name}'"
    found: list[Finding] = []
    raw_times = notification.get("times")
    times: Mapping[str, Any] = raw_times if isinstance(raw_times, dict) else {}
    modified = _modified(notification)
    begin = _seconds(times.get("begin"))
    gated = "times" in modified or any(attr.startswith("times.") for attr in modified)
    if gated:
        what = f"times.begin {_s(begin)}" if begin is not None and begin > 0 else "times"
        found.append(
            Finding(
                True,
                subject,
                f"{what} is a modified attribute (the old gate's, kept across restarts): "
                f"PROBLEM notifications wait for it; remove it: "
                f"{restore_hint('Notification', name, 'times', console_url)}",
            )
        )
    elif begin is not None and begin > 0 and ours:
        found.append(
            Finding(
                True,
                subject,
                f"times.begin {_s(begin)}: no PROBLEM before then, alert 1 is late",
            )
        )
    if not ours or f is None or m is None or every is None:
        return found
    interval = _seconds(notification.get("interval"))
    if interval is None or abs(interval - every) > 1e-6:
        shown = _s(interval) if interval is not None else repr(notification.get("interval"))
        found.append(
            Finding(
                True,
                subject,
                f"interval {shown} is not F x Down = {_s(every)}: reminders (alerts 2..M) "
                f"must come every {f:g} failures",
            )
        )
    low, design, high = end_bounds(int(f), int(m), every / f)
    end = _seconds(times.get("end"))
    if gated:
        pass  # restoring the attribute brings the configured times.end back
    elif end is None or end < 0:
        found.append(
            Finding(
                True,
                subject,
                f"no times.end: reminders never stop after alert {m:g} (Lost); the "
                f"template sets {_s(design)}",
            )
        )
    elif not low <= end < high:
        why = (
            f"alert {m:g} can be lost (reminders come up to {TIMER_TICK:g} s late each)"
            if end < low
            else f"alert {m + 1:g} goes out too, Lost never stops them"
        )
        found.append(
            Finding(
                True,
                subject,
                f"times.end {_s(end)} is outside [{_s(low)}, {_s(high)}) for M={m:g}, "
                f"F x Down={_s(every)}: {why}; the template sets {_s(design)}",
            )
        )
    raw_types = notification.get("types")
    if isinstance(raw_types, list):
        types = {str(item).lower() for item in raw_types}
        for wanted in ("Problem", "Recovery"):
            if wanted.lower() not in types:
                found.append(Finding(True, subject, f"types lacks {wanted}: no {wanted.upper()}"))
    return found


def check_services(
    services: Sequence[Mapping[str, Any]],
    notifications: Sequence[Mapping[str, Any]],
    console_url: str,
) -> list[Finding]:
    by_service: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for notification in notifications:
        key = (str(notification.get("host_name")), str(notification.get("service_name")))
        by_service.setdefault(key, []).append(notification)
    found: list[Finding] = []
    for service in services:
        key = (str(service.get("host_name")), str(service.get("name")))
        found += check_service(service, by_service.get(key, []), console_url)
    return found


def _zone_of(node: Node, endpoint: str) -> Optional[str]:
    for name, zone in node.zones.items():
        if endpoint in (zone.get("endpoints") or []):
            return name
    return None


def _top(node: Node, zone: str) -> str:
    seen = {zone}
    while True:
        parent = node.zones.get(zone, {}).get("parent")
        if not parent or parent in seen or parent not in node.zones:
            return zone
        seen.add(parent)
        zone = str(parent)


def check_nodes(nodes: Sequence[Node]) -> list[Finding]:
    found: list[Finding] = []
    checked = {node.identity for node in nodes}
    unchecked: dict[str, str] = {}
    for node in nodes:
        subject = f"node '{node.identity}'"
        zone = _zone_of(node, node.identity)
        if zone is None:
            found.append(Finding(False, subject, "its endpoint is in no Zone it knows"))
            continue
        top = _top(node, zone)
        feature = bool(node.notification_components)
        if zone != top:
            parent = node.zones.get(zone, {}).get("parent")
            if feature:
                found.append(
                    Finding(
                        False,
                        subject,
                        f"the notification feature is enabled in zone '{zone}', a child of "
                        f"'{parent}': every alert goes out twice, from here and from the "
                        "master zone; run `icinga2 feature disable notification` on this node",
                    )
                )
            continue
        if not feature:
            found.append(
                Finding(
                    True,
                    subject,
                    f"the notification feature is disabled on this node of the master zone "
                    f"'{zone}': no alert goes out from it; run "
                    "`icinga2 feature enable notification`",
                )
            )
        if not node.enable_notifications:
            found.append(
                Finding(
                    True,
                    subject,
                    "notifications are disabled for the whole instance "
                    "(IcingaApplication enable_notifications false): no alert goes out",
                )
            )
        masters = [str(name) for name in node.zones[zone].get("endpoints") or []]
        if len(masters) < 2:
            continue
        for name, enable_ha in sorted(node.notification_components.items()):
            if not enable_ha:
                found.append(
                    Finding(
                        True,
                        subject,
                        f"NotificationComponent '{name}' has enable_ha = false on an HA "
                        "master pair: both masters send every reminder (alerts 2..M twice); "
                        "set enable_ha = true in features-enabled/notification.conf",
                    )
                )
        if not node.accept_config:
            found.append(
                Finding(
                    True,
                    subject,
                    "ApiListener accept_config = false on an HA master pair: what the other "
                    "master creates or changes at run time (downtimes, API changes) is "
                    "dropped here, and the notifications this master owns ignore it; set "
                    "accept_config = true in features-enabled/api.conf (`icinga2 node setup` "
                    "writes it only with --accept-config)",
                )
            )
        for master in masters:
            if master not in checked:
                endpoint = node.endpoints.get(master, {})
                host = endpoint.get("host") or master
                port = endpoint.get("port") or "5665"
                unchecked.setdefault(master, f"https://{host}:{port}")
    for master, url in sorted(unchecked.items()):
        found.append(
            Finding(
                False,
                f"node '{master}'",
                "the other master of the HA pair was not checked (its notification feature, "
                f"enable_ha, accept_config): add its API, e.g. url = ... {url}",
            )
        )
    return found
