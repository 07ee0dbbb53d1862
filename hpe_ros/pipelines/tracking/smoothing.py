"""Causal smoothing that adds no latency: the One-Euro filter (Casiez et al., CHI 2012).

An exponential low-pass whose cut-off rises with the signal's speed: a still person is smoothed
hard (jitter goes), a moving one barely (no lag). :class:`OneEuroFilter` filters arrays of any
shape per element, with one timestamp per sample. :class:`RotationOneEuroFilter` filters
rotations given as axis-angle vectors on the rotation manifold: each step moves the filtered
rotation towards the measured one along their geodesic, by the fraction the filter's cut-off
gives, so a rotation near 180 degrees is never averaged through the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class OneEuroConfig:
    min_cutoff_hz: float = 1.0  # cut-off of a still signal: lower removes more jitter
    beta: float = 0.5  # how fast the cut-off rises with speed (per unit/s): higher follows motion sooner
    derivative_cutoff_hz: float = 1.0  # low-pass on the speed estimate


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """The smoothing factor of an exponential low-pass at ``cutoff_hz`` for a step of ``dt`` s."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt))


class OneEuroFilter:
    """Per-element One-Euro filter of arrays of a fixed shape; NaN samples pass through unfiltered."""

    def __init__(
        self, config: OneEuroConfig, speed_axis: int | None = None, speed_weights: np.ndarray | None = None
    ) -> None:
        """``speed_axis``: the axis whose norm is the speed (e.g. -1 for (J, 3) positions: the
        cut-off of a joint follows its 3D speed), None for each element's own speed;
        ``speed_weights`` scale the components in that norm (a noisy component that should not
        open the filter gets a small weight)."""
        self.config = config
        self.speed_axis = speed_axis
        self.speed_weights = speed_weights
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._stamp_s = 0.0

    def reset(self) -> None:
        self._value = self._speed = None

    def __call__(self, value: np.ndarray, stamp_s: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        previous = self._value
        if previous is None or previous.shape != value.shape or stamp_s <= self._stamp_s:
            self._value, self._speed, self._stamp_s = value.copy(), np.zeros_like(value), stamp_s
            return value.copy()
        assert self._speed is not None
        dt = stamp_s - self._stamp_s
        step = value - previous
        finite = bool(np.isfinite(step).all())  # both samples complete (the common case: no masking)
        if not finite:
            previous = np.where(np.isfinite(previous), previous, value)
            step = np.nan_to_num(value - previous)
        speed = self._speed + _alpha(self.config.derivative_cutoff_hz, dt) * (step / dt - self._speed)
        weighted = speed if self.speed_weights is None else speed * self.speed_weights
        if self.speed_axis is None:
            magnitude = np.abs(weighted)
        else:
            magnitude = np.sqrt(np.sum(weighted * weighted, axis=self.speed_axis, keepdims=True))
        alpha = _alpha(self.config.min_cutoff_hz + self.config.beta * magnitude, dt)
        filtered = previous + alpha * step
        if not finite:
            filtered = np.where(np.isfinite(value), filtered, value)
        self._value, self._speed, self._stamp_s = filtered, speed, stamp_s
        return filtered.copy()


class RotationOneEuroFilter:
    """One-Euro filter of (K, 3) axis-angle rotations on the rotation manifold."""

    def __init__(self, config: OneEuroConfig) -> None:
        self.config = config
        self._rotation: Rotation | None = None
        self._speed: np.ndarray | None = None  # (K,) angular speed, rad/s
        self._stamp_s = 0.0

    def reset(self) -> None:
        self._rotation = self._speed = None

    def __call__(self, rotvecs: np.ndarray, stamp_s: float) -> np.ndarray:
        rotvecs = np.asarray(rotvecs, dtype=np.float64).reshape(-1, 3)
        measured = Rotation.from_rotvec(rotvecs)
        if self._rotation is None or len(self._rotation) != len(rotvecs) or stamp_s <= self._stamp_s:
            self._rotation, self._speed, self._stamp_s = measured, np.zeros(len(rotvecs)), stamp_s
            return rotvecs.copy()
        assert self._speed is not None
        dt = stamp_s - self._stamp_s
        step = (self._rotation.inv() * measured).as_rotvec()  # from the filtered rotation to the measured one
        rate = np.linalg.norm(step, axis=-1) / dt
        self._speed = self._speed + _alpha(self.config.derivative_cutoff_hz, dt) * (rate - self._speed)
        alpha = _alpha(self.config.min_cutoff_hz + self.config.beta * self._speed, dt)
        self._rotation = self._rotation * Rotation.from_rotvec(step * np.asarray(alpha)[:, None])
        self._stamp_s = stamp_s
        return self._rotation.as_rotvec()
