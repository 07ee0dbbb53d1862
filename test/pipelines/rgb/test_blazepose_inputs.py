"""BlazePose's reused input batches: the values of the plain conversion, in arrays kept between frames."""

from __future__ import annotations

import numpy as np

from hpe_ros.pipelines.rgb.blazepose_inputs import InputBatch


def _writer(images: np.ndarray):
    def warp(index: int, out: np.ndarray) -> None:
        out[...] = images[index]

    return warp


def test_values_are_those_of_the_plain_conversion_bit_for_bit():
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    images[0, 0, 0] = (0, 127, 255)
    detector, landmarks = InputBatch(8, 127.5, 1.0), InputBatch(8, 255.0)
    np.testing.assert_array_equal(detector.fill(3, _writer(images)), images.astype(np.float32) / 127.5 - 1.0)
    np.testing.assert_array_equal(landmarks.fill(3, _writer(images)), images.astype(np.float32) / 255.0)
    assert landmarks.fill(3, _writer(images)).dtype == np.float32


def test_the_arrays_are_reused_and_grow_when_a_frame_needs_more():
    images = np.random.default_rng(1).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    batch = InputBatch(4, 255.0)
    first = batch.fill(3, _writer(images))
    smaller = batch.fill(2, _writer(images[3:]))
    assert smaller.shape == (2, 4, 4, 3) and np.shares_memory(first, smaller)
    np.testing.assert_array_equal(smaller, images[3:].astype(np.float32) / 255.0)
    larger = batch.fill(5, _writer(images))
    assert larger.shape == (5, 4, 4, 3)
    np.testing.assert_array_equal(larger, images.astype(np.float32) / 255.0)
