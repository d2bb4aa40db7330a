"""Response-time percentiles, by the nearest-rank method.

Nearest rank returns a value that was measured (no interpolation between
two tests), so a report's p99 can be found in the perfdata it came from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LEVELS = (50, 95, 99)


def nearest_rank(ordered: Sequence[float], level: float) -> float:
    """The smallest value with at least `level` percent of values at or below it."""
    rank = max(1, math.ceil(level / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """{'p50': ..., 'p95': ..., 'p99': ...} in seconds; `values` must not be empty."""
    ordered = sorted(values)
    return {f"p{level}": round(nearest_rank(ordered, level), 6) for level in LEVELS}
