"""Fuzzing every event input type through the path the event node and ``process`` run.

Event packets (``evt3``, ``mono``, other encodings), DVS arrays, CameraInfo and gray images go
through :class:`~hpe_ros.io.event_stream.EventStream` (decoder, then windower) or the side-input
checks, as :class:`~hpe_ros.nodes.event_pose_node.EventPoseNode` calls them. Random sizes,
encodings, stamps (near 0, now, huge jumps, backwards), garbage payloads and numpy arrays of
other dtypes: nothing but the documented error may come out, no call may take long or make
more than its input allows, every window is sorted and within its bounds, and the counts add up.
"""

from __future__ import annotations

import array
import time
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from hpe_ros.io.event_stream import EventStream
from hpe_ros.io.events import CD_EVENT_DTYPE, MAX_SENSOR_SIDE, EventDecodeError, encode_evt3
from hpe_ros.io.images import ImageDecodeError, image_to_numpy
from hpe_ros.io.messages import camera_from_info
from hpe_ros.pipelines.events.representations import GrayFrameBuffer

pytestmark = pytest.mark.fuzz

NOW_S = 1_780_000_000
MAX_CALL_S = 2.0  # one message, on a loaded shared machine
EVENTS_PER_BYTE = 6  # EVT 3.0: at most 12 events per 16-bit word

seconds = st.one_of(st.integers(0, 3), st.integers(NOW_S - 5, NOW_S + 5), st.integers(-2**31, 2**31 - 1))
# mostly valid sizes (so that packets get through to the windower), sometimes out of bounds
sides = st.one_of(st.integers(1, 64), st.integers(1, 64), st.sampled_from([640, 1280, 2048, MAX_SENSOR_SIDE]),
                  st.sampled_from([0, MAX_SENSOR_SIDE + 1, 100_000, 2**32 - 1]))
dtypes = st.sampled_from(["u1", "i1", "<u2", ">u2", "<u4", "<u8", ">i8", "<f4", "<f8", "?"])


def _stamp(sec: int, nanosec: int) -> SimpleNamespace:
    return SimpleNamespace(sec=sec, nanosec=nanosec)


@st.composite
def payloads(draw: st.DrawFn, width: int, height: int, encoding: str) -> object:
    """Bytes that decode (made events), garbage, or the same as other containers and dtypes."""
    kind = draw(st.sampled_from(["made", "made", "made", "garbage", "empty"]))
    if kind == "made" and encoding == "mono":
        n = draw(st.integers(0, 200))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        x = rng.integers(0, max(1, min(width, 2**16)) + 3, n).astype(np.uint64)  # a few outside
        y = rng.integers(0, max(1, min(height, 2**15)) + 3, n).astype(np.uint64)
        dt = rng.integers(0, 2**32, n, dtype=np.uint64)
        data = ((rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63)) | (y << np.uint64(48))
                | (x << np.uint64(32)) | dt).astype("<u8").tobytes()
    elif kind == "made":
        n = draw(st.integers(0, 200))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        events = np.empty(n, CD_EVENT_DTYPE)
        events["x"] = rng.integers(0, min(width + 3, 2048), n)  # a few outside the sensor
        events["y"] = rng.integers(0, min(height + 3, 2048), n)
        events["t"] = np.sort(rng.integers(0, draw(st.sampled_from([10**6, 10**10, 10**13])), n))
        events["p"] = rng.integers(0, 2, n)
        data = encode_evt3(events, vectorize=draw(st.booleans()))
        if draw(st.integers(0, 3)) == 0 and data:  # cut anywhere: a packet boundary inside the stream
            data = data[draw(st.integers(0, len(data) - 1)):]
    elif kind == "garbage":
        data = draw(st.binary(max_size=2048))
    else:
        data = b""
    container = draw(st.sampled_from(["bytes", "uint8", "array", "dtype", "dtype", "list"]))
    if container == "uint8":
        return np.frombuffer(data, np.uint8)
    if container == "array":
        return array.array("B", data)
    if container == "list":
        return list(data)
    if container == "dtype":
        dtype = np.dtype(draw(dtypes))
        usable = len(data) - len(data) % dtype.itemsize
        return np.frombuffer(data[:usable], dtype)
    return data


@st.composite
def packets(draw: st.DrawFn) -> SimpleNamespace:
    width, height = draw(sides), draw(sides)
    encoding = draw(st.one_of(st.sampled_from(["evt3", "mono"]), st.sampled_from(["evt3", "mono"]),
                              st.sampled_from(["evt2", "", "EVT3"]), st.text(max_size=8)))
    return SimpleNamespace(
        header=SimpleNamespace(stamp=_stamp(draw(seconds), draw(st.integers(0, 2**32 - 1))), frame_id="ev"),
        width=width, height=height, seq=draw(st.integers(0, 2**64 - 1)), encoding=encoding,
        time_base=draw(st.integers(0, 2**64 - 1)), is_bigendian=draw(st.sampled_from([False, False, True])),
        events=draw(payloads(min(width, 4096), min(height, 4096), encoding)))


@st.composite
def dvs_arrays(draw: st.DrawFn) -> SimpleNamespace:
    n = draw(st.integers(0, 40))
    base = draw(seconds)
    events = [SimpleNamespace(x=draw(st.integers(0, 2**16 - 1)), y=draw(st.integers(0, 2**16 - 1)),
                              ts=_stamp(base + draw(st.integers(-3, 3)) * draw(st.sampled_from([1, 10**6])),
                                        draw(st.integers(0, 2**32 - 1))),
                              polarity=draw(st.booleans())) for _ in range(n)]
    return SimpleNamespace(header=SimpleNamespace(stamp=_stamp(base, 0), frame_id="dvs"), width=draw(sides),
                           height=draw(sides), events=events)


def _input_bytes(msg: SimpleNamespace) -> int:
    data = msg.events
    if isinstance(data, np.ndarray):
        return data.nbytes
    return len(data) if not isinstance(data, list) or not data or not isinstance(data[0], SimpleNamespace) \
        else 8 * len(data)


def _check_windows(stream: EventStream, windows: list, finished: bool) -> None:
    for window in windows:
        events = window.events
        assert events.size > 0
        assert np.all(np.diff(events["t"]) >= 0), "a window is not sorted by time"
        assert 0 < window.width <= MAX_SENSOR_SIDE and 0 < window.height <= MAX_SENSOR_SIDE
        assert np.all(events["x"] < window.width) and np.all(events["y"] < window.height)
        if stream.window_events:
            assert events.size <= stream.window_events
            assert window.stamp_ns == int(events["t"][-1])
        else:
            duration = int(stream.window_ms * 1e6)
            assert np.all(events["t"] < window.stamp_ns) and np.all(events["t"] >= window.stamp_ns - duration)


def _run_stream(messages: list, window_ms: float, window_events: int) -> None:
    stream = EventStream(window_ms=window_ms, window_events=window_events)
    decoded = refused = out = 0
    accepted_bytes = 0
    for msg in messages:
        started = time.perf_counter()
        try:
            windows = stream.push(msg)
        except EventDecodeError:
            refused += 1
            windows = []
            event("refused")
        else:
            decoded += 1
            event("decoded with events" if stream.decoder.counts.events else "decoded")
            accepted_bytes += _input_bytes(msg)
        assert time.perf_counter() - started < MAX_CALL_S
        _check_windows(stream, windows, finished=False)
        out += sum(w.events.size for w in windows)
    last = stream.finish()
    _check_windows(stream, last, finished=True)
    out += sum(w.events.size for w in last)
    counts = stream.decoder.counts
    assert sum(counts.packets.values()) == decoded and sum(counts.refused.values()) == refused
    assert counts.events <= EVENTS_PER_BYTE * accepted_bytes  # output bounded by the input
    windowed = stream.windower_counts()
    pending = stream.windower.pending if stream.windower is not None else 0
    assert pending == 0  # finish() emptied it
    assert windowed.windowed == out
    assert counts.events == windowed.events_in == windowed.windowed + windowed.late + windowed.discarded
    if windowed.resyncs:
        event("window grid resync")
    if windowed.late:
        event("late events")


@given(st.lists(packets(), min_size=1, max_size=8), st.sampled_from([0.001, 1.0, 50.0]),
       st.sampled_from([0, 0, 1, 7, 1000]))
def test_event_packets_through_the_node_path(messages, window_ms, window_events) -> None:
    _run_stream(messages, window_ms, window_events)


@given(st.lists(dvs_arrays(), min_size=1, max_size=5), st.sampled_from([0, 3]))
def test_dvs_arrays_through_the_process_path(messages, window_events) -> None:
    _run_stream(messages, 10.0, window_events)


@given(st.lists(st.tuples(seconds, st.integers(0, 10**9 - 1), st.integers(1, 300)), min_size=2, max_size=10))
def test_good_mono_packets_with_jumping_stamps_are_all_windowed(stamps) -> None:
    """Valid packets whatever their stamps: every event ends in a window or is counted late."""
    messages = []
    for sec, nanosec, n in stamps:
        index = np.arange(n, dtype=np.uint64)
        words = (index % np.uint64(16) << np.uint64(32)) | index * np.uint64(997)
        messages.append(SimpleNamespace(header=SimpleNamespace(stamp=_stamp(sec, nanosec), frame_id="ev"),
                                        width=16, height=8, seq=0, encoding="mono", time_base=0,
                                        is_bigendian=False, events=words.astype("<u8").tobytes()))
    stream = EventStream(window_ms=50.0)
    for msg in messages:
        started = time.perf_counter()
        _check_windows(stream, stream.push(msg), finished=False)
        assert time.perf_counter() - started < MAX_CALL_S
    _check_windows(stream, stream.finish(), finished=True)
    counts = stream.windower_counts()
    assert stream.decoder.counts.dropped == 0
    assert counts.events_in == sum(n for _, _, n in stamps) == counts.windowed + counts.late


_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, 320.0, 240.0]))


@given(width=sides, height=sides, k=st.lists(_FLOATS, min_size=0, max_size=10),
       d=st.lists(_FLOATS, max_size=9), model=st.sampled_from(["plumb_bob", "rational_polynomial", "", "x"]))
def test_camera_info_side_input(width, height, k, d, model) -> None:
    msg = SimpleNamespace(width=width, height=height, k=k, d=d, distortion_model=model,
                          header=SimpleNamespace(frame_id="ev"))
    stream = EventStream()
    try:
        camera = camera_from_info(msg)
    except ValueError:
        return
    stream.camera = camera
    assert stream.camera is camera


@given(width=sides, height=sides, step=st.integers(0, 2**32 - 1),
       encoding=st.sampled_from(["mono8", "mono16", "rgb8", "bgr8", "32FC1", "bayer_rggb8", "yuv422", "x"]),
       data=st.binary(max_size=4096), is_bigendian=st.booleans())
def test_gray_image_side_input(width, height, step, encoding, data, is_bigendian) -> None:
    msg = SimpleNamespace(width=width, height=height, step=step, encoding=encoding, data=data,
                          is_bigendian=is_bigendian,
                          header=SimpleNamespace(stamp=_stamp(0, 0), frame_id="ev"))
    gray = GrayFrameBuffer(capacity=2)
    try:
        image = image_to_numpy(msg)
    except ImageDecodeError:
        return
    assert image.nbytes <= len(data)
    gray.add(0, image)
    assert gray.nearest(0) is not None


@given(st.lists(st.tuples(seconds, st.integers(0, 10**9 - 1)), min_size=2, max_size=10),
       st.integers(0, 2**32 - 1), st.sampled_from([0, 5]))
def test_one_evt3_stream_cut_into_packets_with_jumping_stamps(stamps, seed, window_events) -> None:
    """A valid EVT 3.0 stream whose packet stamps jump (ROS time re-anchored): nothing is lost unseen."""
    rng = np.random.default_rng(seed)
    n = 400
    events = np.empty(n, CD_EVENT_DTYPE)
    events["x"], events["y"] = rng.integers(0, 16, n), rng.integers(0, 8, n)
    events["p"] = rng.integers(0, 2, n)
    events["t"] = np.sort(rng.integers(0, 3 * 10**9, n))
    words = np.frombuffer(encode_evt3(events), "<u2")
    cuts = np.sort(rng.integers(0, words.size, len(stamps) - 1))
    stream = EventStream(window_ms=20.0, window_events=window_events)
    for (sec, nanosec), part in zip(stamps, np.split(words, cuts), strict=True):
        msg = SimpleNamespace(header=SimpleNamespace(stamp=_stamp(sec, nanosec), frame_id="ev"), width=16,
                              height=8, seq=0, encoding="evt3", time_base=0, is_bigendian=False, events=part)
        started = time.perf_counter()
        _check_windows(stream, stream.push(msg), finished=False)
        assert time.perf_counter() - started < MAX_CALL_S
    _check_windows(stream, stream.finish(), finished=True)
    decoded, counts = stream.decoder.counts, stream.windower_counts()
    assert decoded.events == n and decoded.dropped == 0
    assert counts.events_in == n == counts.windowed + counts.late
    if decoded.reanchored:
        event("re-anchored")
    if counts.resyncs:
        event("window grid resync")


def _windows_and_errors(stream: EventStream, messages: list, batched: bool) -> tuple[list, list[str]]:
    windows, errors = [], []
    for msg in messages:
        if not batched:
            try:
                windows += stream.push(msg)
            except EventDecodeError as error:
                errors.append(str(error))
        elif stream.queue(msg):
            flushed = stream.flush()
            windows += flushed.windows
            errors += [str(error) for _, error in flushed.rejected]
    flushed = stream.flush()
    windows += flushed.windows + stream.finish()
    return [(w.stamp_ns, w.width, w.height, w.events.tobytes()) for w in windows], \
        errors + [str(error) for _, error in flushed.rejected]


@given(st.lists(packets(), min_size=1, max_size=12), st.sampled_from([0.001, 1.0, 50.0]),
       st.sampled_from([0, 1, 7, 1000]))
def test_queued_batches_give_what_push_gives(messages, window_ms, window_events) -> None:
    """The node's batches (queue / flush) on hostile packets: the same windows, errors and counts
    as decoding each packet as it comes."""
    one = EventStream(window_ms=window_ms, window_events=window_events)
    many = EventStream(window_ms=window_ms, window_events=window_events)
    assert _windows_and_errors(many, messages, True) == _windows_and_errors(one, messages, False)
    assert many.counts() == one.counts() and many.decoder.counts == one.decoder.counts
    assert many.decoder.evt3.state == one.decoder.evt3.state
