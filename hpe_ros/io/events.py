"""Event-camera messages in: EVT 3.0 and ``mono`` packets and DVS arrays to numpy events (and EVT 3.0 out).

Decoded events are structured arrays (:data:`CD_EVENT_DTYPE`, :data:`TRIGGER_EVENT_DTYPE`) with
``t`` in nanoseconds. Which clock ``t`` is on depends on the ``time_reference`` of
:class:`EventPacketDecoder`:

* ``"sensor"``: the camera's own clock. EVT 3.0 carries a 24-bit microsecond counter (TIME_HIGH
  12 bits + TIME_LOW 12 bits) that wraps every 2^24 us (16.8 s); :class:`Evt3Decoder` counts the
  wraps, so sensor time starts between 0 and 16.8 s and then grows without wrapping (as
  ros-event-camera/event_camera_codecs does). ``mono`` sensor time is ``time_base + dt``.
* ``"ros"`` (default): ROS time. ``mono``: ``header.stamp + dt`` (the event_camera_msgs
  definition of the best ROS estimate). EVT 3.0 packets carry no usable ``time_base``, so the
  first packet that holds an event fixes ``offset = header.stamp - (sensor time of its first
  event)`` and every later event gets ``sensor time + offset``. Times then follow the sensor
  clock (monotonic, exact relative timing) and are ROS time up to the first packet's transport
  latency and the host/sensor clock drift since. When a packet's stamp and its first event
  then disagree by more than :data:`EVT3_REANCHOR_NS` (the first stamp came from a driver
  clock not set yet, or the sensor was restarted), the offset is fixed again from that packet
  (counted in ``counts.reanchored``). DVS arrays already carry ROS time stamps.

A packet (or DVS array) that cannot be decoded (odd byte count, unknown encoding, reserved EVT
3.0 word types, a sensor size outside 1..:data:`MAX_SENSOR_SIDE` per side, a time base outside
the +-2^62 ns clock range) raises :class:`EventDecodeError`; a node logs it and goes on with the
next packet. The EVT 3.0 decoder then drops its row, vector and time state (keeping the last
TIME_HIGH for wrap detection), so no event is stamped or placed with stale state: decoding
resumes once the stream has sent a TIME_HIGH, a TIME_LOW and an ADDR_Y again. Events of a packet
that decodes but lie outside its sensor (or, in EVT 3.0, come before the stream has told their
row and time) are dropped; :class:`EventPacketDecoder` counts packets and refusals per encoding
and dropped events in ``counts``.

:meth:`EventPacketDecoder.decode_batch` decodes consecutive messages at once (every EVT 3.0
packet of the batch in one compiled call) with exactly the events, counts, state and errors of
decoding them one by one; refused messages are listed in the result instead of raised.

Works with rclpy message classes and with rosbags' dataclasses (see ``hpe_ros.io.typestore``):
only the fields are read.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from hpe_ros.io import evt3_native
from hpe_ros.pipelines.events.representations import CD_EVENT_DTYPE, TRIGGER_EVENT_DTYPE, concatenate_events

__all__ = [
    "CD_EVENT_DTYPE",
    "TRIGGER_EVENT_DTYPE",
    "MAX_SENSOR_SIDE",
    "DecodedBatch",
    "DecodedEvents",
    "DecoderCounts",
    "EventDecodeError",
    "Evt3Decoder",
    "Evt3State",
    "EventPacketDecoder",
    "decode_mono",
    "decode_packet",
    "decode_dvs_event_array",
    "encode_evt3",
]

# EVT 3.0 word types (the 4 most significant bits of each little-endian 16-bit word).
EVT_ADDR_Y = 0x0
EVT_ADDR_X = 0x2
VECT_BASE_X = 0x3
VECT_12 = 0x4
VECT_8 = 0x5
EVT_TIME_LOW = 0x6
CONTINUED_4 = 0x7
EVT_TIME_HIGH = 0x8
EXT_TRIGGER = 0xA
OTHERS = 0xE
CONTINUED_12 = 0xF
RESERVED_TYPES = (0x1, 0x9, 0xB, 0xC, 0xD)

TIME_WRAP_US = 1 << 24
# A TIME_HIGH smaller than the previous one by at most this many ticks (4096 us each) is taken
# as a sensor bit error, not as a wrap of the 24-bit counter (event_camera_codecs uses the same).
WRAP_TOLERANCE_TICKS = 10
# The encoder never lets TIME_HIGH advance by more than this, so any gap decodes unambiguously.
_MAX_HIGH_STEP = 2048

_U8 = np.dtype(np.uint8)
_U8_4 = np.uint8(4)
_PAYLOAD = np.uint16(0x0FFF)
_ADDR_MASK = np.uint16(0x07FF)
_CHUNK_WORDS = 1 << 17
# Bit i of a vector's valid mask -> event at base_x + i.
_MASK_BITS = ((np.arange(4096)[:, None] >> np.arange(12)[None, :]) & 1).astype(bool)

SUPPORTED_ENCODINGS = ("evt3", "mono")
# Largest event sensor side accepted (today's sensors: up to 1280 x 720; EVT 3.0 addresses 2048).
MAX_SENSOR_SIDE = 8192
# Event times (ns) must stay within +-2^62 (146 years from the epoch), so sums never overflow int64.
MAX_ABS_TIME_NS = 1 << 62
# An EVT 3.0 packet whose stamp and first event differ by more than this re-anchors ROS time.
EVT3_REANCHOR_NS = 1_000_000_000


class EventDecodeError(ValueError):
    """An event packet cannot be decoded; skip it and go on with the next one."""


@dataclass(frozen=True)
class DecodedEvents:
    """The events of one packet, in stream order."""

    cd: np.ndarray  # CD_EVENT_DTYPE
    triggers: np.ndarray  # TRIGGER_EVENT_DTYPE
    dropped: int = 0  # CD events outside the sensor geometry or before row/time state was known

    @staticmethod
    def empty() -> DecodedEvents:
        return DecodedEvents(np.empty(0, CD_EVENT_DTYPE), np.empty(0, TRIGGER_EVENT_DTYPE))

    def shifted(self, offset_ns: int) -> DecodedEvents:
        """The same events with ``offset_ns`` added to every time stamp."""
        cd, triggers = self.cd.copy(), self.triggers.copy()
        cd["t"] += offset_ns
        triggers["t"] += offset_ns
        return replace(self, cd=cd, triggers=triggers)


@dataclass(slots=True)  # not frozen: made once per batch, a frozen one costs ~3 us more
class DecodedBatch:
    """The events of consecutive messages decoded together (:meth:`EventPacketDecoder.decode_batch`):
    all of them in message order, with where each message's part ends."""

    cd: np.ndarray  # CD_EVENT_DTYPE
    triggers: np.ndarray  # TRIGGER_EVENT_DTYPE
    cd_ends: np.ndarray  # int64 (n,): message i's CD events are cd[cd_ends[i - 1]:cd_ends[i]] (i = 0: from 0)
    trigger_ends: np.ndarray  # int64 (n,)
    cd_totals: np.ndarray  # int64 (n,): CD events per message, kept or dropped
    errors: dict[int, EventDecodeError]  # the messages refused (no events), by index
    size: tuple[int, int] | None = None  # (width, height) of every decoded message when they share it
    # (n,) truthy: message i's CD times never decrease (sorted), and from the last CD event of the
    # messages before it on (in_order); None: found from the events when asked for (order())
    sorted: np.ndarray | None = None
    in_order: np.ndarray | None = None
    all_in_order: bool | None = None  # in_order.all()

    def __len__(self) -> int:
        return int(self.cd_ends.size)

    def order(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """``sorted``, ``in_order`` and ``all_in_order`` (found from the events when not given)."""
        if self.sorted is not None and self.in_order is not None and self.all_in_order is not None:
            return self.sorted, self.in_order, self.all_in_order
        t = self.cd["t"]
        steps_ok = np.ones(t.size, bool)  # event k's time is not below event k - 1's
        steps_ok[1:] = t[1:] >= t[:-1]
        starts = np.concatenate([[0], self.cd_ends[:-1]]).astype(np.int64)
        bounds = list(zip(starts.tolist(), self.cd_ends.tolist(), strict=True))
        in_order = np.array([bool(steps_ok[a:b].all()) for a, b in bounds], bool)
        own = np.array([a >= b or bool(steps_ok[a + 1:b].all()) for a, b in bounds], bool)
        return own, in_order, bool(in_order.all())

    def cd_of(self, start: int, stop: int) -> np.ndarray:
        """The CD events of messages ``start``..``stop - 1`` (a view)."""
        begin = int(self.cd_ends[start - 1]) if start else 0
        return self.cd[begin:int(self.cd_ends[stop - 1]) if stop else 0]

    def events(self, index: int) -> DecodedEvents:
        """Message ``index``'s events (views of this batch's arrays), as :meth:`EventPacketDecoder.decode`
        gives them."""
        cd = self.cd_of(index, index + 1)
        first = int(self.trigger_ends[index - 1]) if index else 0
        return DecodedEvents(cd, self.triggers[first:int(self.trigger_ends[index])],
                             dropped=int(self.cd_totals[index]) - cd.size)


@dataclass(frozen=True)
class Evt3State:
    """What an EVT 3.0 decoder knows between words; carried from packet to packet."""

    y: int = 0
    y_valid: bool = False
    base_x: int = 0  # next vector's first x (VECT_BASE_X, advanced by 12/8 per VECT_12/VECT_8)
    polarity: int = 0  # of vector events
    base_valid: bool = False
    time_high: int = 0  # last TIME_HIGH value (12 bits)
    high_known: bool = False  # a TIME_HIGH has ever come (time_high is meaningful for wrap checks)
    wraps: int = 0  # wraps of the 24-bit counter seen so far
    time_low: int = 0
    seen_high: bool = False  # a TIME_HIGH has come since the start / the last resync
    time_valid: bool = False  # a TIME_LOW has followed it: event times are known

    @property
    def time_us(self) -> int:
        """The current sensor time in microseconds, wraps included."""
        return (self.wraps << 24) | (self.time_high << 12) | self.time_low

    def resynced(self) -> Evt3State:
        """State after a lost packet: keep the wrap bookkeeping, forget the rest."""
        return Evt3State(time_high=self.time_high, high_known=self.high_known, wraps=self.wraps,
                         time_low=self.time_low)


def _as_bytes_array(data: Any) -> np.ndarray:
    """The bytes of ``bytes``, ``array.array``, any numpy array (its memory, in order) or a list of bytes."""
    if isinstance(data, np.ndarray):
        if data.dtype == _U8 and data.ndim == 1:  # the usual case: already bytes
            return np.ascontiguousarray(data)
        if data.dtype.hasobject:
            raise EventDecodeError(f"event data is a numpy array of {data.dtype}, not of numbers")
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass
    try:
        values = np.asarray(data)
        if values.dtype.kind not in "biu" or (values.size and (values.min() < 0 or values.max() > 255)):
            raise ValueError("not bytes")
        return values.astype(np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError) as error:
        raise EventDecodeError(f"event data ({type(data).__name__}) is not a sequence of bytes") from error


def check_sensor_size(width: int, height: int, encoding: str) -> None:
    """Raise EventDecodeError unless both sides are 1..MAX_SENSOR_SIDE pixels."""
    if not (0 < width <= MAX_SENSOR_SIDE and 0 < height <= MAX_SENSOR_SIDE):
        raise EventDecodeError(f"{encoding} packet is for a {width}x{height} sensor; each side must be "
                               f"1..{MAX_SENSOR_SIDE} pixels")


def _check_time_base(time_base_ns: int, what: str) -> None:
    if not -MAX_ABS_TIME_NS < time_base_ns < MAX_ABS_TIME_NS:
        raise EventDecodeError(f"{what} {time_base_ns} ns is outside the +-2^62 ns clock range")


Evt3Backend = Literal["auto", "native", "numpy"]
_STATE_FLAGS = frozenset(("y_valid", "base_valid", "high_known", "seen_high", "time_valid"))


class Evt3Decoder:
    """Stateful decoder of Prophesee EVT 3.0 byte streams (compiled, or vectorised numpy).

    Feed the packets of one camera in order to :meth:`decode`; row, vector base, polarity and
    time state (with 24-bit wrap count) carry over from packet to packet. Times are sensor time
    in nanoseconds. Events whose pixel is outside ``width`` x ``height`` (when given) and events
    that come before the stream has told their row or time are dropped and counted.

    ``backend``: ``"auto"`` uses the compiled decoder of :mod:`hpe_ros.io.evt3_native` when it
    was built and numpy otherwise; ``"native"`` insists on it; ``"numpy"`` never uses it. Both
    give identical events, dropped counts, states and errors.
    """

    def __init__(self, width: int = 0, height: int = 0, backend: Evt3Backend = "auto") -> None:
        if backend not in ("auto", "native", "numpy"):
            raise ValueError(f"backend must be 'auto', 'native' or 'numpy', got {backend!r}")
        if backend == "native" and not evt3_native.available():
            raise RuntimeError(
                f"the compiled EVT 3.0 decoder is not available: {evt3_native.unavailable_reason}"
            )
        self.width = int(width)
        self.height = int(height)
        self.uses_native = backend != "numpy" and evt3_native.available()
        # the compiled path keeps the state in its C job (read back only when asked for)
        self._native = evt3_native.NativeEvt3Stream() if self.uses_native else None
        self._state = Evt3State()

    @property
    def state(self) -> Evt3State:
        """What the decoder knows between packets (row, vector base, time, wraps)."""
        if self._native is None:
            return self._state
        values = self._native.state
        fields: list[Any] = [bool(value) if name in _STATE_FLAGS else value  # ints and flags, in order
                             for name, value in zip(evt3_native.STATE_FIELDS, values, strict=True)]
        return Evt3State(*fields)

    @state.setter
    def state(self, state: Evt3State) -> None:
        if self._native is None:
            self._state = state
        else:
            self._native.state = tuple(int(getattr(state, name)) for name in evt3_native.STATE_FIELDS)

    def reset(self) -> None:
        self.state = Evt3State()

    def decode(self, packet: Any, is_bigendian: bool = False, offset_ns: int = 0) -> DecodedEvents:
        """Decode one packet; raises :class:`EventDecodeError` (and resyncs) when it is corrupt.

        Event times are sensor time + ``offset_ns`` (added while decoding: no second pass)."""
        try:
            raw = _as_bytes_array(packet)
        except EventDecodeError:
            self.state = self.state.resynced()
            raise
        if raw.size % 2:
            self.state = self.state.resynced()
            raise EventDecodeError(f"evt3 packet has an odd byte count ({raw.size}); it is not 16-bit words")
        if self._native is not None:
            return self._decode_native(raw, is_bigendian, offset_ns)
        state = self._state
        parts = []
        try:
            # Long buffers go in cache-sized chunks; the state carries across them as across packets.
            for start in range(0, max(raw.size, 1), 2 * _CHUNK_WORDS):
                part, state = _decode_evt3(raw[start:start + 2 * _CHUNK_WORDS], state, is_bigendian,
                                           self.width, self.height, offset_ns)
                parts.append(part)
        except EventDecodeError:
            self._state = self._state.resynced()
            raise
        self._state = state
        if len(parts) == 1:
            return parts[0]
        return DecodedEvents(
            np.concatenate([p.cd for p in parts]),
            np.concatenate([p.triggers for p in parts]),
            dropped=sum(p.dropped for p in parts),
        )

    def _decode_native(self, raw: np.ndarray, is_bigendian: bool, offset_ns: int) -> DecodedEvents:
        assert self._native is not None  # called only when uses_native
        result = self._native.decode(raw, bool(is_bigendian), self.width, self.height, offset_ns)
        if result.reserved_word >= 0:
            self.state = self.state.resynced()  # the stream's state is the one before the packet
            # the numpy path reports the first chunk with reserved words: so does this one
            start = 2 * (result.reserved_word // _CHUNK_WORDS * _CHUNK_WORDS)
            raise _reserved_types_error(raw[start:start + 2 * _CHUNK_WORDS], is_bigendian)
        return DecodedEvents(result.cd, result.triggers, dropped=result.cd_total - result.cd.size)


def _reserved_types_error(raw: np.ndarray, is_bigendian: bool) -> EventDecodeError:
    """The error for a chunk of words that holds reserved word types."""
    words = raw.view(">u2" if is_bigendian else "<u2")
    bad = np.flatnonzero(np.isin(words >> np.uint16(12), RESERVED_TYPES))
    return EventDecodeError(
        f"evt3 packet has {bad.size} words of reserved types (first: word {bad[0]} = "
        f"0x{int(words[bad[0]]):04x}); the packet is corrupt or not EVT 3.0"
    )


def _first_after(positions: np.ndarray, index: int) -> int:
    """The first entry of sorted ``positions`` greater than ``index``, or -1."""
    k = int(np.searchsorted(positions, index, side="right"))
    return int(positions[k]) if k < len(positions) else -1


def _decode_evt3(
    raw: np.ndarray, state: Evt3State, is_bigendian: bool, width: int, height: int, offset_ns: int = 0
) -> tuple[DecodedEvents, Evt3State]:
    if raw.size % 2:
        raise EventDecodeError(f"evt3 packet has an odd byte count ({raw.size}); it is not 16-bit words")
    if raw.size == 0:
        return DecodedEvents.empty(), state
    words = raw.view(">u2" if is_bigendian else "<u2")
    high_bytes = raw[0::2] if is_bigendian else raw[1::2]
    types = high_bytes >> _U8_4
    counts = np.bincount(types, minlength=16)
    if counts[list(RESERVED_TYPES)].any():
        raise _reserved_types_error(raw, is_bigendian)
    n_words = words.size

    # --- time: TIME_HIGH (with wrap detection) and TIME_LOW, as positions and values
    pos_th = np.flatnonzero(types == EVT_TIME_HIGH) if counts[EVT_TIME_HIGH] else np.empty(0, np.intp)
    pos_tl = np.flatnonzero(types == EVT_TIME_LOW) if counts[EVT_TIME_LOW] else np.empty(0, np.intp)
    high = (words[pos_th] & _PAYLOAD).astype(np.int32)
    low = (words[pos_tl] & _PAYLOAD).astype(np.int32)
    n_wrapped = 0
    rel_high = high - np.int32(state.time_high)  # TIME_HIGH ticks (4096 us) since the packet start
    if high.size:
        previous = np.empty_like(high)
        previous[0] = state.time_high if state.high_known else high[0]
        previous[1:] = high[:-1]
        wrapped = (previous - high) > WRAP_TOLERANCE_TICKS
        n_wrapped = int(np.count_nonzero(wrapped))
        if n_wrapped:
            rel_high = rel_high.astype(np.int64) + (np.cumsum(wrapped, dtype=np.int64) << 12)

    # First word index after which event times are known.
    if state.time_valid:
        time_from = -1
    else:
        after = -1 if state.seen_high else (int(pos_th[0]) if pos_th.size else n_words)
        time_from = _first_after(pos_tl, after) if after < n_words else -1
        time_from = n_words if time_from < 0 else time_from

    # --- rows
    pos_y = np.flatnonzero(types == EVT_ADDR_Y) if counts[EVT_ADDR_Y] else np.empty(0, np.intp)
    ys = (words[pos_y] & _ADDR_MASK).astype(np.int32)
    y_from = -1 if state.y_valid else (int(pos_y[0]) if pos_y.size else n_words)

    # --- one cumulative sum gives, at every word, the current row and time (relative to the
    # packet start): each state word adds the change of its own quantity.
    span_ticks = int(np.abs(rel_high).max()) if high.size else 0
    acc_type = np.int32 if span_ticks < 127 else np.int64  # packed (time << 11) + y fits in int32
    acc = np.zeros(n_words, acc_type)
    acc[pos_th] = np.diff(rel_high.astype(acc_type), prepend=acc_type(0)) << 23
    acc[pos_tl] = np.diff(low.astype(acc_type), prepend=acc_type(state.time_low)) << 11
    acc[pos_y] = np.diff(ys.astype(acc_type), prepend=acc_type(state.y))
    np.cumsum(acc, out=acc)
    acc_start = acc_type(state.y)
    start_time_us = state.time_us

    def row_and_time(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        packed = acc[positions] + acc_start  # (time since packet start << 11) + y
        return packed & 2047, (packed >> 11).astype(np.int64) + start_time_us

    # --- vector words: base x advances by 12 / 8 per VECT_12 / VECT_8, reset by VECT_BASE_X
    has_vectors = bool(counts[VECT_12] or counts[VECT_8] or counts[VECT_BASE_X])
    base_x, polarity, base_valid = state.base_x, state.polarity, state.base_valid
    if has_vectors:
        pos_v = np.flatnonzero((types >= VECT_BASE_X) & (types <= VECT_8))
        kinds = types[pos_v]
        vwords = words[pos_v]
        is_base = kinds == VECT_BASE_X
        inc = np.where(kinds == VECT_12, 12, np.where(kinds == VECT_8, 8, 0)).astype(np.int64)
        before = np.cumsum(inc) - inc  # increments before each row
        rows = np.arange(pos_v.size)
        last_base = np.maximum.accumulate(np.where(is_base, rows, -1))
        base_values = (vwords & _ADDR_MASK).astype(np.int64)
        anchor = np.where(last_base >= 0, base_values[last_base] - before[last_base], state.base_x)
        vec_base = anchor + before
        vec_pol = np.where(last_base >= 0, (vwords[last_base] >> np.uint16(11)) & 1, state.polarity)
        base_x = int(vec_base[-1] + inc[-1])
        polarity = int(vec_pol[-1])
        base_from = -1 if state.base_valid else (int(pos_v[is_base][0]) if is_base.any() else n_words)
        base_valid = state.base_valid or bool(is_base.any())
        is_vector = ~is_base
        pos_ev_v = pos_v[is_vector]
        vmask = np.where(kinds[is_vector] == VECT_8, vwords[is_vector] & np.uint16(0xFF),
                         vwords[is_vector] & _PAYLOAD)
        v_start = vec_base[is_vector]
        v_pol = vec_pol[is_vector]
        v_ok = pos_ev_v > base_from
    else:
        pos_ev_v = np.empty(0, np.intp)

    # --- CD events
    x: np.ndarray  # int64 or uint16, by branch
    pos_x = np.flatnonzero(types == EVT_ADDR_X) if counts[EVT_ADDR_X] else np.empty(0, np.intp)
    xwords = words[pos_x]
    if pos_ev_v.size:
        order = np.argsort(np.concatenate([pos_x, pos_ev_v]), kind="stable")
        ev_pos = np.concatenate([pos_x, pos_ev_v])[order]
        masks = np.concatenate([np.ones(pos_x.size, np.uint16), vmask])[order]
        starts = np.concatenate([(xwords & _ADDR_MASK).astype(np.int64), v_start])[order]
        pols = np.concatenate([(xwords >> np.uint16(11)) & 1, v_pol.astype(np.uint16)])[order]
        ok = np.concatenate([np.ones(pos_x.size, bool), v_ok])[order]
        word_rows, bits = np.nonzero(_MASK_BITS[masks])
        ev_y, ev_t = row_and_time(ev_pos)
        ok &= (ev_pos > time_from) & (ev_pos > y_from)
        x = starts[word_rows] + bits
        y = ev_y[word_rows]
        t = ev_t[word_rows]
        p = pols[word_rows]
        keep = ok[word_rows]
    else:
        x = xwords & _ADDR_MASK
        p = (xwords >> np.uint16(11)) & np.uint16(1)
        y, t = row_and_time(pos_x)
        keep = (pos_x > time_from) & (pos_x > y_from)
    if width > 0:
        keep &= x < width
    if height > 0:
        keep &= y < height
    n_total = x.size
    if not keep.all():
        x, y, t, p = x[keep], y[keep], t[keep], p[keep]
    cd = np.empty(x.size, CD_EVENT_DTYPE)
    cd["x"] = x
    cd["y"] = y
    cd["t"] = t * 1000 + offset_ns
    cd["p"] = p

    # --- external triggers
    if counts[EXT_TRIGGER]:
        pos_trig = np.flatnonzero(types == EXT_TRIGGER)
        pos_trig = pos_trig[pos_trig > time_from]
        twords = words[pos_trig]
        triggers = np.empty(pos_trig.size, TRIGGER_EVENT_DTYPE)
        triggers["t"] = row_and_time(pos_trig)[1] * 1000 + offset_ns
        triggers["p"] = twords & np.uint16(1)
        triggers["id"] = (twords >> np.uint16(8)) & np.uint16(0xF)
    else:
        triggers = np.empty(0, TRIGGER_EVENT_DTYPE)

    new_state = Evt3State(
        y=int(ys[-1]) if ys.size else state.y,
        y_valid=state.y_valid or bool(ys.size),
        base_x=base_x,
        polarity=polarity,
        base_valid=base_valid,
        time_high=int(high[-1]) if high.size else state.time_high,
        high_known=state.high_known or bool(high.size),
        wraps=state.wraps + n_wrapped,
        time_low=int(low[-1]) if low.size else state.time_low,
        seen_high=state.seen_high or bool(high.size),
        time_valid=state.time_valid or time_from < n_words,
    )
    return DecodedEvents(cd, triggers, dropped=n_total - cd.size), new_state


# --------------------------------------------------------------------------- mono, DVS


def decode_mono(packet: Any, time_base_ns: int, is_bigendian: bool = False, width: int = 0,
                height: int = 0) -> DecodedEvents:
    """Decode a ``mono`` packet: 64-bit words, bit 63 polarity, bits 48-62 y, 32-47 x, 0-31 dt (ns).

    Event time is ``time_base_ns + dt``: pass ``msg.time_base`` for sensor time or the header
    stamp for ROS time. Events outside ``width`` x ``height`` (when given) are dropped and counted.
    """
    _check_time_base(int(time_base_ns), "mono time base")
    raw = _as_bytes_array(packet)
    if raw.size % 8:
        raise EventDecodeError(f"mono packet has {raw.size} bytes, not a multiple of 8 (64-bit words)")
    words = raw.view(">u8" if is_bigendian else "<u8")
    x = (words >> np.uint64(32)) & np.uint64(0xFFFF)
    y = (words >> np.uint64(48)) & np.uint64(0x7FFF)
    keep = np.ones(words.size, bool)
    if width > 0:
        keep &= x < width
    if height > 0:
        keep &= y < height
    if not keep.all():
        words, x, y = words[keep], x[keep], y[keep]
    cd = np.empty(words.size, CD_EVENT_DTYPE)
    cd["t"] = (words & np.uint64(0xFFFFFFFF)).astype(np.int64) + np.int64(time_base_ns)
    cd["x"] = x
    cd["y"] = y
    cd["p"] = words >> np.uint64(63)
    return DecodedEvents(cd, np.empty(0, TRIGGER_EVENT_DTYPE), dropped=int(keep.size - words.size))


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def decode_dvs_event_array(msg: Any) -> DecodedEvents:
    """Decode a ``dvs_msgs/msg/EventArray`` (per-event ROS time stamps) into a CD array.

    Events outside the message's ``width`` x ``height`` (when set) or with a stamp outside the
    clock range are dropped and counted."""
    events = msg.events
    n = len(events)
    x = np.fromiter((e.x for e in events), np.int64, n)
    y = np.fromiter((e.y for e in events), np.int64, n)
    t = np.fromiter((_stamp_ns(e.ts) for e in events), object, n)  # python ints: no overflow here
    p = np.fromiter((bool(e.polarity) for e in events), bool, n)
    width, height = int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0))
    keep = (x >= 0) & (y >= 0) & (x <= 0xFFFF) & (y <= 0xFFFF)
    keep &= np.fromiter((-MAX_ABS_TIME_NS < v < MAX_ABS_TIME_NS for v in t), bool, n)
    if width > 0:
        keep &= x < width
    if height > 0:
        keep &= y < height
    cd = np.empty(int(np.count_nonzero(keep)), CD_EVENT_DTYPE)
    cd["x"], cd["y"], cd["p"] = x[keep], y[keep], p[keep]
    cd["t"] = t[keep].astype(np.int64)
    return DecodedEvents(cd, np.empty(0, TRIGGER_EVENT_DTYPE), dropped=n - cd.size)


# --------------------------------------------------------------------------- packets


@dataclass
class DecoderCounts:
    """What an :class:`EventPacketDecoder` has seen (running totals; per encoding where it says so)."""

    packets: dict[str, int] = field(default_factory=dict)  # decoded, per encoding ("dvs" for DVS arrays)
    refused: dict[str, int] = field(default_factory=dict)  # raised EventDecodeError, per encoding
    events: int = 0  # CD events handed out
    triggers: int = 0  # external trigger events handed out
    dropped: int = 0  # CD events dropped: outside the sensor, before the EVT 3.0 row/time was known
    reanchored: int = 0  # EVT 3.0 ROS-time offsets fixed again after a stamp jump


class EventPacketDecoder:
    """Decodes the messages of one event topic, in order, to events on one clock.

    Takes ``event_camera_msgs/msg/EventPacket`` (and its older name
    ``event_array_msgs/msg/EventArray``) with encoding ``evt3`` or ``mono``, and
    ``dvs_msgs/msg/EventArray``. ``time_reference`` is ``"ros"`` or ``"sensor"`` (see the module
    docstring for how EVT 3.0 sensor time is tied to ROS time). Packets for a sensor larger than
    :data:`MAX_SENSOR_SIDE` per side are refused before anything is allocated.
    """

    def __init__(self, time_reference: Literal["ros", "sensor"] = "ros") -> None:
        if time_reference not in ("ros", "sensor"):
            raise ValueError(f"time_reference must be 'ros' or 'sensor', got {time_reference!r}")
        self.time_reference = time_reference
        self.evt3 = Evt3Decoder()
        self.evt3_offset_ns: int | None = None  # ROS time - sensor time, fixed by the first packet
        self.counts = DecoderCounts()

    def reset(self) -> None:
        """Forget the stream state (not the counts)."""
        self.evt3.reset()
        self.evt3_offset_ns = None

    @staticmethod
    def kind_of(msg: Any) -> str:
        """The input type of ``msg`` as counted: its encoding when supported, ``dvs``, or ``other``."""
        if not hasattr(msg, "encoding"):
            return "dvs" if hasattr(msg, "events") else "other"
        encoding = str(msg.encoding)
        return encoding if encoding in SUPPORTED_ENCODINGS else "other"

    def decode(self, msg: Any) -> DecodedEvents:
        """Events of ``msg``; raises :class:`EventDecodeError` for a packet that must be skipped."""
        kind = self.kind_of(msg)
        try:
            decoded = self._decode(msg, kind)
        except EventDecodeError:
            self.counts.refused[kind] = self.counts.refused.get(kind, 0) + 1
            raise
        counts = self.counts
        counts.packets[kind] = counts.packets.get(kind, 0) + 1
        counts.events += decoded.cd.size
        counts.triggers += decoded.triggers.size
        counts.dropped += decoded.dropped
        return decoded

    def _decode(self, msg: Any, kind: str) -> DecodedEvents:
        if kind == "dvs":
            check_sensor_size(int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0)), "dvs")
            return decode_dvs_event_array(msg)
        if kind == "other":
            if not hasattr(msg, "encoding"):
                raise EventDecodeError(f"{type(msg).__name__} is not an event message")
            raise EventDecodeError(f"unknown event encoding {str(msg.encoding)[:40]!r} "
                                   f"(supported: {', '.join(SUPPORTED_ENCODINGS)})")
        width, height = int(msg.width), int(msg.height)
        check_sensor_size(width, height, kind)
        stamp_ns = _stamp_ns(msg.header.stamp)
        if kind == "mono":
            base = int(msg.time_base) if self.time_reference == "sensor" else stamp_ns
            return decode_mono(msg.events, base, bool(msg.is_bigendian), width, height)
        _check_time_base(stamp_ns, "evt3 packet stamp")
        self.evt3.width, self.evt3.height = width, height
        if self.time_reference == "sensor":
            return self.evt3.decode(msg.events, bool(msg.is_bigendian))
        offset = self.evt3_offset_ns
        # once the offset is known the decoder adds it: the events come out on the ROS clock
        decoded = self.evt3.decode(msg.events, bool(msg.is_bigendian), offset or 0)
        cd, triggers = decoded.cd, decoded.triggers
        if not (cd.size or triggers.size):
            return decoded
        first = min(int(cd["t"][0]) if cd.size else MAX_ABS_TIME_NS,
                    int(triggers["t"][0]) if triggers.size else MAX_ABS_TIME_NS)
        if offset is None:
            self.evt3_offset_ns = stamp_ns - first
        elif abs(stamp_ns - first) > EVT3_REANCHOR_NS:
            self.evt3_offset_ns = offset + stamp_ns - first
            self.counts.reanchored += 1
        else:
            return decoded
        # (re-)anchored: the decoder's arrays are new for this packet, shift them in place
        step = self.evt3_offset_ns - (offset or 0)
        if cd.size:
            cd["t"] += step
        if triggers.size:
            triggers["t"] += step
        return decoded


    def decode_batch(self, messages: Sequence[Any]) -> DecodedBatch:
        """:meth:`decode` for consecutive messages of the topic at once: the same events, counts,
        state and errors (reported in the result, not raised), with every EVT 3.0 packet decoded in
        one compiled call (the per-packet Python and ctypes costs are paid once per batch)."""
        native = self.evt3._native  # the stream's compiled job, state included
        if native is None or not evt3_native.batch_available() or not messages:
            return self._decode_each(messages)
        rows: list[int] = []  # PACKET_DTYPE records, one after another
        parts: list[Any] = []  # the packets' bytes
        errors: dict[int, EventDecodeError] = {}
        others: dict[int, DecodedEvents] = {}  # messages of other encodings, decoded one by one
        sizes = set()
        offset = refused = 0
        last_size: tuple[int, int] | None = None  # of the last message, when it is an EVT 3.0 packet
        for index, msg in enumerate(messages):
            encoding = getattr(msg, "encoding", None)
            if not (type(encoding) is str and encoding == "evt3") and self.kind_of(msg) != "evt3":
                try:
                    others[index] = self.decode(msg)
                    sizes.add((int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0))))
                except EventDecodeError as error:
                    errors[index] = error
                rows += _SKIPPED_ROW
                continue
            try:
                width, height = int(msg.width), int(msg.height)
                if not (0 < width <= MAX_SENSOR_SIDE and 0 < height <= MAX_SENSOR_SIDE):
                    check_sensor_size(width, height, "evt3")
                stamp = msg.header.stamp
                stamp_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
                if not -MAX_ABS_TIME_NS < stamp_ns < MAX_ABS_TIME_NS:
                    _check_time_base(stamp_ns, "evt3 packet stamp")
                big_endian = bool(msg.is_bigendian)
            except (EventDecodeError, AttributeError, TypeError, ValueError, OverflowError) as error:
                errors[index] = _as_decode_error(error)
                refused += 1
                rows += _SKIPPED_ROW
                continue
            try:  # from here on a refusal resyncs the stream, as in Evt3Decoder.decode
                events = msg.events
                n_bytes = _plain_bytes(events)
                if n_bytes < 0:  # anything else goes through the general conversion
                    events = _as_bytes_array(events)
                    n_bytes = events.size
                if n_bytes % 2:
                    raise EventDecodeError(f"evt3 packet has an odd byte count ({n_bytes}); it is not "
                                           "16-bit words")
            except (EventDecodeError, AttributeError) as error:
                errors[index] = _as_decode_error(error)
                refused += 1
                rows += _RESYNC_ROW
                continue
            parts.append(events)
            last_size = (width, height) if index == len(messages) - 1 else None
            rows += (offset, n_bytes >> 1, big_endian, width, height, stamp_ns, 0, 0, 0, 0, 0, 0, 0)
            offset += n_bytes
            sizes.add((width, height))
        if len(messages) == 1 and parts:  # one good packet: the per-packet path is cheaper
            try:
                return _batch_of([self.decode(messages[0])], {}, (width, height), single=True)
            except EventDecodeError as error:
                return _batch_of([DecodedEvents.empty()], {0: error}, None, single=True)
        raw = b"".join(parts)
        ros_time = self.time_reference == "ros"
        result = native.decode_batch(raw, array.array("q", rows), ros_time=ros_time,
                                     offset_ns=self.evt3_offset_ns, reanchor_ns=EVT3_REANCHOR_NS)
        packets = result.packets
        if result.reserved:
            words = np.frombuffer(raw, np.uint8)
            for index in np.flatnonzero(packets["reserved_word"] >= 0).tolist():
                row = packets[index]
                chunk = int(row["reserved_word"]) // _CHUNK_WORDS  # reported as the numpy path does
                start = int(row["byte_offset"]) + 2 * chunk * _CHUNK_WORDS
                end = min(start + 2 * _CHUNK_WORDS, int(row["byte_offset"]) + 2 * int(row["n_words"]))
                errors[index] = _reserved_types_error(words[start:end], bool(row["big_endian"]))
            refused += result.reserved
        counts = self.counts
        if refused:
            counts.refused["evt3"] = counts.refused.get("evt3", 0) + refused
        if result.decoded:
            counts.packets["evt3"] = counts.packets.get("evt3", 0) + result.decoded
            if last_size is None or result.reserved:  # the last packet that decoded set the decoder's size
                last = packets[np.flatnonzero((packets["n_words"] >= 0) & (packets["reserved_word"] < 0))[-1]]
                last_size = int(last["width"]), int(last["height"])
            self.evt3.width, self.evt3.height = last_size
        counts.events += result.cd.size
        counts.triggers += result.triggers.size
        counts.dropped += result.dropped
        counts.reanchored += result.reanchored
        if ros_time:
            self.evt3_offset_ns = result.offset_ns
        batch = DecodedBatch(result.cd, result.triggers, packets["cd_end"], packets["trigger_end"],
                             packets["cd_total"], errors, size=next(iter(sizes)) if len(sizes) == 1 else None,
                             sorted=packets["sorted"], in_order=packets["in_order"],
                             all_in_order=result.in_order)
        return _with_others(batch, others) if others else batch

    def _decode_each(self, messages: Sequence[Any]) -> DecodedBatch:
        """:meth:`decode_batch` one message at a time (the numpy decoder)."""
        results, errors, sizes = [], {}, set()
        for index, msg in enumerate(messages):
            try:
                results.append(self.decode(msg))
                sizes.add((int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0))))
            except EventDecodeError as error:
                errors[index] = error
                results.append(DecodedEvents.empty())
        return _batch_of(results, errors, next(iter(sizes)) if len(sizes) == 1 else None)


_SKIPPED_ROW = (0, evt3_native.SKIPPED) + (0,) * 11
_RESYNC_ROW = (0, evt3_native.REFUSED_RESYNC) + (0,) * 11


def _plain_bytes(events: Any) -> int:
    """The byte count of ``events`` when it is plain contiguous bytes that ``bytes.join`` takes as
    they are (rclpy's array.array('B'), a uint8 array, bytes), else -1."""
    kind = type(events)
    if kind is np.ndarray:
        return events.size if events.dtype == _U8 and events.ndim == 1 and events.flags.c_contiguous else -1
    if kind is array.array:
        return len(events) if events.typecode == "B" else -1
    return len(events) if kind is bytes or kind is bytearray else -1


def _as_decode_error(error: Exception) -> EventDecodeError:
    if isinstance(error, EventDecodeError):
        return error
    return EventDecodeError(f"malformed event message ({type(error).__name__}: {error})")


def _batch_of(results: list[DecodedEvents], errors: dict[int, EventDecodeError],
              size: tuple[int, int] | None, single: bool = False) -> DecodedBatch:
    """A DecodedBatch of per-message results (``single``: of one message, its arrays as they are)."""
    if single:
        only = results[0]
        return DecodedBatch(only.cd, only.triggers, np.array([only.cd.size]), np.array([only.triggers.size]),
                            np.array([only.cd.size + only.dropped]), errors, size=size)
    if results:
        cd = concatenate_events([r.cd for r in results])
        triggers = concatenate_events([r.triggers for r in results])
    else:
        cd, triggers = DecodedEvents.empty().cd, DecodedEvents.empty().triggers
    sizes = np.array([(r.cd.size, r.triggers.size, r.dropped) for r in results], np.int64).reshape(-1, 3)
    cd_ends, trigger_ends = sizes[:, 0].cumsum(), sizes[:, 1].cumsum()
    cd_totals = sizes[:, 0] + sizes[:, 2]
    return DecodedBatch(cd, triggers, cd_ends, trigger_ends, cd_totals, errors, size=size)


def _with_others(batch: DecodedBatch, others: dict[int, DecodedEvents]) -> DecodedBatch:
    """``batch`` (of the EVT 3.0 packets) with the messages decoded one by one put in their places."""
    results = [others[index] if index in others else batch.events(index) for index in range(len(batch))]
    return _batch_of(results, batch.errors, batch.size)


def decode_packet(msg: Any, decoder: EventPacketDecoder) -> DecodedEvents:
    """Decode one event message with the topic's ``decoder`` (which keeps the stream state)."""
    return decoder.decode(msg)


# --------------------------------------------------------------------------- EVT 3.0 encoder


def _merge_units(cd: np.ndarray, triggers: np.ndarray, vectorize: bool) -> dict[str, np.ndarray]:
    """Group events into encoder units (one ADDR_X, vector or trigger word each), in time order."""
    t_us = cd["t"] // 1000
    x = cd["x"].astype(np.int64)
    y = cd["y"].astype(np.int64)
    p = cd["p"].astype(np.int64) & 1
    n = cd.size
    if vectorize and n:
        new_run = np.ones(n, bool)
        new_run[1:] = (t_us[1:] != t_us[:-1]) | (y[1:] != y[:-1]) | (p[1:] != p[:-1]) | (x[1:] <= x[:-1])
        run_id = np.cumsum(new_run) - 1
        run_x0 = x[new_run][run_id]
        chunk = (x - run_x0) // 12
        new_unit = new_run.copy()
        new_unit[1:] |= chunk[1:] != chunk[:-1]
        first = np.flatnonzero(new_unit)
        size = np.diff(np.append(first, n))
        base = run_x0[first] + 12 * chunk[first]
        mask = np.bitwise_or.reduceat(
            np.left_shift(1, x - base[np.repeat(np.arange(first.size), size)]), first
        )
        single = size == 1
        kind = np.where(single, EVT_ADDR_X, np.where(mask < 256, VECT_8, VECT_12))
        u = {"t": t_us[first], "y": y[first], "p": p[first], "kind": kind,
             "value": np.where(single, x[first], mask), "base": base,
             "run": run_id[first], "chunk": chunk[first]}
    else:
        u = {"t": t_us, "y": y, "p": p, "kind": np.full(n, EVT_ADDR_X), "value": x, "base": x,
             "run": np.arange(n), "chunk": np.zeros(n, np.int64)}
    m = triggers.size
    trig = {"t": triggers["t"] // 1000, "y": np.zeros(m, np.int64), "p": triggers["p"].astype(np.int64) & 1,
            "kind": np.full(m, EXT_TRIGGER), "value": triggers["id"].astype(np.int64) & 0xF,
            "base": np.zeros(m, np.int64), "run": np.full(m, -1), "chunk": np.zeros(m, np.int64)}
    merged = {k: np.concatenate([u[k].astype(np.int64), trig[k].astype(np.int64)]) for k in u}
    order = np.argsort(merged["t"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def encode_evt3(cd: np.ndarray, triggers: np.ndarray | None = None, *, vectorize: bool = False) -> bytes:
    """Encode time-sorted CD events (and triggers) as a little-endian EVT 3.0 byte stream.

    Times are truncated to microseconds and written modulo 2^24 us, as a sensor would. Each event
    gets an ADDR_X word (with ``vectorize``, events of one row, time and polarity within 12 pixels
    share a VECT_12 or VECT_8 word after a VECT_BASE_X); ADDR_Y, TIME_LOW and TIME_HIGH words are
    written when the row or time changes. TIME_HIGH never jumps by more than 2048 ticks (extra
    TIME_HIGH words fill longer gaps), so decoders can tell any gap from a wrap.
    """
    triggers = np.empty(0, TRIGGER_EVENT_DTYPE) if triggers is None else triggers
    u = _merge_units(cd, triggers, vectorize)
    n = u["t"].size
    if n == 0:
        return b""
    t_us = u["t"]
    if t_us[0] < 0 or np.any(np.diff(t_us) < 0):
        raise ValueError("encode_evt3 needs events sorted by time, with t >= 0")
    kind = u["kind"]
    high = t_us >> 12
    d_high = np.diff(high, prepend=high[0])
    n_th = -(-d_high // _MAX_HIGH_STEP)  # ceil
    n_th[0] = 1
    n_tl = (np.diff(t_us, prepend=-1) != 0) | (n_th > 0)
    is_cd = kind != EXT_TRIGGER
    cd_rows = np.flatnonzero(is_cd)
    n_y = np.zeros(n, bool)
    n_y[cd_rows] = np.diff(u["y"][cd_rows], prepend=-1) != 0
    is_vec = (kind == VECT_12) | (kind == VECT_8)
    prev = np.roll(np.arange(n), 1)
    continues = (
        (np.arange(n) > 0) & (kind[prev] == VECT_12) & (u["run"][prev] == u["run"])
        & (u["chunk"][prev] == u["chunk"] - 1) & ~n_tl & ~n_y
    )
    n_bx = is_vec & ~continues
    per_unit = n_th + n_tl + n_y + n_bx + 1
    offsets = np.cumsum(per_unit) - per_unit
    out = np.empty(int(per_unit.sum()), np.uint16)
    # TIME_HIGH words (possibly several per unit to bridge long gaps)
    th_unit = np.repeat(np.arange(n), n_th)
    th_rank = np.arange(th_unit.size) - np.repeat(np.cumsum(n_th) - n_th, n_th)
    th_value = np.minimum(high[th_unit] - d_high[th_unit] + _MAX_HIGH_STEP * (th_rank + 1), high[th_unit])
    th_value[n_th[th_unit] == 1] = high[th_unit][n_th[th_unit] == 1]
    out[offsets[th_unit] + th_rank] = (EVT_TIME_HIGH << 12) | (th_value & 0xFFF)
    at = offsets + n_th
    out[at[n_tl]] = (EVT_TIME_LOW << 12) | (t_us[n_tl] & 0xFFF)
    at = at + n_tl
    out[at[n_y]] = (EVT_ADDR_Y << 12) | (u["y"][n_y] & 0x7FF)
    at = at + n_y
    out[at[n_bx]] = (VECT_BASE_X << 12) | (u["p"][n_bx] << 11) | (u["base"][n_bx] & 0x7FF)
    at = at + n_bx
    main = np.select(
        [kind == EVT_ADDR_X, kind == EXT_TRIGGER],
        [
            (EVT_ADDR_X << 12) | (u["p"] << 11) | (u["value"] & 0x7FF),
            (EXT_TRIGGER << 12) | (u["value"] << 8) | u["p"],
        ],
        (kind << 12) | (u["value"] & 0xFFF),
    )
    out[at] = main
    return out.astype("<u2").tobytes()
