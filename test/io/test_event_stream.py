"""EventStream: the decode-then-window path shared by the event node and `hpe-ros process`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.event_stream import EventStream
from hpe_ros.io.events import EventDecodeError

MS = 1_000_000


def _mono(stamp_ns: int, dts_ns: list[int], width: int = 16, height: int = 8) -> SimpleNamespace:
    dts = np.asarray(dts_ns, np.uint64)
    words = (np.arange(dts.size, dtype=np.uint64) % np.uint64(8) << np.uint64(32)) | dts
    stamp = SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp, frame_id="ev"), width=width, height=height,
                           seq=0, encoding="mono", time_base=0, is_bigendian=False,
                           events=words.astype("<u8").tobytes())


def _camera(width: int, height: int) -> CameraModel:
    k = np.array([[20.0, 0, width / 2], [0, 20.0, height / 2], [0, 0, 1]])
    return CameraModel(width=width, height=height, K=k, D=np.zeros(5), distortion_model="plumb_bob",
                       frame_id="ev")


def test_a_size_change_ends_the_open_window_and_the_camera_follows_the_size() -> None:
    stream = EventStream(window_ms=50.0, frame_id="override")
    stream.camera = _camera(16, 8)
    assert stream.push(_mono(0, [0, 10 * MS])) == []
    windows = stream.push(_mono(20 * MS, [0], width=32, height=24))  # another sensor size
    assert [(w.stamp_ns, w.events.size, w.width, w.camera is not None) for w in windows] == [
        (50 * MS, 2, 16, True)]
    # the 16 x 8 camera is not the 32 x 24 sensor's
    assert stream.size_changes == 1 and stream.intrinsics_ignored == 1
    assert stream.windower.camera is None and windows[0].frame_id == "override"
    stream.camera = _camera(32, 24)
    last = stream.finish()
    assert [(w.stamp_ns, w.events.size, w.width) for w in last] == [(70 * MS, 1, 32)]
    assert last[0].camera is not None and last[0].camera.width == 32


def test_discard_and_reset_keep_the_counts() -> None:
    stream = EventStream(window_ms=50.0)
    stream.push(_mono(0, [0, 1 * MS, 2 * MS]))
    with pytest.raises(EventDecodeError, match="100000x100000"):
        stream.push(_mono(0, [0], width=100_000, height=100_000))
    assert stream.discard() == 3  # deactivated: the open window goes
    stream.reset()  # activated again: a new stream, the same counts
    stream.push(_mono(10**12, [0, 60 * MS]))
    counts = stream.counts()
    assert counts["events decoded"] == 5 and counts["event packets decoded mono"] == 2
    assert counts["events discarded (open window at deactivate)"] == 3
    assert stream.decoder.counts.refused == {"mono": 1}
    assert stream.windower_counts().windowed == 1 and stream.windower.pending == 1


def test_window_settings_are_checked() -> None:
    for window_ms in (0.0, -1.0, float("nan"), 1e9):
        with pytest.raises(ValueError, match="window_ms must be 0.001..60000 ms"):
            EventStream(window_ms=window_ms)
    for window_events in (-1, 10**9, 2.5):
        with pytest.raises(ValueError, match="window_events must be an integer 0..100000000"):
            EventStream(window_events=window_events)  # type: ignore[arg-type]
    assert EventStream(window_ms=0.0, window_events=10).window_events == 10  # by count: window_ms unused
