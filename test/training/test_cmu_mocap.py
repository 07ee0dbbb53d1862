"""CMU mocap parsing, forward kinematics and joint mappings on the reference sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.core.joints import BLAZEPOSE_33, H36M_17, convert_joints
from hpe_ros.training import cmu_mocap as cm


@pytest.fixture
def walking(shared_data: Path) -> cm.CmuSequence:
    return cm.read_cmu_sequence(shared_data / "cmu_mocap" / "test" / "walking" / "walking_1.txt")


def test_parse_gives_metres_and_expmaps(walking: cm.CmuSequence) -> None:
    assert walking.name == "walking_1" and walking.action == "walking"
    assert walking.rotations.shape == (walking.num_frames, 38, 3)
    assert walking.root_position.shape == (walking.num_frames, 3)
    # A walking person's pelvis is about a metre above the floor and travels several metres.
    height = walking.root_position[:, cm.UP_AXIS]
    assert 0.8 < np.median(height) < 1.2
    assert np.ptp(walking.root_position[:, 2]) > 2.0


def test_parse_rejects_wrong_width(tmp_path: Path) -> None:
    path = tmp_path / "bad_1.txt"
    path.write_text(",".join(["0"] * 99) + "\n")
    with pytest.raises(ValueError, match="117 values"):
        cm.read_cmu_sequence(path)


def test_expmap_to_matrix_is_rodrigues() -> None:
    rng = np.random.default_rng(0)
    matrices = cm.expmap_to_matrix(rng.normal(size=(50, 3)))
    identity = np.broadcast_to(np.eye(3), (50, 3, 3))
    np.testing.assert_allclose(matrices @ np.swapaxes(matrices, -1, -2), identity, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-12)
    quarter_turn_z = cm.expmap_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(quarter_turn_z @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(cm.expmap_to_matrix(np.zeros(3)), np.eye(3))


def test_rest_pose_is_the_sum_of_offsets() -> None:
    pose = cm.forward_kinematics(np.zeros(3), np.zeros((38, 3)))
    offsets = cm.CMU_OFFSETS_ASF * cm.ASF_UNIT_M
    for joint, parent in enumerate(cm.CMU_PARENTS[1:], start=1):
        np.testing.assert_allclose(pose.positions[joint] - pose.positions[parent], offsets[joint], atol=1e-12)


def test_bone_lengths_constant_and_plausible(walking: cm.CmuSequence) -> None:
    pose = cm.sequence_poses(walking)
    lengths = cm.bone_lengths(pose.positions)
    assert lengths.std(axis=0).max() < 1e-9
    left_thigh = lengths[0, cm.CMU_JOINT_NAMES.index("left_knee")]
    right_shin = lengths[0, cm.CMU_JOINT_NAMES.index("right_ankle")]
    assert 0.35 < left_thigh < 0.5 and 0.33 < right_shin < 0.48
    h36m = cm.cmu_to_h36m(pose)
    for name, length in cm.h36m_segment_lengths(h36m).items():
        low, high = cm.PLAUSIBLE_SEGMENTS_M[name][2:]
        assert low < length.min() and length.max() < high, name


def test_walker_is_upright_with_feet_near_the_floor(walking: cm.CmuSequence) -> None:
    pose = cm.sequence_poses(walking)
    h36m = cm.cmu_to_h36m(pose)
    up = cm.UP_AXIS
    head, pelvis = h36m[:, H36M_17.index("head"), up], h36m[:, H36M_17.index("pelvis"), up]
    assert np.all(head - pelvis > 0.5)
    ankles = h36m[:, H36M_17.indices(["left_ankle", "right_ankle"]), up]
    assert np.all(ankles.min(axis=1) < 0.2) and np.all(ankles > -0.1)
    # The nose is in front of the head's centre: facing the walking direction (+z or -z).
    velocity = np.gradient(pose.positions[:, 0, 2])
    head_base = pose.positions[:, cm.CMU_JOINT_NAMES.index("head_base"), 2]
    nose_ahead = h36m[:, H36M_17.index("neck"), 2] - head_base
    moving = np.abs(velocity) > 1e-3
    assert np.mean(np.sign(nose_ahead[moving]) == np.sign(velocity[moving])) > 0.9


def test_mappings_shapes_and_blazepose_synthesis(walking: cm.CmuSequence) -> None:
    pose = cm.forward_kinematics(walking.root_position[:5], walking.rotations[:5])
    h36m = cm.cmu_to_h36m(pose)
    blaze = cm.cmu_to_blazepose(pose)
    assert h36m.shape == (5, 17, 3) and np.isfinite(h36m).all()
    assert blaze.shape == (5, 33, 3)
    made = ~np.isnan(blaze).any(axis=-1)
    assert made[:, BLAZEPOSE_33.index("nose")].all() and not made[:, BLAZEPOSE_33.index("left_pinky")].any()
    from_blaze = convert_joints(blaze, BLAZEPOSE_33, H36M_17).points
    assert np.isfinite(from_blaze).all()
    same = H36M_17.indices(["left_knee", "right_ankle", "left_elbow", "right_wrist"])
    np.testing.assert_allclose(from_blaze[:, same], h36m[:, same])
    # BlazePose-style hips are wider than H36M's and the pelvis a little higher.
    hip_width = np.linalg.norm(from_blaze[:, 4] - from_blaze[:, 1], axis=-1)
    assert np.all(hip_width > np.linalg.norm(h36m[:, 4] - h36m[:, 1], axis=-1))
    pelvis = H36M_17.index("pelvis")
    assert np.all(from_blaze[:, pelvis, cm.UP_AXIS] > h36m[:, pelvis, cm.UP_AXIS])


def test_forward_kinematics_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="rotations"):
        cm.forward_kinematics(np.zeros((4, 3)), np.zeros((3, 38, 3)))
