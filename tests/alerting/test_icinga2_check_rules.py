"""check-icinga2's rules on objects shaped as Icinga 2's API returns them.

F=3, M=3, Down 5 s, Up 60 s: reminders every 15 s, times.end from
(M-1) x 15 + 7.5 = 37.5 s up to (not including) M x 15 = 45 s, the
template's 44 s between.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest

from check_pop3_ipmon.alerting.icinga2_check import (
    check_nodes,
    check_services,
    end_bounds,
    restore_hint,
)
from check_pop3_ipmon.alerting.icinga2_objects import Node

URL = "https://master1:5665"


def service(name: str = "s", **attrs: Any) -> dict[str, Any]:
    variables = {
        "pop3_ipmon_alerting": True,
        "pop3_ipmon_failures_per_alert": 3,
        "pop3_ipmon_max_alerts": 3,
        "pop3_ipmon_down_interval": 5,
        "pop3_ipmon_up_interval": 60,
    }
    variables.update(attrs.pop("vars", {}))
    base = {
        "__name": f"h!{name}",
        "host_name": "h",
        "name": name,
        "vars": variables,
        "max_check_attempts": 3,
        "retry_interval": 5,
        "check_interval": 60,
        "volatile": False,
        "event_command": "",
        "enable_notifications": True,
        "original_attributes": None,
    }
    base.update(attrs)
    return base


def notification(
    service_name: str = "s", name: str = "ipmon", ours: bool = True, **attrs: Any
) -> dict[str, Any]:
    base = {
        "__name": f"h!{service_name}!{name}",
        "host_name": "h",
        "service_name": service_name,
        "templates": [name, "pop3-ipmon-notification"] if ours else [name],
        "interval": 15,
        "times": {"end": 44},
        "types": ["Problem", "Recovery", "Acknowledgement"],
        "original_attributes": None,
    }
    base.update(attrs)
    return base


def lines(services: list[dict[str, Any]], notifications: list[dict[str, Any]]) -> list[str]:
    return [str(finding) for finding in check_services(services, notifications, URL)]


def test_the_design_is_clean() -> None:
    assert lines([service()], [notification(), notification(name="ticket", ours=False)]) == []


def test_the_bounds_of_times_end() -> None:
    assert end_bounds(3, 3, 5) == (37.5, 44, 45)
    assert end_bounds(1, 1, 10) == (5, 9, 10)


@pytest.mark.parametrize(("end", "clean"), [(37.5, True), (44, True), (37, False), (45, False)])
def test_times_end_at_and_past_its_bounds(end: float, clean: bool) -> None:
    found = lines([service()], [notification(times={"end": end})])
    if clean:
        assert found == []
    else:
        why = (
            "alert 3 can be lost (reminders come up to 5 s late each)"
            if end < 37.5
            else "alert 4 goes out too, Lost never stops them"
        )
        assert found == [
            f"error: notification 'h!s!ipmon': times.end {end:g}s is outside [37.5s, 45s) "
            f"for M=3, F x Down=15s: {why}; the template sets 44s"
        ]


def test_no_times_end_never_stops_the_reminders() -> None:
    assert lines([service()], [notification(times=None)]) == [
        "error: notification 'h!s!ipmon': no times.end: reminders never stop after alert 3 "
        "(Lost); the template sets 44s"
    ]


def test_each_service_attribute_against_its_variable() -> None:
    broken = service(max_check_attempts=1, retry_interval=60, check_interval=300, volatile=True)
    assert lines([broken], [notification()]) == [
        "error: service 'h!s': max_check_attempts 1 is not the failures per alert 3: Icinga 2 "
        "must turn HARD (ipMonitor's Down) at failure 3, where it sends alert 1",
        "error: service 'h!s': retry_interval 60s differs from vars.pop3_ipmon_down_interval "
        "5s: both are the Down interval: Icinga 2 tests the SOFT failures at it",
        "error: service 'h!s': check_interval 300s differs from vars.pop3_ipmon_up_interval "
        "60s: both are the Up interval: Icinga 2 tests an OK service at it",
        "error: service 'h!s': volatile is true: Icinga 2 then turns HARD at failure 1 and "
        "notifies on every failed test; ipMonitor's services are not volatile",
    ]


def test_a_notification_follows_a_wrong_attribute_without_a_line_of_its_own() -> None:
    # The template computes interval and times.end from max_check_attempts.
    wrong = [service(max_check_attempts=1)], [notification(interval=5, times={"end": 4})]
    assert lines(*wrong) == [
        "error: service 'h!s': max_check_attempts 1 is not the failures per alert 3: Icinga 2 "
        "must turn HARD (ipMonitor's Down) at failure 3, where it sends alert 1"
    ]


def test_the_old_event_command_and_disabled_notifications() -> None:
    found = lines(
        [service(event_command="pop3_ipmon_alert", enable_notifications=False)], [notification()]
    )
    assert found == [
        "error: service 'h!s': event_command is pop3_ipmon_alert (the old design's handler): "
        "remove it; Icinga 2 now sends ipMonitor's alerts on its own",
        "error: service 'h!s': enable_notifications is false: no alert goes out",
    ]
    # Someone's own event command is theirs.
    assert lines([service(event_command="restart-dovecot")], [notification()]) == []


def test_alerts_closer_than_two_timer_ticks_can_be_lost() -> None:
    fast = service(vars={"pop3_ipmon_down_interval": 3}, retry_interval=3)
    found = lines([fast], [notification(interval=9, times={"end": 26})])
    assert found == [
        "error: service 'h!s': F x Down = 9s is under 10s: Icinga 2's notification timer ticks "
        "every 5 s, so reminders come late and the last alerts can be lost; raise the Down "
        "interval"
    ]


def test_missing_variables_are_named_and_nothing_is_derived_from_them() -> None:
    broken = service(vars={"pop3_ipmon_max_alerts": None, "pop3_ipmon_up_interval": "x"})
    found = lines([broken], [])
    assert found == [
        "error: service 'h!s': vars.pop3_ipmon_max_alerts is missing or not a positive number",
        "error: service 'h!s': vars.pop3_ipmon_up_interval is missing or not a positive number",
        "error: service 'h!s': no Notification imports pop3-ipmon-notification: no alert of "
        "ipMonitor's goes out",
    ]


def test_the_reminder_interval_and_the_types() -> None:
    found = lines([service()], [notification(interval=0, types=["Problem"])])
    assert found == [
        "error: notification 'h!s!ipmon': interval 0s is not F x Down = 15s: reminders "
        "(alerts 2..M) must come every 3 failures",
        "error: notification 'h!s!ipmon': types lacks Recovery: no RECOVERY",
    ]
    # All types when none are listed.
    assert lines([service()], [notification(types=None)]) == []


def test_other_notifications_are_left_alone_unless_the_old_gate_touched_them() -> None:
    theirs = notification(name="ticket", ours=False, interval=1800, times=None)
    assert lines([service()], [notification(), theirs]) == []
    gated = dict(theirs, times={"begin": 315360000}, original_attributes={"times": None})
    hint = restore_hint("Notification", "h!s!ticket", "times", URL)
    assert lines([service()], [notification(), gated]) == [
        "error: notification 'h!s!ticket': times.begin 315360000s (3650 days) is a modified "
        "attribute (the old gate's, kept across restarts): PROBLEM notifications wait for it; "
        f"remove it: {hint}"
    ]


def test_the_restore_hint_quotes_what_the_shell_and_the_dsl_would_misread() -> None:
    hint = restore_hint("Notification", 'h!it\'s "x"!n', "times", URL)
    assert hint.startswith(
        "icinga2 console --connect https://master1:5665/ --eval "
        '\'get_object(Notification, "h!it\'"\'"\'s \\"x\\"!n").restore_attribute("times")\' '
    )


def test_the_old_handlers_modified_service_attributes() -> None:
    modified = service(original_attributes={"check_interval": 60, "vars.pop3_ipmon_state": "Up"})
    found = lines([modified], [notification()])
    assert found == [
        "error: service 'h!s': check_interval is a modified attribute (set at run time, kept "
        f"across restarts): remove it: {restore_hint('Service', 'h!s', 'check_interval', URL)}",
        "warning: service 'h!s': vars.pop3_ipmon_state is a modified attribute (set at run "
        "time, kept across restarts), likely the old handler's: "
        f"{restore_hint('Service', 'h!s', 'vars.pop3_ipmon_state', URL)}",
    ]


def test_notifications_are_matched_to_their_own_service() -> None:
    found = lines([service("a"), service("b")], [notification("a")])
    assert found == [
        "error: service 'h!b': no Notification imports pop3-ipmon-notification: no alert of "
        "ipMonitor's goes out"
    ]


def node(
    identity: str,
    zones: dict[str, tuple[Optional[str], list[str]]],
    *,
    feature: Optional[bool] = True,
    accept_config: bool = True,
    enable_notifications: bool = True,
) -> Node:
    return Node(
        url=f"https://{identity}:5665",
        identity=identity,
        accept_config=accept_config,
        notification_components={} if feature is None else {"notification": feature},
        enable_notifications=enable_notifications,
        zones={
            name: {"parent": parent, "endpoints": endpoints, "global": False}
            for name, (parent, endpoints) in zones.items()
        }
        | {"global-templates": {"parent": None, "endpoints": None, "global": True}},
        endpoints={"master2": {"host": "10.0.0.2", "port": "5665"}},
    )


SINGLE = {"master": (None, ["master1"]), "sat": ("master", ["sat1"])}
HA = {"master": (None, ["master1", "master2"]), "sat": ("master", ["sat1"])}


def node_lines(*nodes: Node) -> list[str]:
    return [str(finding) for finding in check_nodes(nodes)]


def test_a_master_with_the_feature_and_a_satellite_without() -> None:
    assert node_lines(node("master1", SINGLE), node("sat1", SINGLE, feature=None)) == []


def test_the_feature_on_a_satellite_sends_every_alert_twice() -> None:
    assert node_lines(node("master1", SINGLE), node("sat1", SINGLE)) == [
        "warning: node 'sat1': the notification feature is enabled in zone 'sat', a child of "
        "'master': every alert goes out twice, from here and from the master zone; run "
        "`icinga2 feature disable notification` on this node"
    ]


def test_a_master_without_the_feature_or_with_notifications_off() -> None:
    assert node_lines(node("master1", SINGLE, feature=None, enable_notifications=False)) == [
        "error: node 'master1': the notification feature is disabled on this node of the "
        "master zone 'master': no alert goes out from it; run `icinga2 feature enable "
        "notification`",
        "error: node 'master1': notifications are disabled for the whole instance "
        "(IcingaApplication enable_notifications false): no alert goes out",
    ]


def test_an_ha_pair_as_node_setup_leaves_it() -> None:
    found = node_lines(node("master1", HA, feature=False, accept_config=False), node("master2", HA))
    assert found == [
        "error: node 'master1': NotificationComponent 'notification' has enable_ha = false on "
        "an HA master pair: both masters send every reminder (alerts 2..M twice); set "
        "enable_ha = true in features-enabled/notification.conf",
        "error: node 'master1': ApiListener accept_config = false on an HA master pair: what "
        "the other master creates or changes at run time (downtimes, API changes) is dropped "
        "here, and the notifications this master owns ignore it; set accept_config = true in "
        "features-enabled/api.conf (`icinga2 node setup` writes it only with --accept-config)",
    ]
    assert node_lines(node("master1", HA), node("master2", HA)) == []


def test_an_ha_partner_not_queried_is_named_with_its_api() -> None:
    assert node_lines(node("master1", HA)) == [
        "warning: node 'master2': the other master of the HA pair was not checked (its "
        "notification feature, enable_ha, accept_config): add its API, e.g. url = ... "
        "https://10.0.0.2:5665"
    ]
