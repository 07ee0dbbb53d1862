"""The default lifter at run time: the committed weights, normalisation, virtual views, accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17
from hpe_ros.models.registry import create_model
from hpe_ros.pipelines.rgb import default_lifter as dl
from hpe_ros.simulation.people import walking_skeleton
from hpe_ros.training import default_lifter as dlt


def _standing_person_pixels() -> np.ndarray:
    """(1, 17, 2) pixels of a person standing upright, facing the camera, about 400 px tall."""
    joints = {
        "pelvis": (320, 300), "right_hip": (295, 300), "right_knee": (293, 400), "right_ankle": (292, 495),
        "left_hip": (345, 300), "left_knee": (347, 400), "left_ankle": (348, 495), "spine": (320, 245),
        "thorax": (320, 185), "neck": (320, 160), "head": (320, 125), "left_shoulder": (355, 195),
        "left_elbow": (365, 255), "left_wrist": (370, 310), "right_shoulder": (285, 195),
        "right_elbow": (275, 255), "right_wrist": (270, 310),
    }  # fmt: skip
    return np.array([[joints[name] for name in H36M_17.joint_names]], dtype=np.float64)


def test_committed_weights_load_with_weights_only_and_lift_upright() -> None:
    path = dl.default_lifter_path()
    assert path.is_file() and path.stat().st_size < 5 * 1024 * 1024
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["joint_set"] == "h36m_17" and payload["normalisation"] == dl.NORMALISATION
    assert isinstance(payload["seed"], int) and payload["steps"] > 0 and payload["metrics"]

    lifter = dl.load_default_lifter()
    pose = lifter.lift(_standing_person_pixels(), np.ones((1, 17)), image_size=(640, 480))
    assert pose.shape == (1, 17, 3) and np.isfinite(pose).all()
    pelvis, head = pose[0, H36M_17.index("pelvis")], pose[0, H36M_17.index("head")]
    ankle = pose[0, H36M_17.index("left_ankle")]
    np.testing.assert_allclose(pelvis, 0.0, atol=1e-6)
    assert head[1] < -0.4 and ankle[1] > 0.5  # camera y points down
    assert 1.2 < np.linalg.norm(head - ankle) < 2.2  # a human-sized person in metres


def test_lift_tolerates_missing_joints() -> None:
    lifter = dl.load_default_lifter()
    keypoints = _standing_person_pixels()
    scores = np.ones((1, 17))
    keypoints[0, H36M_17.index("right_wrist")] = np.nan
    scores[0, H36M_17.index("left_ankle")] = 0.0
    assert np.isfinite(lifter.lift(keypoints, scores, image_size=(640, 480))).all()


def test_normalisation_round_trips_and_is_invariant_to_position_and_size() -> None:
    rng = np.random.default_rng(3)
    keypoints = rng.uniform(100, 500, (4, 17, 2))
    scores = rng.uniform(0.5, 1.0, (4, 17))
    scores[1, 5] = 0.05  # below the threshold
    normalised = dl.normalise_keypoints(keypoints, scores)
    assert normalised.features.shape == (4, 17, 3) and normalised.features.dtype == np.float32
    np.testing.assert_array_equal(normalised.features[1, 5], 0.0)
    back = dl.denormalise_keypoints(normalised.features, normalised.centre, normalised.scale)
    valid = scores >= dl.NORMALISATION["score_threshold"]
    np.testing.assert_allclose(back[valid], keypoints[valid], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(normalised.features[:, dl._PELVIS, :2], 0.0)
    # The valid joints' box spans 2 units along its longer side.
    xy = np.where(valid[..., None], normalised.features[..., :2], np.nan)
    box_size = np.nanmax(np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1), axis=-1)
    np.testing.assert_allclose(box_size, 2.0, rtol=1e-5)

    moved = dl.normalise_keypoints(3.0 * keypoints + 50.0, scores)
    np.testing.assert_allclose(moved.features, normalised.features, atol=1e-5)


def test_committed_lifter_accuracy_on_held_out_cmu_views(shared_data: Path) -> None:
    lifter = dl.load_default_lifter()
    test_frames = dlt.MocapFrames.from_split(shared_data / "cmu_mocap", "test")
    noisy = dlt.evaluate_lifter_on_mocap(lifter, test_frames, seed=1, num_samples=4096, noisy=True)
    clean = dlt.evaluate_lifter_on_mocap(lifter, test_frames, seed=1, num_samples=4096, noisy=False)
    assert noisy["mpjpe_mm"] < 83.0 and noisy["p_mpjpe_mm"] < 52.0
    assert clean["mpjpe_mm"] < noisy["mpjpe_mm"] and clean["p_mpjpe_mm"] < noisy["p_mpjpe_mm"]


def test_committed_lifter_accuracy_on_h36m_frames_with_true_2d(shared_data: Path) -> None:
    lifter = dl.load_default_lifter()
    metrics = dlt.evaluate_lifter_on_h36m_frames(lifter, shared_data / "h36m_frames" / "test_h36m_body3d.npz")
    assert metrics["mpjpe_mm"] < 100.0 and metrics["p_mpjpe_mm"] < 64.0


def test_virtual_view_looks_straight_at_the_person() -> None:
    distortion = np.array([-0.2, 0.05, 0, 0, 0])
    camera = CameraModel.from_intrinsics(400.0, 400.0, 319.5, 239.5, 640, 480, D=distortion)
    rng = np.random.default_rng(4)
    roots = np.array([[-1.5, 0.4, 2.5], [0.0, 0.0, 4.0], [2.0, -0.5, 3.0]])
    people = rng.normal(0, 0.3, (3, 17, 3)) + roots[:, None]
    pixels = camera.project(people)
    view = dl.virtual_view(pixels, np.ones((3, 17)), camera)
    np.testing.assert_allclose(view.points[:, dl._PELVIS], 0.0, atol=1e-9)  # the pelvis on the optical axis
    rays = np.concatenate([view.points, np.ones((3, 17, 1))], axis=-1) @ view.rotation.transpose(0, 2, 1)
    direction = people / np.linalg.norm(people, axis=-1, keepdims=True)
    np.testing.assert_allclose(rays / np.linalg.norm(rays, axis=-1, keepdims=True), direction, atol=1e-6)
    identity = np.broadcast_to(np.eye(3), (3, 3, 3))
    np.testing.assert_allclose(view.rotation @ view.rotation.transpose(0, 2, 1), identity, atol=1e-12)


def test_camera_lifter_predicts_the_same_person_rotated_at_the_edge_of_a_wide_lens() -> None:
    """A person seen 40 deg off the axis of a 100 deg camera is lifted as the one in the middle, turned."""
    model = create_model("simple_lifter", **{**dlt.DEFAULT_MODEL_KWARGS, "hidden": 32, "num_blocks": 1})
    lifter = dl.DefaultLifter(model.eval())
    camera = CameraModel.from_intrinsics(270.0, 270.0, 319.5, 239.5, 640, 480)
    walker = walking_skeleton(1, distance_m=3.0)[0]
    centred = walker - walker[0] + np.array([0.0, 0.0, 3.0])
    turn = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    edge = centred @ turn.T  # the same body, carried round the camera centre
    predicted = lifter.lift(camera.project(np.stack([centred, edge])), np.ones((2, 17)), camera)
    np.testing.assert_allclose(predicted[1], predicted[0] @ turn.T, atol=1e-5)
    with pytest.raises(ValueError, match="camera"):
        lifter.lift(camera.project(centred[None]), np.ones((1, 17)))


def test_first_release_lifters_still_load_and_ignore_the_camera() -> None:
    kwargs = {**dlt.DEFAULT_MODEL_KWARGS, "hidden": 16, "num_blocks": 1}
    model = create_model("simple_lifter", **kwargs).eval()
    old = dl.DefaultLifter(model, dl.PIXEL_NORMALISATION)
    pixels = _standing_person_pixels()
    np.testing.assert_allclose(old.lift(pixels), old.lift_features(dl.normalise_keypoints(pixels).features))
    with pytest.raises(ValueError, match="normalisation"):
        dl.DefaultLifter(model, {"name": "something_else", "score_threshold": 0.2})
