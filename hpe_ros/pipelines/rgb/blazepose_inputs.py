"""BlazePose's network inputs, warped into arrays kept from one frame to the next.

A frame's inputs are megabytes of float32 (a 256 x 256 x 3 crop per person, a 224 x 224 x 3
tile per detector region). Allocated afresh each frame, they cost more than the arithmetic that
fills them (new memory page-faults: measured here, ~3 ms to convert 8 crops into a new array
against 0.4 ms into a kept one). The values are those of ``pixels.astype(np.float32) / divisor
- shift``, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class InputBatch:
    """Square (N, side, side, 3) uint8 pixels and their float32 values, grown as needed and reused.

    The arrays handed out stay valid until the next call: the networks copy their input.
    """

    def __init__(self, side: int, divisor: float, shift: float = 0.0) -> None:
        self.side = side
        self._divisor, self._shift = np.float32(divisor), np.float32(shift)
        self._pixels = np.empty((0, side, side, 3), np.uint8)
        self._values = np.empty((0, side, side, 3), np.float32)

    def fill(self, count: int, warp: Callable[[int, np.ndarray], object]) -> np.ndarray:
        """(count, side, side, 3) float32 of the pixels ``warp(i, out)`` writes into ``out``."""
        if count > len(self._pixels):
            shape = (count, self.side, self.side, 3)
            self._pixels, self._values = np.empty(shape, np.uint8), np.empty(shape, np.float32)
        pixels, values = self._pixels[:count], self._values[:count]
        for index in range(count):
            warp(index, pixels[index])
        np.divide(pixels, self._divisor, out=values, dtype=np.float32)
        if self._shift:
            np.subtract(values, self._shift, out=values)
        return values
