"""The report as JSON (the shape other tools read) and as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Optional

from check_pop3_ipmon.report.availability import Availability, Outage
from check_pop3_ipmon.report.model import Report, ServiceReport, iso


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 3)


def _outage(outage: Outage) -> dict[str, Any]:
    return {"start": iso(outage.start), "end": iso(outage.end), "seconds": round(outage.seconds)}


def _service(report: ServiceReport) -> dict[str, Any]:
    down, first = report.down, report.first_failure
    return {
        "host": report.host,
        "service": report.service,
        "availability_percent": down.percent,
        "availability_from_first_failure_percent": first.percent,
        "outages": [_outage(outage) for outage in down.outages],
        "outages_from_first_failure": [_outage(outage) for outage in first.outages],
        "observed_seconds": round(down.observed_seconds),
        "maintenance_seconds": round(down.maintenance_seconds),
        "degraded_percent": down.degraded_percent,
        "warning_tests": report.warning_tests,
        "tests": report.tests,
        "failed_tests": report.failed_tests,
        "mttr_seconds": _round(down.mttr_seconds),
        "mtbf_seconds": _round(down.mtbf_seconds),
        "phases": report.phases,
        "phases_per_day": report.phases_per_day,
        "addresses": report.addresses,
    }


def to_json(report: Report) -> str:
    data = {
        "since": iso(report.since),
        "until": iso(report.until),
        "timezone": report.timezone,  # of phases_per_day's days; times stay UTC
        "warning_is_down": report.warning_is_down,
        "target_percent": report.target,
        "availability_percent": report.overall(),
        "services": [_service(service) for service in report.services],
    }
    return json.dumps(data, indent=1) + "\n"


CSV_FIELDS = (
    "record",
    "host",
    "service",
    "day",
    "address",
    "label",
    "p50",
    "p95",
    "p99",
    "start",
    "end",
    "seconds",
    "availability_percent",
    "availability_from_first_failure_percent",
    "degraded_percent",
    "maintenance_seconds",
    "mttr_seconds",
    "mtbf_seconds",
    "tests",
    "failed_tests",
)


def _cell(text: str) -> str:
    """A name a spreadsheet must not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(service: ServiceReport) -> list[dict[str, Any]]:
    base = {"host": _cell(service.host), "service": _cell(service.service)}
    down: Availability = service.down
    rows: list[dict[str, Any]] = [
        {
            **base,
            "record": "service",
            "availability_percent": down.percent,
            "availability_from_first_failure_percent": service.first_failure.percent,
            "degraded_percent": down.degraded_percent,
            "maintenance_seconds": round(down.maintenance_seconds),
            "mttr_seconds": _round(down.mttr_seconds),
            "mtbf_seconds": _round(down.mtbf_seconds),
            "seconds": round(down.observed_seconds),
            "tests": service.tests,
            "failed_tests": service.failed_tests,
        }
    ]
    first = service.first_failure.outages
    for kind, found in (("outage", down.outages), ("outage_first_failure", first)):
        for outage in found:
            rows.append({**base, "record": kind, **_outage(outage)})
    for label, figures in service.phases.items():
        rows.append({**base, "record": "phase", "label": label, **figures})
    for date, phases in service.phases_per_day.items():
        for label, figures in phases.items():
            rows.append({**base, "record": "phase_day", "day": date, "label": label, **figures})
    for address, phases in service.addresses.items():
        for label, figures in phases.items():
            rows.append(
                {**base, "record": "address", "address": address, "label": label, **figures}
            )
    return rows


def to_csv(report: Report) -> str:
    """One table: `record` says what a row is (service, outage, phase, phase_day, address)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for service in report.services:
        writer.writerows(_csv_rows(service))
    return out.getvalue()
