"""One-Euro filters: still signals lose their jitter, moving ones keep up, rotations stay rotations."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from hpe_ros.pipelines.tracking.smoothing import OneEuroConfig, OneEuroFilter, RotationOneEuroFilter

FPS = 30.0


def _run(filter_: OneEuroFilter, signal: np.ndarray) -> np.ndarray:
    return np.stack([filter_(value, index / FPS) for index, value in enumerate(signal)])


def test_a_still_noisy_signal_is_smoothed_and_a_ramp_is_followed_without_lag_growing() -> None:
    rng = np.random.default_rng(0)
    still = rng.normal(0.0, 0.01, (300, 17, 3))
    filtered = _run(OneEuroFilter(OneEuroConfig(0.5, 4.0), speed_axis=-1), still)
    assert filtered[30:].std() < still.std() / 2.5
    ramp = np.linspace(0.0, 10.0, 300)[:, None] * np.ones(3)  # 1 m/s
    followed = _run(OneEuroFilter(OneEuroConfig(0.5, 4.0), speed_axis=-1), ramp)
    lag_m = ramp[-100:, 0] - followed[-100:, 0]
    assert np.all(lag_m < 1.0 / FPS * 1.2)  # behind by less than about one frame of motion


def test_the_first_sample_passes_through_and_nan_is_neither_smoothed_nor_remembered() -> None:
    filter_ = OneEuroFilter(OneEuroConfig())
    np.testing.assert_array_equal(filter_(np.array([1.0, 2.0]), 0.0), [1.0, 2.0])
    out = filter_(np.array([np.nan, 2.0]), 0.1)
    assert np.isnan(out[0]) and out[1] == 2.0
    recovered = filter_(np.array([5.0, 2.0]), 0.2)
    assert recovered[0] == 5.0  # after a gap the new value is taken as it is


def test_a_shape_change_or_a_time_going_back_restarts_the_filter() -> None:
    filter_ = OneEuroFilter(OneEuroConfig())
    filter_(np.zeros(3), 1.0)
    filter_(np.ones(3), 1.1)
    np.testing.assert_array_equal(filter_(np.full(3, 7.0), 0.5), np.full(3, 7.0))  # a bag played again
    np.testing.assert_array_equal(filter_(np.full(4, 7.0), 0.6), np.full(4, 7.0))


def test_speed_weights_keep_a_noisy_component_from_opening_the_filter() -> None:
    rng = np.random.default_rng(1)
    signal = np.zeros((300, 3))
    signal[:, 2] = rng.normal(0.0, 0.05, 300)  # a root's depth, noisy
    signal[:, 0] = rng.normal(0.0, 0.005, 300)
    config = OneEuroConfig(0.2, 3.0)
    plain = _run(OneEuroFilter(config, speed_axis=-1), signal)
    weighted = _run(OneEuroFilter(config, speed_axis=-1, speed_weights=np.array([1.0, 1.0, 0.1])), signal)
    assert weighted[30:, 0].std() < 0.7 * plain[30:, 0].std()


def test_rotations_are_smoothed_on_the_manifold_across_the_half_turn() -> None:
    """Noisy rotations about 180 degrees: per-entry averaging of axis-angle vectors would flip
    through the identity; the geodesic filter stays near the true rotation."""
    rng = np.random.default_rng(2)
    truth = Rotation.from_rotvec([0.0, 0.0, np.pi - 0.02])
    noisy = truth * Rotation.from_rotvec(rng.normal(0.0, 0.05, (200, 3)))
    filter_ = RotationOneEuroFilter(OneEuroConfig(0.5, 1.0))
    out = np.stack([filter_(r.as_rotvec()[None], i / FPS)[0] for i, r in enumerate(noisy)])
    error = (truth.inv() * Rotation.from_rotvec(out[30:])).magnitude()
    raw_error = (truth.inv() * noisy[30:]).magnitude()
    assert error.mean() < raw_error.mean() / 2
    assert error.max() < 0.1
