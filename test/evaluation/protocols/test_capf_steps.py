"""The steps of CA-PF's official evaluation: root box, crop, keypoints, image, flip test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hpe_ros.core.joints import H36M_17, flip_joints
from hpe_ros.datasets.samples import normalize_screen
from hpe_ros.evaluation.protocols.capf_steps import (
    CROP_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Intrinsics,
    crop_frame,
    crop_matrix,
    flip_inputs,
    normalize_image,
    root_box,
    root_relative_target,
    to_crop,
    unflip_output,
)

CAMERA = Intrinsics(1145.0, 1143.8, 512.5, 515.4)


def test_the_box_is_two_metres_wide_from_090_above_to_110_below_the_root():
    center, scale = root_box(np.array([0.0, 0.0, 5000.0]), CAMERA)
    assert scale[0] * 200 == pytest.approx(2000 * CAMERA.fx / 5000)
    assert scale[1] * 200 == pytest.approx(2000 * CAMERA.fy / 5000)
    assert center == pytest.approx([CAMERA.cx, CAMERA.cy + 100 * CAMERA.fy / 5000])


def test_the_crop_matrix_maps_the_centre_to_the_crop_centre_and_inverts():
    center, scale = np.array([480.3, 530.7]), np.array([2.3, 2.3])
    forward, back = crop_matrix(center, scale), crop_matrix(center, scale, inverse=True)
    assert to_crop(center[None], forward)[0] == pytest.approx([95.5, 127.5], abs=1e-3)
    assert forward[0, 0] == pytest.approx(191 / (2.3 * 200 - 1), rel=1e-6)
    points = np.array([[100.0, 200.0], [700.0, 900.0]])
    assert to_crop(to_crop(points, forward), back) == pytest.approx(points, abs=1e-3)


def test_a_point_of_the_frame_lands_where_its_crop_keypoint_says():
    image = np.zeros((1002, 1000, 3), np.uint8)
    point = np.array([431.0, 377.0])
    cv2.circle(image, (431, 377), 4, (255, 255, 255), -1)
    center, scale = root_box(np.array([-200.0, 100.0, 4500.0]), CAMERA)
    matrix = crop_matrix(center, scale)
    crop = crop_frame(image, matrix)
    assert crop.shape == (CROP_SIZE[1], CROP_SIZE[0], 3)
    grey = crop[..., 0].astype(np.float64)
    ys, xs = np.nonzero(grey)
    centroid = np.array([np.average(xs, weights=grey[ys, xs]), np.average(ys, weights=grey[ys, xs])])
    assert centroid == pytest.approx(to_crop(point[None], matrix)[0], abs=0.3)


def test_the_jpeg_round_trip_is_opencvs_encoding_of_the_crop():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (600, 500, 3), np.uint8), (0, 0), 3)
    matrix = crop_matrix(np.array([250.0, 300.0]), np.array([2.0, 2.0]))
    plain = crop_frame(image, matrix)
    stored = crop_frame(image, matrix, jpeg_quality=95)
    _, encoded = cv2.imencode(".jpg", plain)
    assert np.array_equal(stored, cv2.imdecode(encoded, cv2.IMREAD_COLOR))
    assert not np.array_equal(stored, plain)
    assert np.abs(stored.astype(int) - plain.astype(int)).mean() < 3


def test_screen_normalisation_maps_the_width_to_minus_one_one():
    points = normalize_screen(np.array([[0.0, 501.0], [1000.0, 0.0]]), np.array([1000, 1002]))
    np.testing.assert_allclose(points, [[-1.0, 0.0], [1.0, -1.002]], atol=1e-12)


def test_the_image_goes_to_rgb_and_imagenet_statistics():
    crops = np.zeros((1, 2, 2, 3), np.uint8)
    crops[..., 0] = 255  # BGR blue
    out = normalize_image(crops)
    assert out.shape == (1, 3, 2, 2) and out.dtype == np.float32
    assert out[0, 2, 0, 0] == pytest.approx((1 - IMAGENET_MEAN[2]) / IMAGENET_STD[2])
    assert out[0, 0, 0, 0] == pytest.approx(-IMAGENET_MEAN[0] / IMAGENET_STD[0])


def test_the_flip_test_mirrors_the_inputs_and_undoes_itself():
    rng = np.random.default_rng(1)
    images = rng.random((2, 3, 4, 5)).astype(np.float32)
    screen = rng.random((2, 17, 2)).astype(np.float32)
    crop = (rng.random((2, 17, 2)) * 191).astype(np.float32)
    permutation = H36M_17.flip_permutation
    flipped = flip_inputs(images, screen, crop, permutation)
    assert np.array_equal(flipped[0], images[..., ::-1])
    assert flipped[1] == pytest.approx(flip_joints(screen, H36M_17))
    assert flipped[2] == pytest.approx(flip_joints(crop, H36M_17, image_width=CROP_SIZE[0]), abs=1e-4)
    again = flip_inputs(*flipped, permutation)
    assert np.array_equal(again[0], images)
    assert again[1] == pytest.approx(screen) and again[2] == pytest.approx(crop, abs=1e-4)


def test_a_mirrored_estimate_is_mirrored_back():
    pose = np.random.default_rng(2).normal(size=(3, 17, 3))
    assert unflip_output(flip_joints(pose, H36M_17), H36M_17.flip_permutation) == pytest.approx(pose)


def test_targets_are_root_relative_with_the_root_exactly_zero():
    joints = np.random.default_rng(3).normal(size=(4, 17, 3)) + 5.0
    target = root_relative_target(joints, 14)
    assert np.all(target[:, 14] == 0.0)
    assert target[:, 3] == pytest.approx(joints[:, 3] - joints[:, 14])
