"""Health of a running pipeline as ``diagnostic_msgs/DiagnosticArray`` (no diagnostic_updater needed).

:class:`StreamStats` counts what happens to frames (received, processed, dropped because a
newer frame replaced them, dropped as too old, rejected as undecodable, failed in the pipeline,
lost before the callback according to the publisher's sequence numbers) and turns the counts
of the last window into rates and latencies.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import make_header

OK, WARN, ERROR, STALE = 0, 1, 2, 3


@dataclass
class StatsSnapshot:
    """Rates over the window since the previous snapshot, totals since start."""

    window_s: float
    input_hz: float
    output_hz: float
    latency_mean_s: float  # output wall time minus input stamp
    latency_max_s: float
    processing_mean_s: float
    received_total: int
    processed_total: int
    dropped_total: int
    rejected_total: int
    failed_total: int
    last_error: str
    dropped_in_window: int
    rejected_in_window: int
    failed_in_window: int
    rejected_by_kind: dict[str, int] = field(default_factory=dict)  # totals per input type
    lost_total: int = 0  # never reached the callback (gaps in the publisher's sequence numbers)
    lost_in_window: int = 0
    stale_total: int = 0  # older than input.max_age_s when the worker took them
    stale_in_window: int = 0


@dataclass
class StreamStats:
    """Thread-safe counters fed by a node's callbacks and worker."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _received: int = 0
    _processed: int = 0
    _dropped: int = 0
    _rejected: int = 0
    _failed: int = 0
    _last_error: str = ""
    _rejected_by_kind: dict[str, int] = field(default_factory=dict)
    _lost: int = 0
    _stale: int = 0
    _previous_lost_stale: tuple[int, int] = (0, 0)
    _latencies: deque = field(default_factory=lambda: deque(maxlen=1000))
    _processing: deque = field(default_factory=lambda: deque(maxlen=1000))
    _previous: tuple[float, int, int, int, int, int] | None = None

    def received(self) -> None:
        with self._lock:
            self._received += 1

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count

    def rejected(self, reason: str, kind: str = "input") -> None:
        """A bad ``kind`` message (``image``, ``camera_info``, ``event packet`` ...) was skipped."""
        with self._lock:
            self._rejected += 1
            self._rejected_by_kind[kind] = self._rejected_by_kind.get(kind, 0) + 1
            self._last_error = reason

    def lost(self, count: int) -> None:
        """``count`` messages never reached the callback (transport or middleware history)."""
        if count:
            with self._lock:
                self._lost += count

    def stale(self) -> None:
        """A frame was skipped because its stamp was too old when the worker took it."""
        with self._lock:
            self._stale += 1

    def failed(self, reason: str) -> None:
        with self._lock:
            self._failed += 1
            self._last_error = reason

    def processed(self, latency_s: float, processing_s: float) -> None:
        with self._lock:
            self._processed += 1
            self._latencies.append(latency_s)
            self._processing.append(processing_s)

    def snapshot(self, now_s: float) -> StatsSnapshot:
        """Rates since the previous call (or since the first call)."""
        with self._lock:
            counts = (now_s, self._received, self._processed, self._dropped, self._rejected, self._failed)
            previous = self._previous or (now_s, 0, 0, 0, 0, 0)
            self._previous = counts
            latencies = np.array(self._latencies) if self._latencies else np.zeros(1)
            processing = np.array(self._processing) if self._processing else np.zeros(1)
            self._latencies.clear()
            self._processing.clear()
            last_error = self._last_error
            by_kind = dict(self._rejected_by_kind)
            lost_stale, previous_lost_stale = (self._lost, self._stale), self._previous_lost_stale
            self._previous_lost_stale = lost_stale
        window = max(now_s - previous[0], 1e-9)
        delta = [c - p for c, p in zip(counts[1:], previous[1:], strict=True)]
        return StatsSnapshot(
            window_s=now_s - previous[0],
            input_hz=delta[0] / window,
            output_hz=delta[1] / window,
            latency_mean_s=float(latencies.mean()),
            latency_max_s=float(latencies.max()),
            processing_mean_s=float(processing.mean()),
            received_total=counts[1],
            processed_total=counts[2],
            dropped_total=counts[3],
            rejected_total=counts[4],
            failed_total=counts[5],
            last_error=last_error,
            dropped_in_window=delta[2],
            rejected_in_window=delta[3],
            failed_in_window=delta[4],
            rejected_by_kind=by_kind,
            lost_total=lost_stale[0],
            lost_in_window=lost_stale[0] - previous_lost_stale[0],
            stale_total=lost_stale[1],
            stale_in_window=lost_stale[1] - previous_lost_stale[1],
        )


def snapshot_level(snap: StatsSnapshot) -> tuple[int, str]:
    """The status level and one-line message a snapshot deserves."""
    if snap.failed_in_window:
        return ERROR, f"{snap.failed_in_window} frame(s) failed in the pipeline: {snap.last_error}"
    if snap.rejected_in_window:
        return WARN, f"{snap.rejected_in_window} bad input message(s) skipped: {snap.last_error}"
    if snap.lost_in_window:
        return WARN, (f"{snap.lost_in_window} input message(s) lost before the callback in the last "
                      f"{snap.window_s:.1f} s (transport or middleware queue; see docs/reliability.md, "
                      "'Choosing QoS')")
    if snap.stale_in_window:
        return WARN, f"{snap.stale_in_window} frame(s) skipped as older than input.max_age_s"
    if snap.received_total == 0:
        return WARN, "no input received yet"
    if snap.dropped_in_window:
        return OK, f"running; {snap.dropped_in_window} older frame(s) replaced by newer ones"
    return OK, "running"


def diagnostic_array(classes: MessageClasses, name: str, hardware_id: str, snap: StatsSnapshot,
                     stamp_ns: int, extra: dict[str, str] | None = None) -> Any:
    """One ``DiagnosticStatus`` for the stream, wrapped in a ``DiagnosticArray``."""
    level, message = snapshot_level(snap)
    values = {
        "input rate (Hz)": f"{snap.input_hz:.2f}",
        "output rate (Hz)": f"{snap.output_hz:.2f}",
        "latency mean (s)": f"{snap.latency_mean_s:.4f}",
        "latency max (s)": f"{snap.latency_max_s:.4f}",
        "processing mean (s)": f"{snap.processing_mean_s:.4f}",
        "received": str(snap.received_total),
        "processed": str(snap.processed_total),
        "dropped (replaced by newer)": str(snap.dropped_total),
        "dropped (older than max age)": str(snap.stale_total),
        "lost before callback": str(snap.lost_total),
        "rejected (bad input)": str(snap.rejected_total),
        "failed (pipeline error)": str(snap.failed_total),
        **{f"rejected {kind}": str(count) for kind, count in sorted(snap.rejected_by_kind.items())},
        "last error": snap.last_error,
        **(extra or {}),
    }
    key_value = classes.get("diagnostic_msgs/msg/KeyValue")
    status = classes.new(
        "diagnostic_msgs/msg/DiagnosticStatus",
        level=bytes([level]) if _level_is_bytes(classes) else level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[key_value(key=k, value=v) for k, v in values.items()],
    )
    return classes.new("diagnostic_msgs/msg/DiagnosticArray", header=make_header(classes, stamp_ns, ""),
                       status=[status])


def _level_is_bytes(classes: MessageClasses) -> bool:
    # rclpy maps the ``byte`` type to a bytes object of length 1; rosbags to an int
    from hpe_ros.io.message_classes import RclpyMessageClasses

    return isinstance(classes, RclpyMessageClasses)
