"""Event representations for networks: EventHPE event frames, voxel grids, time surfaces; windows.

Events are structured arrays of :data:`CD_EVENT_DTYPE` (x, y, t in ns, p in {0 = OFF, 1 = ON}),
sorted by time. Accumulation uses ``np.bincount`` on flat pixel indices (no ``np.add.at``).

EventHPE frames (Zou et al., ICCV 2021; facts read from the official JimmyZou/EventHPE code):

* the events between two consecutive gray frames are cut into 4 partitions of equal duration
  from the first to the last event time (partition i holds ``start + i w <= t < start + (i+1) w``,
  so the very last event falls in no partition); each partition is a binary occupancy image,
  polarity ignored;
* the image is zero-padded on its shorter side to a square (CeleX-V 1280 x 800: 240 columns on
  each side) and resized to 256 x 256 with nearest-neighbour sampling as OpenCV's INTER_NEAREST
  does (output pixel j reads input ``floor(j * in / out)``);
* the official pre-processing also rotates the CeleX stream by 180 degrees (``v = h-1-v``,
  ``u = w-1-u``); :class:`EventHPEFrameConfig` ``rotate_180`` reproduces it for that data;
* the partitions of the gray-frame intervals of one step are stacked (2 intervals x 4 = 8) and,
  when there are more than 8, OR-pooled into 8 channels of ``C // 8`` consecutive partitions
  each, the last channel also taking the remainder.
"""

from __future__ import annotations

from collections import deque
from dataclasses import astuple, dataclass

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.base import EventWindow

CD_EVENT_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "i1")])
TRIGGER_EVENT_DTYPE = np.dtype([("t", "<i8"), ("p", "i1"), ("id", "u1")])


def empty_events() -> np.ndarray:
    return np.empty(0, CD_EVENT_DTYPE)


# numpy copies packed structured records field by field (~15 ns per event); as opaque records of
# the same size they are copied as bytes, ~10x faster. Windows are cut from every packet's events.
def _as_records(events: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(events).view(np.dtype((np.void, events.dtype.itemsize)))


def concatenate_events(parts: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate(parts)`` for 1-D arrays of one structured dtype, copied as bytes."""
    dtype = parts[0].dtype
    if any(part.dtype != dtype for part in parts):
        return np.concatenate(parts)
    return np.concatenate([_as_records(part) for part in parts]).view(dtype)


def take_events(events: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``events[index]`` (an integer or boolean index) for a 1-D structured array, copied as bytes."""
    return _as_records(events)[index].view(events.dtype)


def _flat_index(events: np.ndarray, height: int, width: int) -> np.ndarray:
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    if x.size and (x.max() >= width or y.max() >= height):
        raise ValueError(f"events outside the {width} x {height} sensor")
    return y * width + x


# --------------------------------------------------------------------------- EventHPE frames


@dataclass(frozen=True)
class EventHPEFrameConfig:
    """EventHPE's event-frame settings (defaults: the official ones)."""

    partitions_per_interval: int = 4
    channels: int = 8
    out_size: int = 256
    rotate_180: bool = False  # the official CeleX data is rotated by 180 degrees


def partition_occupancy(events: np.ndarray, height: int, width: int, partitions: int = 4) -> np.ndarray:
    """(partitions, H, W) uint8 binary occupancy of equal-duration partitions, first to last event."""
    out = np.zeros((partitions, height * width), np.uint8)
    if events.size == 0:
        return out.reshape(partitions, height, width)
    t = events["t"] - events["t"][0]  # relative: float64 keeps ns exact
    window = float(t[-1]) / partitions
    edges = np.arange(partitions + 1) * window
    part = np.searchsorted(edges, t.astype(np.float64), side="right") - 1
    inside = (part >= 0) & (part < partitions)
    flat = part[inside] * (height * width) + _flat_index(events[inside], height, width)
    out.reshape(-1)[flat] = 1  # per event, not per pixel: a window's events cover a few % of them
    return out.reshape(partitions, height, width)


def _nearest_source_index(in_size: int, out_size: int) -> np.ndarray:
    """OpenCV INTER_NEAREST: output j reads input floor(j * (1 / (out / in)))."""
    scale = 1.0 / (out_size / in_size)
    return np.minimum(np.floor(np.arange(out_size) * scale).astype(np.int64), in_size - 1)


def pad_square_resize_nearest(frames: np.ndarray, out_size: int = 256) -> np.ndarray:
    """Zero-pad (C, H, W) on the shorter side to a square (extra pixel of an odd pad at the end),
    then nearest-resize to (C, out_size, out_size)."""
    _, height, width = frames.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    src = _nearest_source_index(side, out_size)
    rows, cols = src - top, src - left
    row_ok = (rows >= 0) & (rows < height)
    col_ok = (cols >= 0) & (cols < width)
    out = np.zeros((frames.shape[0], out_size, out_size), frames.dtype)
    # the padding is a border, so the output pixels that read the frames form one block
    out_rows, out_cols = np.flatnonzero(row_ok), np.flatnonzero(col_ok)
    if out_rows.size and out_cols.size:
        block = frames.take(rows[row_ok], axis=1).take(cols[col_ok], axis=2)  # an axis at a time: cheaper
        out[:, out_rows[0] : out_rows[-1] + 1, out_cols[0] : out_cols[-1] + 1] = block
    return out


def or_pool_channels(frames: np.ndarray, channels: int = 8) -> np.ndarray:
    """OR-pool (C, H, W) binary frames into ``channels`` groups of C // channels (last takes the rest)."""
    count = frames.shape[0]
    if count < channels:
        raise ValueError(f"need at least {channels} partitions to make {channels} channels, got {count}")
    if count == channels:
        return (frames > 0).astype(np.float32)
    group = count // channels
    starts = group * np.arange(channels)
    summed = np.add.reduceat(frames.astype(np.int32), starts, axis=0)  # last group runs to the end
    return (summed > 0).astype(np.float32)


def eventhpe_frames(
    intervals: list[np.ndarray], height: int, width: int, config: EventHPEFrameConfig | None = None
) -> np.ndarray:
    """EventHPE input for one step: events of each gray-frame interval -> (channels, S, S) float32."""
    config = config or EventHPEFrameConfig()
    stacks = []
    for events in intervals:
        if config.rotate_180 and events.size:
            events = events.copy()
            events["x"] = width - 1 - events["x"]
            events["y"] = height - 1 - events["y"]
        stacks.append(partition_occupancy(events, height, width, config.partitions_per_interval))
    frames = pad_square_resize_nearest(np.concatenate(stacks, axis=0), config.out_size)
    return or_pool_channels(frames, config.channels)


# --------------------------------------------------------------------------- voxel grid, time surface


def voxel_grid(
    events: np.ndarray, num_bins: int, height: int, width: int, normalize: bool = False
) -> np.ndarray:
    """(num_bins, H, W) float32 voxel grid, bilinear in time (EV-FlowNet / E2VID).

    Times map linearly to [0, num_bins - 1] from the first to the last event; an event at t*
    adds its polarity (+1 ON, -1 OFF) times ``1 - |t* - b|`` to the two nearest bins b.
    ``normalize`` scales the non-zero cells to zero mean and unit standard deviation, as E2VID does.
    """
    cells = height * width
    flat: np.ndarray = np.zeros(num_bins * cells, np.float64)
    if events.size:
        t = (events["t"] - events["t"][0]).astype(np.float64)
        span = t[-1] if t[-1] > 0 else 1.0
        t_star = t * ((num_bins - 1) / span)
        left = np.floor(t_star).astype(np.int64)
        frac = t_star - left
        polarity = events["p"].astype(np.float64) * 2.0 - 1.0
        pixel = _flat_index(events, height, width)
        right_ok = left + 1 < num_bins
        index = np.concatenate([left * cells + pixel, (left[right_ok] + 1) * cells + pixel[right_ok]])
        weight = np.concatenate([polarity * (1.0 - frac), (polarity * frac)[right_ok]])
        flat = np.bincount(index, weights=weight, minlength=num_bins * cells)
    grid = flat.reshape(num_bins, height, width).astype(np.float32)
    if normalize:
        nonzero = grid != 0
        if nonzero.any():
            values = grid[nonzero]
            std = values.std()
            grid[nonzero] = (values - values.mean()) / (std if std > 0 else 1.0)
    return grid


def event_count_image(events: np.ndarray, height: int, width: int) -> np.ndarray:
    """(2, H, W) float32 event counts per pixel: channel 0 OFF, channel 1 ON."""
    index = events["p"].astype(np.int64) * (height * width) + _flat_index(events, height, width)
    return np.bincount(index, minlength=2 * height * width).reshape(2, height, width).astype(np.float32)


def time_surface(
    events: np.ndarray, height: int, width: int, tau_ns: float = 50e6, t_ref_ns: int | None = None,
    split_polarity: bool = True,
) -> np.ndarray:
    """Exponentially decaying time surface: exp(-(t_ref - t_last) / tau) per pixel, 0 where no event.

    (2, H, W) (OFF, ON) with ``split_polarity``, else (1, H, W); ``t_ref_ns`` defaults to the last
    event time.
    """
    planes = 2 if split_polarity else 1
    out = np.zeros(planes * height * width, np.float32)
    if events.size == 0:
        return out.reshape(planes, height, width)
    t_ref = int(events["t"][-1]) if t_ref_ns is None else int(t_ref_ns)
    index = _flat_index(events, height, width)
    if split_polarity:
        index = index + events["p"].astype(np.int64) * (height * width)
    # last event per cell: events are time-sorted, so the last occurrence of each index
    last_first, position = np.unique(index[::-1], return_index=True)
    t_last = events["t"][::-1][position]
    out[last_first] = np.exp(-(t_ref - t_last).astype(np.float64) / tau_ns)
    return out.reshape(planes, height, width)


# --------------------------------------------------------------------------- windows, gray frames


class GrayFrameBuffer:
    """The latest gray (intensity) frames of a camera, to pair with event windows by time."""

    def __init__(self, capacity: int = 64, max_gap_ns: int | None = None) -> None:
        self.frames: deque[tuple[int, np.ndarray]] = deque(maxlen=capacity)
        self.max_gap_ns = max_gap_ns

    def add(self, stamp_ns: int, image: np.ndarray) -> None:
        self.frames.append((int(stamp_ns), image))

    def nearest(self, stamp_ns: int) -> tuple[int, np.ndarray] | None:
        """The buffered frame nearest in time (within ``max_gap_ns`` when set), or None."""
        if not self.frames:
            return None
        stamps = np.fromiter((s for s, _ in self.frames), np.int64, len(self.frames))
        k = int(np.argmin(np.abs(stamps - stamp_ns)))
        if self.max_gap_ns is not None and abs(int(stamps[k]) - stamp_ns) > self.max_gap_ns:
            return None
        return self.frames[k]


# A step forward larger than this between consecutive events (a driver clock set while streaming,
# a bag with a pause, a garbage stamp) or backward larger than this behind the open window (a
# clock reset, a bag played again) starts a new window grid at the new events.
MAX_FORWARD_GAP_NS = 10_000_000_000
MAX_BACKWARD_NS = 1_000_000_000
_FEW_WINDOWS = 64  # more windows completing at once are found from the events' window indices


@dataclass
class WindowerCounts:
    """What an :class:`EventWindower` did with its events, for diagnostics (all running totals)."""

    events_in: int = 0  # events given to add()
    windowed: int = 0  # events handed out in windows (add and flush)
    late: int = 0  # events older than the open window (by less than the backward bound): dropped
    resyncs: int = 0  # new window grids started after a jump in time
    discarded: int = 0  # pending events thrown away by discard()

    def __add__(self, other: WindowerCounts) -> WindowerCounts:
        return WindowerCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


class EventWindower:
    """Accumulates decoded events and emits :class:`EventWindow` s by duration or by event count.

    Time windows are ``[t0 + k d, t0 + (k + 1) d)`` from the first event of the grid, stamped with
    their end; a window is emitted once an event at or after its end arrives (empty windows are
    skipped). Count windows hold ``count`` events each and are stamped with their last event.

    Work and memory follow the number of events, never the time they span: a packet is sorted
    by time if it is not already, and a step forward of more than ``max_forward_gap_ns`` between
    consecutive events, or events more than ``max_backward_ns`` older than the open window, end
    the open window (emitted as :meth:`flush` would) and start a new grid at the new events
    (counted in ``counts.resyncs``). Events older than the open window by less than that
    (out-of-order packets) are dropped and counted in ``counts.late``.
    """

    def __init__(self, width: int, height: int, *, duration_ns: int | None = None, count: int | None = None,
                 frame_id: str = "", camera: CameraModel | None = None,
                 gray: GrayFrameBuffer | None = None, max_forward_gap_ns: int = MAX_FORWARD_GAP_NS,
                 max_backward_ns: int = MAX_BACKWARD_NS) -> None:
        if (duration_ns is None) == (count is None):
            raise ValueError("give exactly one of duration_ns and count")
        if (duration_ns is not None and duration_ns <= 0) or (count is not None and count <= 0):
            raise ValueError("window duration / count must be positive")
        if max_forward_gap_ns <= 0 or max_backward_ns < 0:
            raise ValueError("max_forward_gap_ns must be positive and max_backward_ns >= 0")
        self.width, self.height = width, height
        self.duration_ns, self.count = duration_ns, count
        self.frame_id, self.camera, self.gray = frame_id, camera, gray
        self.max_forward_gap_ns, self.max_backward_ns = int(max_forward_gap_ns), int(max_backward_ns)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0
        self._window_start: int | None = None  # time windows: start of the open window
        self._last_t: int | None = None  # newest event accepted
        self._unsorted = False  # the pending events are out of time order (sorted when cut)
        self.counts = WindowerCounts()

    @property
    def late(self) -> int:
        return self.counts.late

    @property
    def pending(self) -> int:
        """Events waiting for their window to complete."""
        return self._pending_size

    @property
    def newest_ns(self) -> int | None:
        """Time of the newest event accepted (None: none since the start or the last resync)."""
        return self._last_t

    @property
    def open_window_end_ns(self) -> int | None:
        """End of the open time window (None: count windows, or no window open yet)."""
        if self.duration_ns is None or self._window_start is None:
            return None
        return self._window_start + self.duration_ns

    def _window(self, events: np.ndarray, stamp_ns: int) -> EventWindow:
        self.counts.windowed += events.size
        gray = self.gray.nearest(stamp_ns) if self.gray is not None else None
        return EventWindow(events=events, width=self.width, height=self.height, stamp_ns=int(stamp_ns),
                           frame_id=self.frame_id, camera=self.camera,
                           gray=None if gray is None else gray[1])

    def add(self, events: np.ndarray) -> list[EventWindow]:
        """Add one packet's events; returns the windows they complete, oldest first."""
        if events.size == 0:
            return []
        self.counts.events_in += events.size
        t = np.array(events["t"])  # contiguous: the strided field is read once
        steps = t[1:] - t[:-1]
        if steps.size and steps.min() < 0:
            order = np.argsort(t, kind="stable")
            events, t = take_events(events, order), t[order]
            steps = t[1:] - t[:-1]
        windows: list[EventWindow] = []
        if self._last_t is not None:
            # the oldest event still wanted: the open window's start (time) or the newest event (count)
            floor = self._window_start if self._window_start is not None else self._last_t
            if int(t[0]) < floor - self.max_backward_ns:
                windows += self._resync()
            else:
                late = int(np.searchsorted(t, floor, side="left"))
                if late:
                    self.counts.late += late
                    events, t, steps = events[late:], t[late:], steps[late:]
                    if events.size == 0:
                        return windows
        # cut where consecutive events (the newest accepted one included) step further than the bound
        gap = self.max_forward_gap_ns
        cuts = np.flatnonzero(steps > gap) + 1 if steps.size and steps.max() > gap else np.empty(0, np.intp)
        if self._last_t is not None and int(t[0]) - self._last_t > self.max_forward_gap_ns:
            cuts = np.r_[0, cuts]
        segments = np.split(events, cuts) if cuts.size else [events]
        for index, segment in enumerate(segments):  # only the first can be empty
            if index:
                windows += self._resync()
            if segment.size:
                add = self._add_by_count if self.count is not None else self._add_by_time
                windows += add(segment)
        return windows

    def _resync(self) -> list[EventWindow]:
        """End the open window and the grid: the next events start a new one."""
        last = self.flush()
        self._window_start = self._last_t = None
        self.counts.resyncs += 1
        return [] if last is None else [last]

    def _add_by_time(self, events: np.ndarray) -> list[EventWindow]:
        duration = self.duration_ns
        assert duration is not None  # add() calls this for time windows only
        t = events["t"]
        if self._window_start is None:
            self._window_start = int(t[0])
        newest = int(t[-1])
        self._unsorted |= self._last_t is not None and int(t[0]) < self._last_t
        self._last_t = newest if self._last_t is None else max(self._last_t, newest)
        self._pending.append(events)
        self._pending_size += events.size
        if self._last_t < self._window_start + duration:
            return []
        buffer = self._take_pending()
        closing = (self._last_t - self._window_start) // duration  # windows now complete
        if closing <= _FEW_WINDOWS:
            return self._cut_few(buffer, closing)
        # window index of every event; only the windows that hold events are ever made
        index = (buffer["t"] - self._window_start) // duration
        open_index = int(index[-1])
        cut = int(np.searchsorted(index, open_index, side="left"))
        closed = index[:cut]
        bounds = np.flatnonzero(np.diff(closed)) + 1
        chunks = np.split(buffer[:cut], bounds) if cut else []
        firsts: np.ndarray | list[int] = closed[np.r_[0, bounds]] if cut else []
        windows = [self._window(chunk, self._window_start + (int(k) + 1) * duration)
                   for chunk, k in zip(chunks, firsts, strict=True)]
        self._window_start += open_index * duration
        rest = buffer[cut:]
        self._pending, self._pending_size = [rest], rest.size
        return windows

    def _cut_few(self, buffer: np.ndarray, closing: int) -> list[EventWindow]:
        """The usual case, a few windows complete: cut at their ends."""
        window_start, duration = self._window_start, self.duration_ns
        assert window_start is not None and duration is not None  # time windows, one open
        ends = window_start + duration * np.arange(1, closing + 1, dtype=np.int64)
        cuts = np.searchsorted(buffer["t"], ends, side="left")
        windows, begin = [], 0
        for end_ns, cut in zip(ends.tolist(), cuts.tolist(), strict=True):
            if cut > begin:
                windows.append(self._window(buffer[begin:cut], end_ns))
            begin = cut
        self._window_start = int(ends[-1])
        rest = buffer[begin:]
        self._pending, self._pending_size = [rest], rest.size
        return windows

    def _add_by_count(self, events: np.ndarray) -> list[EventWindow]:
        count = self.count
        assert count is not None  # add() calls this for count windows only
        self._last_t = int(events["t"][-1])  # add() dropped anything older than the newest event
        self._pending.append(events)
        self._pending_size += events.size
        if self._pending_size < count:
            return []
        buffer = concatenate_events(self._pending)
        full = buffer.size // count
        windows = [self._window(chunk, int(chunk["t"][-1]))
                   for chunk in np.split(buffer[: full * count], full)]
        rest = buffer[full * count:]
        self._pending, self._pending_size = ([rest], rest.size) if rest.size else ([], 0)
        return windows

    def _take_pending(self) -> np.ndarray:
        """All pending events, in time order; the pending list is left empty."""
        buffer = concatenate_events(self._pending) if len(self._pending) > 1 else self._pending[0]
        if self._unsorted:
            buffer = take_events(buffer, np.argsort(buffer["t"], kind="stable"))
            self._unsorted = False
        self._pending, self._pending_size = [], 0
        return buffer

    def flush(self) -> EventWindow | None:
        """The events still pending as a last (partial) window, or None."""
        if not self._pending_size:
            return None
        buffer = self._take_pending()
        if self.count is not None or self._window_start is None:
            stamp = int(buffer["t"][-1])
        else:
            assert self.duration_ns is not None  # time windows
            stamp = self._window_start + self.duration_ns
            self._window_start = stamp
        return self._window(buffer, stamp)

    def discard(self) -> int:
        """Throw the pending events away (counted in ``counts.discarded``); returns how many."""
        dropped = self._pending_size
        self.counts.discarded += dropped
        self._pending, self._pending_size, self._unsorted = [], 0, False
        return dropped
