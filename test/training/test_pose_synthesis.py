"""Sitting, crouching, bending and reaching poses synthesised from mocap frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.training import cmu_mocap
from hpe_ros.training.pose_synthesis import (
    FAMILIES,
    FAMILY_SETS,
    SEATED_FAMILIES,
    floor_root_height,
    synthesise_poses,
)

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


def _knee_spread_and_angle(root: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: knee distance / hip distance, and the left knee's flexion (0 = straight)."""
    positions = cmu_mocap.forward_kinematics(root, rotations).positions
    knees = np.linalg.norm(positions[:, _J["left_knee"]] - positions[:, _J["right_knee"]], axis=-1)
    hips = np.linalg.norm(positions[:, _J["left_hip"]] - positions[:, _J["right_hip"]], axis=-1)
    thigh = positions[:, _J["left_knee"]] - positions[:, _J["left_hip"]]
    shank = positions[:, _J["left_ankle"]] - positions[:, _J["left_knee"]]
    return knees / hips, _angle_deg(thigh, shank)


def test_seated_families_spread_the_knees_or_stretch_the_legs(walking: cmu_mocap.CmuSequence) -> None:
    frames, root = walking.rotations[::5], walking.root_position[::5]
    by_name = {family.name: family for family in SEATED_FAMILIES}
    chair = synthesise_poses(frames, np.random.default_rng(0), arm_rate=0.0, families=FAMILIES[:1])
    knees_out = synthesise_poses(frames, np.random.default_rng(0), arm_rate=0.0,
                                 families=(by_name["sitting_on_the_floor_knees_out"],))
    legs_out = synthesise_poses(frames, np.random.default_rng(0), arm_rate=0.0,
                                families=(by_name["sitting_on_the_floor_legs_out"],))
    chair_spread, chair_knee = _knee_spread_and_angle(root, chair)
    out_spread, out_knee = _knee_spread_and_angle(root, knees_out)
    _, straight_knee = _knee_spread_and_angle(root, legs_out)
    assert np.median(out_spread) > 1.3 * np.median(chair_spread)  # knees apart, not only bent
    assert np.median(out_knee) > 90 and np.median(chair_knee) > 60
    # legs out: the frame's own knee bend (walking) plus at most 40 deg, far straighter than on a chair
    assert np.median(straight_knee) < min(60.0, np.median(chair_knee) - 30.0)
    for bent in (chair, knees_out, legs_out):
        np.testing.assert_allclose(
            cmu_mocap.bone_lengths(cmu_mocap.forward_kinematics(root, bent).positions),
            cmu_mocap.bone_lengths(cmu_mocap.forward_kinematics(root, frames).positions), atol=1e-9,
        )


def test_family_sets_keep_the_standard_draws(walking: cmu_mocap.CmuSequence) -> None:
    frames = walking.rotations[::10]
    assert FAMILY_SETS["standard"] == FAMILIES and FAMILY_SETS["seated"][: len(FAMILIES)] == FAMILIES
    np.testing.assert_array_equal(
        synthesise_poses(frames, np.random.default_rng(4)),
        synthesise_poses(frames, np.random.default_rng(4), families=FAMILY_SETS["standard"]),
    )
    seated = synthesise_poses(frames, np.random.default_rng(4), families=FAMILY_SETS["seated"])
    assert not np.array_equal(seated, synthesise_poses(frames, np.random.default_rng(4)))
