"""Joint sets, flipping and joint-set conversion."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.core.joints import (
    BLAZEPOSE_33,
    COCO_17,
    H36M_17,
    JOINT_SETS,
    SMPL_24,
    JointSet,
    SkeletonType,
    convert_joints,
    flip_joints,
    get_joint_set,
    joint_mapping,
)

SKELETON_MSG = Path(__file__).resolve().parents[2] / "msg" / "msg" / "Skeleton3D.msg"
ALL_SETS = list(JOINT_SETS.values())


def _message_constants(prefix: str) -> dict[str, int]:
    text = SKELETON_MSG.read_text()
    return {name: int(value) for name, value in re.findall(rf"^uint8 {prefix}_(\w+) = (\d+)$", text, re.M)}


@pytest.mark.parametrize(("prefix", "joint_set"), [("H36M", H36M_17), ("COCO", COCO_17), ("SMPL", SMPL_24)])
def test_orders_match_skeleton3d_message(prefix: str, joint_set: JointSet) -> None:
    constants = _message_constants(prefix)
    assert len(constants) == len(joint_set)
    for name, index in constants.items():
        assert joint_set.index(name.lower()) == index


def test_skeleton_types_match_message() -> None:
    constants = _message_constants("SKELETON")
    assert {name: int(value) for name, value in SkeletonType.__members__.items()} == constants
    for skeleton_type in SkeletonType:
        assert get_joint_set(skeleton_type).skeleton_type is skeleton_type
    assert BLAZEPOSE_33.skeleton_type is None


def test_blazepose_follows_mediapipe_landmark_order() -> None:
    expected = {
        "nose": 0, "left_eye_inner": 1, "left_eye": 2, "left_eye_outer": 3, "right_eye_inner": 4,
        "right_eye_outer": 6, "left_ear": 7, "right_ear": 8, "mouth_left": 9, "mouth_right": 10,
        "left_shoulder": 11, "right_elbow": 14, "left_wrist": 15, "right_pinky": 18, "left_index": 19,
        "right_thumb": 22, "left_hip": 23, "right_knee": 26, "left_heel": 29, "right_foot_index": 32,
    }  # fmt: skip
    assert len(BLAZEPOSE_33) == 33
    for name, index in expected.items():
        assert BLAZEPOSE_33.index(name) == index


@pytest.mark.parametrize("joint_set", ALL_SETS, ids=lambda s: s.name)
def test_tree_and_flip_pairs_are_consistent(joint_set: JointSet) -> None:
    names = joint_set.joint_names
    assert len(joint_set.bones) == len(joint_set) - 1
    assert joint_set.parents[joint_set.root] == -1
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in names)
    for left, right in joint_set.flip_pairs:
        assert names[left].replace("left", "right") == names[right]
    # every joint with a side has its counterpart in the pairs; joints on the midline map to themselves
    permutation = joint_set.flip_permutation
    np.testing.assert_array_equal(permutation[permutation], np.arange(len(joint_set)))
    for i, name in enumerate(names):
        assert (permutation[i] != i) == ("left" in name or "right" in name)


def test_bones_and_index() -> None:
    assert (H36M_17.index("thorax"), H36M_17.index("left_shoulder")) in H36M_17.bones
    assert (SMPL_24.index("left_wrist"), SMPL_24.index("left_hand")) in SMPL_24.bones
    with pytest.raises(KeyError, match="h36m_17 has no joint 'nose'.*pelvis"):
        H36M_17.index("nose")


def test_get_joint_set_by_name_type_and_value() -> None:
    assert get_joint_set("coco_17") is COCO_17
    assert get_joint_set("H36M_17") is H36M_17
    assert get_joint_set(2) is SMPL_24
    assert get_joint_set(BLAZEPOSE_33) is BLAZEPOSE_33
    with pytest.raises(KeyError, match="unknown joint set 'mpii'.*h36m_17.*blazepose_33"):
        get_joint_set("mpii")
    with pytest.raises(KeyError, match="unknown skeleton type 7"):
        get_joint_set(7)


def test_invalid_joint_set_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not lead to the root"):
        JointSet("loop", ("a", "b", "c"), (-1, 2, 1), (), 0, None)
    with pytest.raises(ValueError, match="parents for"):
        JointSet("short", ("a", "b"), (-1,), (), 0, None)


@pytest.mark.parametrize("joint_set", ALL_SETS, ids=lambda s: s.name)
def test_flip_twice_is_identity(joint_set: JointSet) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 640, (2, 5, len(joint_set), 3))  # x, y, score
    np.testing.assert_allclose(flip_joints(flip_joints(pixels, joint_set, 640), joint_set, 640), pixels)
    points = rng.normal(size=(4, len(joint_set), 3))
    np.testing.assert_allclose(flip_joints(flip_joints(points, joint_set), joint_set), points)


def test_flip_swaps_sides_and_mirrors_x() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.uniform(0, 100, (3, 17, 3))
    flipped = flip_joints(pixels, COCO_17, image_width=100)
    left, right, nose = COCO_17.index("left_wrist"), COCO_17.index("right_wrist"), COCO_17.index("nose")
    np.testing.assert_allclose(flipped[:, left, 0], 99 - pixels[:, right, 0])
    np.testing.assert_allclose(flipped[:, left, 1:], pixels[:, right, 1:])  # y and score only move
    np.testing.assert_allclose(flipped[:, nose, 0], 99 - pixels[:, nose, 0])

    points = rng.normal(size=(17, 3))
    flipped_3d = flip_joints(points, "h36m_17")
    left, right = H36M_17.index("left_knee"), H36M_17.index("right_knee")
    np.testing.assert_allclose(flipped_3d[right], points[left] * [-1, 1, 1])
    with pytest.raises(ValueError, match="expected"):
        flip_joints(points[:16], H36M_17)


@pytest.mark.parametrize("joint_set", ALL_SETS, ids=lambda s: s.name)
def test_identity_mapping(joint_set: JointSet) -> None:
    points = np.random.default_rng(2).normal(size=(3, len(joint_set), 2))
    converted = convert_joints(points, joint_set, joint_set, scores=np.ones(points.shape[:-1]))
    np.testing.assert_array_equal(converted.points, points)
    assert converted.defined.all() and np.all(converted.scores == 1)


MAPPED_PAIRS = [
    (COCO_17, H36M_17),
    (BLAZEPOSE_33, COCO_17),
    (BLAZEPOSE_33, H36M_17),
    (SMPL_24, H36M_17),
    (H36M_17, COCO_17),
    (SMPL_24, COCO_17),
]


@pytest.mark.parametrize(("source", "target"), MAPPED_PAIRS, ids=lambda s: s.name)
def test_mappings_are_affine_and_commute_with_flipping(source: JointSet, target: JointSet) -> None:
    mapping = joint_mapping(source, target)
    assert mapping.weights.shape == (len(target), len(source))
    np.testing.assert_allclose(mapping.weights.sum(axis=1), mapping.defined.astype(float))
    rng = np.random.default_rng(3)
    points = rng.normal(size=(2, 4, len(source), 3))
    converted = convert_joints(points, source, target).points
    assert converted.shape == (2, 4, len(target), 3)
    shift = rng.normal(size=3)
    np.testing.assert_allclose(convert_joints(points + shift, source, target).points, converted + shift)
    # left/right symmetric rules: converting a mirrored pose gives the mirrored converted pose
    np.testing.assert_allclose(
        convert_joints(flip_joints(points, source), source, target).points,
        flip_joints(converted, target),
        equal_nan=True,
    )
    assert np.isnan(converted[..., ~mapping.defined, :]).all()
    assert not np.isnan(converted[..., mapping.defined, :]).any()


def test_coco_to_h36m_synthesis() -> None:
    rng = np.random.default_rng(4)
    coco = rng.normal(size=(5, 17, 2))
    scores = rng.uniform(size=(5, 17))
    result = convert_joints(coco, COCO_17, H36M_17, scores)
    h36m, c = result.points, COCO_17.index

    def h(name: str) -> np.ndarray:
        return h36m[:, H36M_17.index(name)]

    pelvis = (coco[:, c("left_hip")] + coco[:, c("right_hip")]) / 2
    thorax = (coco[:, c("left_shoulder")] + coco[:, c("right_shoulder")]) / 2
    np.testing.assert_allclose(h("pelvis"), pelvis)
    np.testing.assert_allclose(h("thorax"), thorax)
    np.testing.assert_allclose(h("spine"), (pelvis + thorax) / 2)
    np.testing.assert_allclose(h("neck"), coco[:, c("nose")])
    eyes_ears = COCO_17.indices(["left_eye", "right_eye", "left_ear", "right_ear"])
    np.testing.assert_allclose(h("head"), coco[:, eyes_ears].mean(1))
    np.testing.assert_allclose(h("right_elbow"), coco[:, c("right_elbow")])
    assert result.defined.all()
    # a synthesised joint is as confident as its weakest source
    spine_sources = [c("left_hip"), c("right_hip"), c("left_shoulder"), c("right_shoulder")]
    np.testing.assert_allclose(result.scores[:, H36M_17.index("spine")], scores[:, spine_sources].min(1))
    np.testing.assert_allclose(result.scores[:, H36M_17.index("left_ankle")], scores[:, c("left_ankle")])


def test_blazepose_to_h36m_goes_through_coco() -> None:
    blaze = np.random.default_rng(5).normal(size=(3, 33, 3))
    coco = convert_joints(blaze, BLAZEPOSE_33, COCO_17).points
    for name in COCO_17.joint_names:  # direct picks
        np.testing.assert_array_equal(coco[:, COCO_17.index(name)], blaze[:, BLAZEPOSE_33.index(name)])
    np.testing.assert_allclose(
        convert_joints(blaze, BLAZEPOSE_33, H36M_17).points, convert_joints(coco, COCO_17, H36M_17).points
    )


def test_partial_mappings_mark_missing_joints() -> None:
    rng = np.random.default_rng(6)
    smpl = convert_joints(rng.normal(size=(24, 3)), SMPL_24, H36M_17, scores=np.ones(24))
    head = H36M_17.index("head")
    assert not smpl.defined[head] and smpl.defined.sum() == 16
    assert np.isnan(smpl.points[head]).all() and smpl.scores[head] == 0

    h36m = rng.normal(size=(17, 2))
    coco = convert_joints(h36m, H36M_17, COCO_17)
    eyes_ears = COCO_17.indices(["left_eye", "right_eye", "left_ear", "right_ear"])
    assert not coco.defined[eyes_ears].any() and coco.defined.sum() == 13
    np.testing.assert_array_equal(coco.points[COCO_17.index("nose")], h36m[H36M_17.index("neck")])

    with pytest.raises(KeyError, match="no joint mapping coco_17->smpl_24; available: .*coco_17->h36m_17"):
        joint_mapping(COCO_17, SMPL_24)


def test_nan_sources_only_spread_to_joints_made_from_them() -> None:
    coco = np.random.default_rng(7).normal(size=(17, 2))
    coco[COCO_17.index("left_ear")] = np.nan
    h36m = convert_joints(coco, COCO_17, H36M_17).points
    assert np.isnan(h36m[H36M_17.index("head")]).all()
    assert not np.isnan(np.delete(h36m, H36M_17.index("head"), axis=0)).any()


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 17, D\) points for coco_17"):
        convert_joints(np.zeros((16, 2)), COCO_17, H36M_17)
    with pytest.raises(ValueError, match="scores must have shape"):
        convert_joints(np.zeros((17, 2)), COCO_17, H36M_17, scores=np.zeros(16))


def test_h36m_synthesis_approximates_real_h36m_joints(shared_data) -> None:
    """On real H36M poses, rebuilding the torso from limb joints lands near H36M's own joints."""
    poses = np.load(shared_data / "h36m_frames" / "test_h36m_body3d.npz")["S"][..., :3]  # metres
    via_coco = convert_joints(convert_joints(poses, H36M_17, COCO_17).points, COCO_17, H36M_17).points
    error = np.linalg.norm(via_coco - poses, axis=-1)
    assert error[:, H36M_17.index("pelvis")].max() < 1e-3  # H36M's pelvis is the mid-hip point
    assert error[:, H36M_17.indices(["spine", "thorax"])].max() < 0.10
    limbs = [i for i, name in enumerate(H36M_17.joint_names) if "left" in name or "right" in name]
    assert error[:, limbs].max() < 1e-9
