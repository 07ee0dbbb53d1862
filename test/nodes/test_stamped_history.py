"""Side inputs paired with images by stamp, waiting briefly for a stream that is behind."""

from __future__ import annotations

import threading
import time

from hpe_ros.nodes.stamped_history import StampedHistory

MS = 1_000_000


def test_nearest_within_tolerance_only() -> None:
    history: StampedHistory[str] = StampedHistory(4)
    history.append(100 * MS, "a")
    history.append(133 * MS, "b")
    assert history.nearest(130 * MS, 5 * MS) == "b"
    assert history.nearest(116 * MS, 5 * MS) is None


def test_an_image_waits_for_a_depth_image_that_is_on_its_way() -> None:
    history: StampedHistory[str] = StampedHistory(4)
    history.append(100 * MS, "old")
    late = threading.Timer(0.05, history.append, args=(133 * MS, "matching"))
    late.start()
    started = time.monotonic()
    assert history.wait_nearest(133 * MS, 5 * MS, timeout_s=1.0) == "matching"
    assert time.monotonic() - started < 0.5
    late.join()


def test_no_wait_when_the_stream_is_ahead_stopped_or_silent() -> None:
    history: StampedHistory[str] = StampedHistory(4)
    history.append(200 * MS, "ahead")
    started = time.monotonic()
    assert history.wait_nearest(100 * MS, 5 * MS, timeout_s=1.0) is None  # its depth will never come
    assert history.wait_nearest(5000 * MS, 5 * MS, timeout_s=1.0) is None  # the stream stopped 4.8 s ago
    assert time.monotonic() - started < 0.05
    silent: StampedHistory[str] = StampedHistory(4)
    silent.wait_nearest(100 * MS, 5 * MS, timeout_s=0.1)  # opens the first-wait window
    time.sleep(StampedHistory.FIRST_WAIT_S)
    started = time.monotonic()
    assert silent.wait_nearest(133 * MS, 5 * MS, timeout_s=1.0) is None  # nothing ever came: no more waits
    assert time.monotonic() - started < 0.05
