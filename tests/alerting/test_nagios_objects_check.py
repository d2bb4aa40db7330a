"""check-nagios on object cache text: what it reports, and what it leaves alone."""

from __future__ import annotations

from check_pop3_ipmon.alerting.nagios_objects import check

GOOD = {
    "host_name": "mail1",
    "service_description": "POP3",
    "display_name": "Mail POP3",
    "event_handler": "pop3-ipmon-alert",
    "event_handler_enabled": "1",
    "retry_interval": "1.000000",
    "max_check_attempts": "1000000",
    "notification_options": "n",
    "is_volatile": "0",
    "_POP3_IPMON_FAILURES_PER_ALERT": "3",
    "_POP3_IPMON_MAX_ALERTS": "3",
    "_POP3_IPMON_DOWN_INTERVAL": "1",
    "_POP3_IPMON_LOST_INTERVAL": "15",
}


def cache(*services: dict[str, str]) -> str:
    blocks = ["define host {\n\thost_name\tmail1\n\t}\n"]
    for service in services:
        body = "".join(f"\t{key}\t{value}\n" for key, value in service.items())
        blocks.append(f"define service {{\n{body}\t}}\n")
    return "\n".join(blocks)


def messages(*services: dict[str, str]) -> list[str]:
    return [str(finding) for finding in check(cache(*services))[1]]


def test_a_good_service_and_foreign_services() -> None:
    other = {"host_name": "web", "service_description": "HTTP", "event_handler": "restart"}
    assert check(cache(GOOD, other)) == (1, [])


def test_warnings_for_what_still_works_but_differs() -> None:
    service = dict(GOOD, max_check_attempts="5000", notification_options="w,c,r", is_volatile="1")
    assert messages(service) == [
        "warning: service 'mail1!POP3': max_check_attempts 5000: a longer outage turns HARD "
        "and is then tested at the Up interval (the template uses 1000000)",
        "warning: service 'mail1!POP3': notification_options is not n: Nagios' own "
        "notifications come on top of the handler's",
        "warning: service 'mail1!POP3': is_volatile 1: Nagios notifies on every failed test "
        "by itself",
    ]


def test_errors_for_what_breaks_it() -> None:
    service = dict(GOOD, event_handler="pop3-ipmon-alert!x", event_handler_enabled="0")
    del service["_POP3_IPMON_LOST_INTERVAL"]
    service["_POP3_IPMON_MAX_ALERTS"] = "many"
    service.pop("display_name")
    service["service_description"] = "S" * 70
    found = messages(service)
    assert found[0].endswith(
        "the monitor name (display_name) is 70 characters long; ipMonitor allows at most 64"
    )
    assert "_POP3_IPMON_MAX_ALERTS is missing or not a positive number" in found[1]
    assert "_POP3_IPMON_LOST_INTERVAL is missing or not a positive number" in found[2]
    assert "event_handler_enabled is 0" in found[3]
    assert all(line.startswith("error: ") for line in found) and len(found) == 4
