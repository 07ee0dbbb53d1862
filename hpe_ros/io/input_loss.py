"""Messages lost before the subscription callback, counted from the publisher's sequence numbers.

A best-effort subscription silently loses what the transport drops (large images fragment into
many UDP packets) and what overflows the middleware's history while the executor is busy. The
rmw layer stamps each message with the publisher's ``publication_sequence_number`` (1, 2, 3, ...):
a gap between two consecutive numbers is that many messages lost on the way.

Only one publisher can be followed this way (the message info does not say which publisher sent
a message): with several publishers on one topic the numbers interleave, and the count is
reported as unavailable instead of guessed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SequenceGaps:
    """Counts the gaps in one topic's publication sequence numbers."""

    arrived: int = 0
    lost: int = 0
    restarts: int = 0  # the numbers went back: a new publisher (or the old one restarted)
    unnumbered: int = 0  # arrivals whose middleware gives no sequence number
    _last: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, sequence_number: int | None, publishers: int = 1) -> int:
        """Record one arrival; returns how many messages were lost just before it."""
        with self._lock:
            self.arrived += 1
            if not sequence_number or publishers > 1:
                # 0 / None: the rmw does not number messages; several publishers interleave
                self.unnumbered += 1
                self._last = None
                return 0
            gap = 0
            if self._last is not None:
                if sequence_number > self._last:
                    gap = sequence_number - self._last - 1
                else:
                    self.restarts += 1
            self._last = sequence_number
            self.lost += gap
            return gap

    def observe_info(self, message_info: Any, publishers: int = 1) -> int:
        """:meth:`observe` from rclpy's message-info dict (``publication_sequence_number``)."""
        number = message_info.get("publication_sequence_number") if isinstance(message_info, dict) else None
        return self.observe(int(number) if number else None, publishers)

    @property
    def counted(self) -> bool:
        """Whether the loss count covers the arrivals (numbered, single publisher)."""
        return self.arrived > self.unnumbered

    def describe(self) -> str:
        """One line for ``/diagnostics``."""
        if not self.arrived:
            return "nothing arrived yet"
        if not self.counted:
            return "not counted (no sequence numbers, or several publishers)"
        share = self.lost / (self.lost + self.arrived)
        return f"{self.lost} of {self.lost + self.arrived} ({100.0 * share:.1f} %)"
