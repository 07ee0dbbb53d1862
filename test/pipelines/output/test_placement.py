"""Metric placement of root-relative skeletons from their 2D projections."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.output.placement import place_skeletons


def _camera(model: str = "plumb_bob") -> CameraModel:
    distortion = {
        "plumb_bob": np.array([-0.25, 0.08, 0.001, -0.002, -0.01]),
        "equidistant": np.array([0.05, -0.01, 0.002, 0.0]),
        "h36m": np.array([-0.2, 0.25, -0.002, -0.0012, 0.0005]),
    }[model]
    return CameraModel.from_intrinsics(1100.0, 1090.0, 645.0, 470.0, 1280, 960, distortion, model)


def _people(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative skeletons (n, 17, 3) about 1.7 m tall and root positions (n, 3)."""
    rng = np.random.default_rng(seed)
    rel = rng.uniform(-0.25, 0.25, (n, 17, 3)) * np.array([1.0, 3.4, 1.0])
    rel -= rel[:, :1]
    translation = np.stack(
        [rng.uniform(-1.0, 1.0, n), rng.uniform(-0.4, 0.4, n), rng.uniform(2.5, 8.0, n)], axis=1
    )
    return rel, translation


@pytest.mark.parametrize("model", ["plumb_bob", "equidistant", "h36m"])
@pytest.mark.parametrize("refine_steps", [0, 3])
def test_exact_keypoints_give_the_translation(model: str, refine_steps: int) -> None:
    camera = _camera(model)
    rel, translation = _people()
    keypoints = camera.project(rel + translation[:, None])
    placement = place_skeletons(keypoints, rel, camera, refine_steps=refine_steps)
    assert placement.metric.all()
    np.testing.assert_allclose(placement.translation, translation, atol=1e-3)  # < 1 mm
    np.testing.assert_allclose(placement.joints_camera, rel + translation[:, None], atol=1e-3)
    assert np.all(placement.reprojection_rms_px < 1e-3)
    assert np.all((placement.confidence > 0.8) & (placement.confidence <= 1.0))


def test_single_person_shapes() -> None:
    camera = _camera()
    rel, translation = _people(n=1)
    placement = place_skeletons(camera.project(rel[0] + translation[0]), rel[0], camera)
    assert placement.translation.shape == (3,)
    assert placement.joints_camera.shape == (17, 3)
    assert placement.confidence.shape == () and bool(placement.metric)
    np.testing.assert_allclose(placement.translation, translation[0], atol=1e-3)


def test_noise_lowers_confidence_and_refinement_lowers_pixel_error() -> None:
    camera = _camera()
    rel, translation = _people(n=40, seed=1)
    clean = camera.project(rel + translation[:, None])
    rng = np.random.default_rng(2)
    confidences, depth_errors = [], []
    for sigma in (0.5, 3.0, 12.0):
        noisy = clean + rng.normal(0.0, sigma, clean.shape)
        refined = place_skeletons(noisy, rel, camera, refine_steps=5)
        linear = place_skeletons(noisy, rel, camera, refine_steps=0)
        assert refined.metric.all()
        # Gauss-Newton minimises exactly the pixel error that the report measures
        assert np.all(refined.reprojection_rms_px <= linear.reprojection_rms_px + 1e-9)
        # the residual reflects the noise (RMS of 2D noise of std sigma per axis: sigma * sqrt(2))
        assert np.median(refined.reprojection_rms_px) == pytest.approx(sigma * np.sqrt(2), rel=0.35)
        confidences.append(np.median(refined.confidence))
        depth_errors.append(np.median(np.abs(refined.translation[:, 2] - translation[:, 2])))
    assert confidences[0] > confidences[1] > confidences[2]
    assert depth_errors[0] < depth_errors[1] < depth_errors[2]
    assert depth_errors[0] < 0.02


def test_wrong_pose_shows_in_the_error_not_in_the_translation_alone() -> None:
    # A lifter error (skeleton 20% too small) moves the person closer and leaves no residual
    # (scale-depth ambiguity); a distorted skeleton leaves a residual and lowers the confidence.
    camera = _camera()
    rel, translation = _people(n=5, seed=3)
    keypoints = camera.project(rel + translation[:, None])
    smaller = place_skeletons(keypoints, 0.8 * rel, camera)
    np.testing.assert_allclose(smaller.translation[:, 2], 0.8 * translation[:, 2], rtol=0.02)
    bent = rel + np.random.default_rng(4).normal(0.0, 0.08, rel.shape)
    placed = place_skeletons(keypoints, bent, camera)
    exact = place_skeletons(keypoints, rel, camera)
    assert np.all(placed.reprojection_rms_px > 1.0)
    assert np.all(placed.confidence < exact.confidence)


def test_low_score_and_missing_keypoints_are_ignored() -> None:
    camera = _camera()
    rel, translation = _people(n=3, seed=5)
    keypoints = camera.project(rel + translation[:, None])
    scores = np.ones(keypoints.shape[:2])
    keypoints[:, 3] += 250.0  # wrong detection with a low score
    scores[:, 3] = 0.05
    keypoints[:, 7] = np.nan  # missing detection
    placement = place_skeletons(keypoints, rel, camera, scores)
    np.testing.assert_allclose(placement.translation, translation, atol=1e-3)
    scores[:, 3] = 1.0  # the same wrong keypoint trusted: the solution moves
    trusted = place_skeletons(keypoints, rel, camera, scores)
    assert np.abs(trusted.translation - translation).max() > 0.01


def test_degenerate_inputs_are_not_metric() -> None:
    camera = _camera()
    rel, translation = _people(n=4, seed=6)
    keypoints = camera.project(rel + translation[:, None])
    scores = np.ones(keypoints.shape[:2])
    scores[0, 2:] = 0.0  # person 0: two confident joints only
    rel_input = rel.copy()
    rel_input[1] = -rel[1]  # person 1: only a solution behind the camera fits (t = -t_true)
    scores[2] = 0.0  # person 2: nothing
    placement = place_skeletons(keypoints, rel_input, camera, scores)
    np.testing.assert_array_equal(placement.metric, [False, False, False, True])
    np.testing.assert_array_equal(placement.confidence[:3], 0.0)
    assert np.isnan(placement.translation[:3]).all() and np.isnan(placement.joints_camera[:3]).all()
    np.testing.assert_allclose(placement.translation[3], translation[3], atol=1e-3)


def test_shapes_are_checked() -> None:
    camera = _camera()
    with pytest.raises(ValueError, match="expected"):
        place_skeletons(np.zeros((2, 17, 2)), np.zeros((2, 16, 3)), camera)


def test_h36m_frames_are_placed_at_their_ground_truth(shared_data: Path) -> None:
    from hpe_ros.datasets.h36m_frames import load_h36m_frames

    frames = load_h36m_frames(shared_data / "h36m_frames")
    samples = frames.samples
    relative = samples.relative_joints_3d()
    for index, camera in enumerate(frames.cameras):
        placement = place_skeletons(samples.keypoints_2d[index], relative[index], camera.camera)
        assert bool(placement.metric)
        np.testing.assert_allclose(placement.translation, samples.joints_3d[index, 0], atol=1e-3)


def test_pinhole_jacobian_matches_central_differences_of_the_projection() -> None:
    from hpe_ros.pipelines.output.placement import _pinhole_jacobian

    camera = CameraModel.from_intrinsics(800.0, 790.0, 640.0, 360.0, 1280, 720)
    camera = dataclasses.replace(camera, K=camera.K + [[0.0, 3.0, 0.0], [0.0] * 3, [0.0] * 3])  # skew
    points = np.random.default_rng(0).normal(size=(2, 17, 3)) * 0.3 + [0.2, -0.1, 4.0]
    points[1, 3, 2] = -0.5  # behind the camera: no derivative
    step = 1e-6
    numeric = np.stack([
        (camera.project(points + step * e) - camera.project(points - step * e)) / (2 * step)
        for e in np.eye(3)
    ], axis=-1)  # fmt: skip
    exact = _pinhole_jacobian(camera, points)
    assert np.array_equal(np.isfinite(exact), np.isfinite(numeric))
    np.testing.assert_allclose(exact[np.isfinite(exact)], numeric[np.isfinite(numeric)], rtol=1e-6, atol=1e-6)
