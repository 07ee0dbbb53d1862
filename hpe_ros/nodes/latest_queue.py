"""A bounded hand-over between a subscription callback and a worker thread: the newest wins."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestQueue(Generic[T]):
    """Keeps at most ``maxlen`` items; putting into a full queue drops the oldest."""

    def __init__(self, maxlen: int = 1) -> None:
        if maxlen < 1:
            raise ValueError(f"queue size must be >= 1, got {maxlen}")
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._ready = threading.Condition()

    def put(self, item: T) -> int:
        """Add ``item``; returns how many older items were dropped to make room."""
        with self._ready:
            dropped = 0
            while len(self._items) >= self._maxlen:
                self._items.popleft()
                dropped += 1
            self._items.append(item)
            self._ready.notify()
            return dropped

    def get(self, timeout: float) -> T | None:
        """The oldest item still queued, or None after ``timeout`` seconds."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._ready:
            self._items.clear()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)
