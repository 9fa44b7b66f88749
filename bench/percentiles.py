"""Percentiles of timed samples, as every benchmark reports them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: int) -> float:
    """The inclusive `pct`th percentile (with few samples, p99 is close to the maximum)."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]
