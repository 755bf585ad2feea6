"""Small helpers shared by the benchmark parts: latency summaries and timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np


def summarize(values_ms: Iterable[float]) -> dict[str, float]:
    """n, p50 (median), p95, p99, mean and min of a list of milliseconds, rounded for the report."""
    values = np.asarray(list(values_ms), dtype=np.float64)
    if values.size == 0:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "min": 0.0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": int(values.size),
        "p50": _round(p50),
        "p95": _round(p95),
        "p99": _round(p99),
        "mean": _round(values.mean()),
        "min": _round(values.min()),
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator > 0 else None


def time_ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _round(x: float) -> float:
    x = float(x)
    return round(x, 3) if abs(x) < 10 else round(x, 2)
