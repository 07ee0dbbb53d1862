"""Wall-clock timing shared by the benchmarks (each is run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def call_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of ``repeats`` back-to-back calls of ``fn`` took."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(call_times(fn, repeats))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    return min(call_times(fn, repeats))
