"""What check-icinga2 reads through the API: the ipMonitor services and their
Notifications from the first node, and each node's own settings.

Object types and attributes as Icinga 2 2.13 exposes them (lib/*/*.ti):
Service and Notification with their config attributes and
`original_attributes` (the modified attributes, which survive restarts in
DataDir/modified-attributes.conf); the node's own features, which the
cluster never syncs: ApiListener (`identity`, `accept_config`),
NotificationComponent (`enable_ha`; no object when the `notification`
feature is disabled), IcingaApplication (`enable_notifications`), and the
Zone and Endpoint objects it knows. Each type needs its own
objects/query/<Type> permission; without it Icinga 2 answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from check_pop3_ipmon.alerting.icinga2_api import ApiError, Icinga2Query, NotFound

# The marker the service template sets; the same test as the permission filter.
OURS = "service.vars.pop3_ipmon_alerting == true"

SERVICE_ATTRS = (
    "__name",
    "host_name",
    "name",
    "vars",
    "max_check_attempts",
    "retry_interval",
    "check_interval",
    "volatile",
    "event_command",
    "enable_notifications",
    "original_attributes",
)
NOTIFICATION_ATTRS = (
    "__name",
    "host_name",
    "service_name",
    "templates",
    "interval",
    "times",
    "types",
    "original_attributes",
)


@dataclass(frozen=True)
class Node:
    """One node's own settings, as its API reports them."""

    url: str
    identity: str
    accept_config: bool
    notification_components: dict[str, bool]  # name -> enable_ha
    enable_notifications: bool
    zones: dict[str, dict[str, Any]]  # name -> parent, endpoints, global
    endpoints: dict[str, dict[str, Any]]  # name -> host, port


def _attrs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(result.get("attrs") or {}, __name=result.get("name")) for result in results]


def _query(api: Icinga2Query, plural: str, type_name: str, body: dict[str, Any]) -> Any:
    try:
        return api.request(f"/v1/objects/{plural}", body)
    except NotFound:
        raise ApiError(
            f"{api.base}: cannot query {type_name} objects (HTTP 404: Icinga 2's answer when "
            f"the API user lacks objects/query/{type_name})"
        ) from None


def _results(answer: Any, plural: str) -> list[dict[str, Any]]:
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise ApiError(f"/v1/objects/{plural}: the answer has no results list")
    return _attrs([result for result in results if isinstance(result, dict)])


def services(api: Icinga2Query) -> list[dict[str, Any]]:
    body = {"type": "Service", "filter": OURS, "attrs": list(SERVICE_ATTRS)}
    return _results(_query(api, "services", "Service", body), "services")


def notifications(api: Icinga2Query) -> list[dict[str, Any]]:
    body = {"type": "Notification", "filter": OURS, "attrs": list(NOTIFICATION_ATTRS)}
    return _results(_query(api, "notifications", "Notification", body), "notifications")


def node(api: Icinga2Query) -> Node:
    def query(plural: str, type_name: str, attrs: tuple[str, ...]) -> list[dict[str, Any]]:
        answer = _query(api, plural, type_name, {"attrs": list(attrs)})
        return _results(answer, plural)

    listeners = query("apilisteners", "ApiListener", ("identity", "accept_config"))
    if not listeners:
        raise ApiError(f"{api.base}: no ApiListener object (the api feature) in its answer")
    components = query("notificationcomponents", "NotificationComponent", ("enable_ha",))
    applications = query("icingaapplications", "IcingaApplication", ("enable_notifications",))
    zones = query("zones", "Zone", ("parent", "endpoints", "global"))
    endpoints = query("endpoints", "Endpoint", ("host", "port"))
    return Node(
        url=api.base,
        identity=str(listeners[0].get("identity") or ""),
        accept_config=bool(listeners[0].get("accept_config")),
        notification_components={
            str(item["__name"]): item.get("enable_ha") is not False for item in components
        },
        enable_notifications=all(
            item.get("enable_notifications") is not False for item in applications
        ),
        zones={str(item["__name"]): item for item in zones},
        endpoints={str(item["__name"]): item for item in endpoints},
    )
