"""The last few stamped values of a side input (person boxes, depth images), paired with images by stamp."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class StampedHistory(Generic[T]):
    """Thread-safe ring of (stamp_ns, value); :meth:`nearest` pairs an image with the closest one."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, T]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def append(self, stamp_ns: int, value: T) -> None:
        with self._lock:
            self._items.append((stamp_ns, value))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def nearest(self, stamp_ns: int, tolerance_ns: float) -> T | None:
        """The value stamped nearest ``stamp_ns`` if within ``tolerance_ns``, else None."""
        with self._lock:
            items = list(self._items)
        if not items:
            return None
        stamp, value = min(items, key=lambda item: abs(item[0] - stamp_ns))
        return value if abs(stamp - stamp_ns) <= tolerance_ns else None
