"""The last few stamped values of a side input (person boxes, depth images), paired with images by stamp."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class StampedHistory(Generic[T]):
    """Thread-safe ring of (stamp_ns, value); :meth:`nearest` pairs an image with the closest one."""

    #: a stream whose newest value is stamped more than this before the image is not waited for
    #: (stamps, not the wall clock: a worker busy for a second must not make a live stream look dead)
    ALIVE_S = 1.0
    #: a stream that has sent nothing yet is waited for within this window (or the wait's own
    #: timeout, if longer) from the first wait
    FIRST_WAIT_S = 0.5

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, T]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._first_wait_ends: float | None = None

    def append(self, stamp_ns: int, value: T) -> None:
        with self._lock:
            self._items.append((stamp_ns, value))
            self._arrived.notify_all()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._first_wait_ends = None

    def newest_stamp(self) -> int | None:
        with self._lock:
            return self._items[-1][0] if self._items else None

    def wait_nearest(self, stamp_ns: int, tolerance_ns: float, timeout_s: float) -> T | None:
        """Like :meth:`nearest`, but while the stream is alive and has not yet reached
        ``stamp_ns`` (an image and its depth come on separate topics, in either order), wait up to
        ``timeout_s`` for the matching value. A stream that has sent nothing is waited for only
        within ``max(FIRST_WAIT_S, timeout_s)`` of the first call, so a missing camera costs its
        first frames."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            if self._first_wait_ends is None:
                self._first_wait_ends = time.monotonic() + max(self.FIRST_WAIT_S, timeout_s)
            while True:
                found = self._nearest_locked(stamp_ns, tolerance_ns)
                now = time.monotonic()
                behind = not self._items or self._items[-1][0] < stamp_ns - tolerance_ns
                if self._items:
                    alive = self._items[-1][0] >= stamp_ns - self.ALIVE_S * 1e9
                else:
                    alive = now < self._first_wait_ends
                if found is not None or not behind or not alive or now >= deadline:
                    return found
                self._arrived.wait(deadline - now)

    def nearest(self, stamp_ns: int, tolerance_ns: float) -> T | None:
        """The value stamped nearest ``stamp_ns`` if within ``tolerance_ns``, else None."""
        with self._lock:
            return self._nearest_locked(stamp_ns, tolerance_ns)

    def _nearest_locked(self, stamp_ns: int, tolerance_ns: float) -> T | None:
        if not self._items:
            return None
        stamp, value = min(self._items, key=lambda item: abs(item[0] - stamp_ns))
        return value if abs(stamp - stamp_ns) <= tolerance_ns else None
