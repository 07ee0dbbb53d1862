"""One event topic in, event windows out: the decoder and the windower the node and ``process`` share.

:class:`EventStream` decodes each message in order (:class:`~hpe_ros.io.events.EventPacketDecoder`)
and cuts the events into windows (:class:`~hpe_ros.pipelines.events.representations.EventWindower`). A change
of sensor size ends the open window and starts a new windower; a CameraInfo of another size
than the events is not attached to their windows (counted). :meth:`EventStream.counts` sums what
was dropped on the way, for ``/diagnostics`` and the ``process`` report.
"""

from __future__ import annotations

from typing import Any, Literal

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.events import EventPacketDecoder
from hpe_ros.pipelines.base import EventWindow
from hpe_ros.pipelines.events.representations import EventWindower, GrayFrameBuffer, WindowerCounts

__all__ = ["MAX_WINDOW_EVENTS", "MAX_WINDOW_MS", "EventStream", "window_settings_problem"]

MAX_WINDOW_MS = 60_000.0  # a minute of events in one window
MAX_WINDOW_EVENTS = 100_000_000


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

    def configure(self, window_ms: float, window_events: int, frame_id: str = "") -> None:
        """Window settings for the windowers made from now on (ValueError when unusable)."""
        problem = window_settings_problem(window_ms, window_events)
        if problem:
            raise ValueError(problem)
        self.window_events, self.window_ms = int(window_events), float(window_ms)
        self.frame_id = frame_id  # overrides the messages' frame_id when set

    def push(self, msg: Any) -> list[EventWindow]:
        """The windows that ``msg``'s events complete (a change of sensor size also ends the open one)."""
        events = self.decoder.decode(msg).cd
        size = (int(msg.width), int(msg.height))  # checked by the decoder
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
        return windows + self.windower.add(events)

    def finish(self) -> list[EventWindow]:
        """The last, partial window (end of a bag)."""
        last = self.windower.flush() if self.windower is not None else None
        return [] if last is None else [last]

    def discard(self) -> int:
        """Throw the open window's events away (counted); returns how many."""
        return self.windower.discard() if self.windower is not None else 0

    def reset(self) -> None:
        """A new stream (the node is activated again): state goes, counts stay."""
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
