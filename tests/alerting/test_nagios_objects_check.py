"""check-nagios on object cache text: what it reports, and what it leaves alone."""

from __future__ import annotations

from check_pop3_ipmon.alerting.nagios_objects import check

GOOD = {
    "host_name": "mail1",
    "service_description": "POP3",
    "display_name": "Mail POP3",
    "check_interval": "5.000000",
    "retry_interval": "1.000000",
    "max_check_attempts": "3",
    "notification_options": "w,u,c,r",
    "notifications_enabled": "1",
    "obsess": "1",
    "is_volatile": "0",
    "_POP3_IPMON_FAILURES_PER_ALERT": "3",
    "_POP3_IPMON_MAX_ALERTS": "3",
    "_POP3_IPMON_UP_INTERVAL": "5",
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
    other = {"host_name": "web", "service_description": "HTTP", "max_check_attempts": "1"}
    assert check(cache(GOOD, other)) == (1, [])


def test_what_keeps_the_engine_from_alerting_like_ipmonitor() -> None:
    service = dict(
        GOOD,
        max_check_attempts="1000000",
        notification_options="n",
        obsess="0",
        is_volatile="1",
        check_interval="10",
    )
    assert messages(service) == [
        "error: service 'mail1!POP3': check_interval 10 differs from _POP3_IPMON_UP_INTERVAL 5: "
        "both are the Up interval (the handler sets check_interval back from the copy)",
        "error: service 'mail1!POP3': max_check_attempts 1e+06 is not the failures per alert 3: "
        "the service must turn HARD (ipMonitor's Down) at failure 3, where Nagios sends alert 1",
        "error: service 'mail1!POP3': notification_options lacks c or r: Nagios sends no "
        "PROBLEM or no RECOVERY",
        "error: service 'mail1!POP3': obsess_over_service is 0: the handler (ocsp_command) "
        "is never run",
        "error: service 'mail1!POP3': is_volatile 1: Nagios notifies on every failed test "
        "by itself",
    ]


def test_errors_for_missing_settings_and_long_names() -> None:
    service = dict(GOOD, notifications_enabled="0")
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
    assert "notifications_enabled is 0" in found[3]
    assert all(line.startswith("error: ") for line in found) and len(found) == 4
