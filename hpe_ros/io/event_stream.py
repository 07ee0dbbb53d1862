"""One event topic in, event windows out: the decoder and the windower the node and ``process`` share.

:class:`EventStream` decodes each message in order (:class:`~hpe_ros.io.events.EventPacketDecoder`)
and cuts the events into windows (:class:`~hpe_ros.pipelines.events.representations.EventWindower`). A change
of sensor size ends the open window and starts a new windower; a CameraInfo of another size
than the events is not attached to their windows (counted). :meth:`EventStream.counts` sums what
was dropped on the way, for ``/diagnostics`` and the ``process`` report.

Messages go in one at a time (:meth:`EventStream.push`: decoded at once) or in batches
(:meth:`EventStream.queue`, no decoding, then :meth:`EventStream.flush` when it says a window is
probably due: all queued packets decoded in one compiled call and windowed together). Both give
the same events, counts and windows (a batch whose events are not in time order is windowed
message by message, as ``push`` would).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.events import DecodedBatch, EventDecodeError, EventPacketDecoder
from hpe_ros.pipelines.base import EventWindow
from hpe_ros.pipelines.events.representations import EventWindower, GrayFrameBuffer, WindowerCounts

__all__ = ["BATCH_MAX_BYTES", "BATCH_MAX_PACKETS", "BATCH_MAX_WAIT_S", "MAX_WINDOW_EVENTS", "MAX_WINDOW_MS",
           "EventStream", "StreamBatch", "window_settings_problem"]

MAX_WINDOW_MS = 60_000.0  # a minute of events in one window
MAX_WINDOW_EVENTS = 100_000_000
# A batch is decoded at the latest at this size: one flush stays short (~10-20 ms at 1 MiB), so a
# subscription queue of 1000 packets does not overflow behind it while it runs.
BATCH_MAX_BYTES = 1 << 20
BATCH_MAX_PACKETS = 256
# Queued packets older than this (wall time) are due (see EventStream.stale): a paused stream.
BATCH_MAX_WAIT_S = 0.025
_COUNT_WINDOW_SPAN_NS = 50_000_000  # batch stamp span for count windows (time windows: their duration)


@dataclass
class StreamBatch:
    """What :meth:`EventStream.flush` made of the queued messages."""

    windows: list[EventWindow] = field(default_factory=list)  # completed, oldest first
    rejected: list[tuple[Any, EventDecodeError]] = field(default_factory=list)  # (message, why), in order
    messages: int = 0  # messages decoded


def window_settings_problem(window_ms: float, window_events: int) -> str:
    """Why these window settings are unusable ('' when they are)."""
    if not (isinstance(window_events, int) and 0 <= window_events <= MAX_WINDOW_EVENTS):
        return (f"window_events must be an integer 0..{MAX_WINDOW_EVENTS} (0: windows by time), "
                f"got {window_events!r}")
    if not window_events and not (isinstance(window_ms, float | int) and 0.001 <= window_ms <= MAX_WINDOW_MS):
        return f"window_ms must be 0.001..{MAX_WINDOW_MS:g} ms, got {window_ms!r}"
    return ""


class EventStream:
    """Event messages of one camera, in order -> :class:`EventWindow` s (by duration or by count).

    :meth:`push` raises :class:`~hpe_ros.io.events.EventDecodeError` for a message to skip; the
    stream goes on with the next one.
    """

    def __init__(self, *, window_ms: float = 50.0, window_events: int = 0, frame_id: str = "",
                 time_reference: Literal["ros", "sensor"] = "ros",
                 gray: GrayFrameBuffer | None = None) -> None:
        self.decoder = EventPacketDecoder(time_reference)
        self.configure(window_ms, window_events, frame_id)
        self.gray = gray
        self.windower: EventWindower | None = None
        self._camera: CameraModel | None = None
        self._retired = WindowerCounts()  # of the windowers replaced so far
        self.size_changes = 0
        self.intrinsics_ignored = 0  # CameraInfo of another size than the events
        # queued messages (queue / flush): appended under _queue_lock, decoded under _decode_lock
        self._queue_lock, self._decode_lock = threading.Lock(), threading.Lock()
        self._queued: list[Any] = []
        self._queued_bytes = 0
        self._first_stamp: int | None = None  # of the first queued message
        self._first_queued = 0.0  # monotonic time it was queued
        self._lag_ns = 0  # stamp - time of the last event, for the last batch's last message
        self._next_due_ns: int | None = None  # no window-end flush before this stamp
        self._events_per_byte = 0.5

    def configure(self, window_ms: float, window_events: int, frame_id: str = "") -> None:
        """Window settings for the windowers made from now on (ValueError when unusable)."""
        problem = window_settings_problem(window_ms, window_events)
        if problem:
            raise ValueError(problem)
        self.window_events, self.window_ms = int(window_events), float(window_ms)
        self.frame_id = frame_id  # overrides the messages' frame_id when set

    def push(self, msg: Any) -> list[EventWindow]:
        """The windows that ``msg``'s events complete (a change of sensor size also ends the open one).

        Decodes ``msg`` at once (queued messages first: the stream stays in order); raises
        :class:`~hpe_ros.io.events.EventDecodeError` for a message to skip."""
        earlier = self.flush().windows if self._queued else []
        with self._decode_lock:
            events = self.decoder.decode(msg).cd
            windows = earlier + self._windower_for((int(msg.width), int(msg.height)), msg)  # size checked
            return windows + self._windower().add(events)

    def queue(self, msg: Any) -> bool:
        """Keep ``msg`` for the next :meth:`flush` (nothing is decoded here; any thread may call this,
        also while a flush runs). Returns whether a flush is due: a window has probably completed
        (the message's stamp is past the open window's end, by the stamp-to-event lag seen last),
        the queued stamps span a window or go back, or the batch is full."""
        stamp = _stamp_ns(msg)
        try:
            n_bytes = len(msg.events)
        except Exception:  # decoding will say what is wrong with it
            n_bytes = 0
        with self._queue_lock:
            self._queued.append(msg)
            self._queued_bytes += n_bytes
            if len(self._queued) == 1:
                self._first_stamp, self._first_queued = stamp, time.monotonic()
            return self._due(stamp)

    def _due(self, stamp: int | None) -> bool:
        windower, first = self.windower, self._first_stamp
        if (windower is None or stamp is None or first is None or len(self._queued) >= BATCH_MAX_PACKETS
                or self._queued_bytes >= BATCH_MAX_BYTES):
            return True
        span = _COUNT_WINDOW_SPAN_NS if windower.count is not None else int(windower.duration_ns or 0)
        if not 0 <= stamp - first < span:
            return True
        if windower.count is not None:
            return self._queued_bytes * self._events_per_byte >= windower.count - windower.pending
        end = windower.open_window_end_ns
        if end is None:
            return False  # nothing pending: the span above decides
        return stamp - self._lag_ns >= end and (self._next_due_ns is None or stamp >= self._next_due_ns)

    def stale(self, max_wait_s: float = BATCH_MAX_WAIT_S) -> bool:
        """Whether messages have waited in the queue for ``max_wait_s`` or more (flush them: the
        stream has paused, or runs slower than its windows)."""
        with self._queue_lock:
            return bool(self._queued) and time.monotonic() - self._first_queued >= max_wait_s

    @property
    def queued(self) -> int:
        """Messages queued, not decoded yet."""
        return len(self._queued)

    def flush(self) -> StreamBatch:
        """Decode the queued messages in one batch and window their events: the same events, counts
        and windows as :meth:`push` for each, the messages that could not be decoded in ``rejected``
        (their neighbours are decoded as usual)."""
        with self._decode_lock:
            with self._queue_lock:
                messages, n_bytes = self._queued, self._queued_bytes
                self._queued, self._queued_bytes, self._first_stamp = [], 0, None
            if not messages:
                return StreamBatch()
            batch = self.decoder.decode_batch(messages)
            windows = self._window_batch(messages, batch)
            if batch.cd.size:
                last_stamp = _stamp_ns(messages[int(batch.cd_ends.searchsorted(batch.cd.size))])
                self._lag_ns = 0 if last_stamp is None else last_stamp - int(batch.cd["t"][-1])
                windower = self.windower
                if windower is not None and windower.duration_ns is not None and last_stamp is not None:
                    self._next_due_ns = last_stamp + windower.duration_ns // 8  # no flush per packet
                if n_bytes:
                    self._events_per_byte = batch.cd.size / n_bytes
            rejected = [(messages[index], error) for index, error in sorted(batch.errors.items())]
            return StreamBatch(windows, rejected, len(messages))

    def _window_batch(self, messages: list[Any], batch: DecodedBatch) -> list[EventWindow]:
        """Windows of a decoded batch: one run per sensor size, added at once when in time order."""
        good = [index for index in range(len(messages)) if index not in batch.errors] if batch.errors \
            else range(len(messages))
        if not good:
            return []
        if batch.size is not None:
            runs = [(good[0], len(messages), batch.size)]
        else:  # sizes change within the batch
            runs = []
            for index in good:
                size = (int(messages[index].width), int(messages[index].height))
                if runs and runs[-1][2] == size:
                    runs[-1] = (runs[-1][0], index + 1, size)
                else:
                    runs.append((index, index + 1, size))
        windows: list[EventWindow] = []
        for start, stop, size in runs:
            windows += self._windower_for(size, messages[start])
            windows += self._add_run(batch, start, stop)
        return windows

    def _add_run(self, batch: DecodedBatch, start: int, stop: int) -> list[EventWindow]:
        """Messages ``start``..``stop - 1`` into the windower: as one array where that is exactly
        what adding them one by one does (time-sorted events, none older than the windower's
        newest), else in such pieces, down to one message."""
        windower = self._windower()
        if stop - start == 1:
            return windower.add(batch.cd_of(start, stop))
        own_sorted, in_order, all_in_order = batch.order()
        windows: list[EventWindow] = []
        head = start
        while head < stop:
            end = head + 1
            events = batch.cd_of(head, end)
            newest = windower.newest_ns
            if events.size and own_sorted[head] and (newest is None or int(events["t"][0]) >= newest):
                if all_in_order:
                    end = stop
                while end < stop and in_order[end]:  # sorted, from the event before it on
                    end += 1
            windows += windower.add(batch.cd_of(head, end))
            head = end
        return windows

    def _windower_for(self, size: tuple[int, int], msg: Any) -> list[EventWindow]:
        """A windower for ``size`` (the one there, or a new one: a size change ends the open window)."""
        windows = []
        if self.windower is not None and (self.windower.width, self.windower.height) != size:
            last = self.windower.flush()
            windows += [] if last is None else [last]
            self.size_changes += 1
            self._retire()
        if self.windower is None:
            count = self.window_events or None
            self.windower = EventWindower(*size, count=count,
                                          duration_ns=None if count else int(self.window_ms * 1e6),
                                          frame_id=self.frame_id or str(msg.header.frame_id),
                                          camera=self._matching_camera(*size), gray=self.gray)
            self._next_due_ns = None
        return windows

    def _windower(self) -> EventWindower:
        assert self.windower is not None  # made by _windower_for
        return self.windower

    def finish(self) -> list[EventWindow]:
        """The queued messages' windows and the last, partial window (end of a bag)."""
        windows = self.flush().windows
        last = self.windower.flush() if self.windower is not None else None
        return windows + ([] if last is None else [last])

    def discard(self) -> int:
        """Throw the open window's events away (counted); returns how many."""
        return self.windower.discard() if self.windower is not None else 0

    def reset(self) -> None:
        """A new stream (the node is activated again): state goes, counts stay (flush first: queued
        messages are dropped)."""
        with self._decode_lock, self._queue_lock:
            self._queued, self._queued_bytes, self._first_stamp = [], 0, None
            self.decoder.reset()
            self._retire()

    @property
    def camera(self) -> CameraModel | None:
        return self._camera

    @camera.setter
    def camera(self, camera: CameraModel | None) -> None:
        self._camera = camera
        if self.windower is not None:
            self.windower.camera = self._matching_camera(self.windower.width, self.windower.height)

    def _matching_camera(self, width: int, height: int) -> CameraModel | None:
        camera = self._camera
        if camera is None or (camera.width, camera.height) == (width, height):
            return camera
        self.intrinsics_ignored += 1
        return None

    def _retire(self) -> None:
        if self.windower is not None:
            self.windower.discard()
            self._retired += self.windower.counts
        self.windower = None

    def windower_counts(self) -> WindowerCounts:
        """The windowers' counts, all of them together."""
        return self._retired + (self.windower.counts if self.windower is not None else WindowerCounts())

    def counts(self) -> dict[str, int]:
        """What happened to the events, as ``/diagnostics`` and ``process`` report it."""
        decoded, windowed = self.decoder.counts, self.windower_counts()
        values = {f"event packets decoded {kind}": n for kind, n in sorted(decoded.packets.items())}
        values.update({
            "events decoded": decoded.events,
            "events dropped (outside the sensor / before the stream state)": decoded.dropped,
            "events late (older than the open window)": windowed.late,
            "window grid resyncs (clock jumps)": windowed.resyncs,
            "events discarded (open window at deactivate)": windowed.discarded,
            "evt3 ROS time re-anchored (stamp jumps)": decoded.reanchored,
            "event packet size changes": self.size_changes,
        })
        if self.intrinsics_ignored:
            values["intrinsics ignored (size mismatch)"] = self.intrinsics_ignored
        return values


def _stamp_ns(msg: Any) -> int | None:
    """The header stamp of ``msg`` in ns, None when it has none (decoding will refuse it)."""
    try:
        stamp = msg.header.stamp
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
