"""Wall-clock timing shared by the benchmarks (each is run as ``python benchmarks/<name>.py``): the
package's helpers, which ``hpe-ros bench`` uses too."""

from __future__ import annotations

from hpe_ros.evaluation.bench.timing import best_time, call_times, median_time

__all__ = ["best_time", "call_times", "median_time"]
