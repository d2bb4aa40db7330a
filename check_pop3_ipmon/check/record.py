"""The check's plain data classes: core.record's, shared with the alerting handler."""

from __future__ import annotations

from check_pop3_ipmon.core.record import Record, field

__all__ = ["Record", "field"]
