"""Sitting, crouching, bending and reaching poses synthesised from mocap frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.training import cmu_mocap
from hpe_ros.training.pose_synthesis import floor_root_height, synthesise_poses

_J = {name: index for index, name in enumerate(cmu_mocap.CMU_JOINT_NAMES)}


@pytest.fixture
def walking(shared_data: Path) -> cmu_mocap.CmuSequence:
    return cmu_mocap.read_cmu_sequence(shared_data / "cmu_mocap" / "train" / "walking" / "walking_1.txt")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_synthesis_bends_hips_and_knees_within_human_limits(walking: cmu_mocap.CmuSequence) -> None:
    frames = walking.rotations[::10]
    rng = np.random.default_rng(0)
    bent = synthesise_poses(frames, rng)
    assert bent.shape == frames.shape and np.isfinite(bent).all()
    np.testing.assert_array_equal(synthesise_poses(frames, np.random.default_rng(0)), bent)  # seeded
    root = walking.root_position[::10]
    before, after = (cmu_mocap.forward_kinematics(root, r).positions for r in (frames, bent))
    for positions, expect_bent in ((before, False), (after, True)):
        thigh = positions[:, _J["left_knee"]] - positions[:, _J["left_hip"]]
        shank = positions[:, _J["left_ankle"]] - positions[:, _J["left_knee"]]
        knee = _angle_deg(thigh, shank)  # 0 = straight leg
        assert (knee < 160).all()
        assert (np.median(knee) > 60) == expect_bent
    # bone lengths never change
    np.testing.assert_allclose(cmu_mocap.bone_lengths(after), cmu_mocap.bone_lengths(before), atol=1e-9)


def test_feet_go_back_to_the_floor(walking: cmu_mocap.CmuSequence) -> None:
    frames = walking.rotations[::25]
    bent = synthesise_poses(frames, np.random.default_rng(1))
    pose = cmu_mocap.forward_kinematics(walking.root_position[::25], bent)
    lift = floor_root_height(pose)
    assert (lift > 0.05).mean() > 0.5  # bent legs raise the feet when the pelvis stays where it was
    lowered = pose.positions - lift[:, None, None] * np.eye(3)[cmu_mocap.UP_AXIS]
    feet = lowered[:, [_J["left_ankle"], _J["right_ankle"], _J["left_toe_base"], _J["right_toe_base"]], 1]
    np.testing.assert_allclose(feet.min(axis=1), 0.0, atol=1e-9)
