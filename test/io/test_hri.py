"""ROS4HRI (REP-155) outputs: body ids, normalised 2D skeletons and regions, body frames on /tf."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.core.joints import COCO_17, H36M_17
from hpe_ros.io.hri import (
    SKELETON2D_JOINTS,
    body_frame,
    body_id,
    hri_messages,
    quaternion_from_matrix,
    skeleton2d_points,
    tracked_bodies,
)
from hpe_ros.io.message_classes import RclpyMessageClasses, RosbagsMessageClasses
from hpe_ros.io.typestore import hpe_typestore
from hpe_ros.pipelines.base import PersonPose, PoseResult

HRI_TYPES = ["hri_msgs/msg/IdsList", "hri_msgs/msg/Skeleton2D", "hri_msgs/msg/NormalizedPointOfInterest2D",
             "hri_msgs/msg/NormalizedRegionOfInterest2D"]
IMAGE_SIZE = (640, 480)

# An upright person in REP-155's body frame (x forward, y to the person's left, z up), origin mid-hip.
BODY_POSE = {
    "pelvis": (0.0, 0.0, 0.0), "right_hip": (0.0, -0.12, 0.0), "right_knee": (0.02, -0.12, -0.45),
    "right_ankle": (0.0, -0.12, -0.88), "left_hip": (0.0, 0.12, 0.0), "left_knee": (0.02, 0.12, -0.45),
    "left_ankle": (0.0, 0.12, -0.88), "spine": (0.0, 0.0, 0.25), "thorax": (0.0, 0.0, 0.5),
    "neck": (0.08, 0.0, 0.62), "head": (0.02, 0.0, 0.75), "left_shoulder": (0.0, 0.18, 0.48),
    "left_elbow": (0.0, 0.2, 0.2), "left_wrist": (0.1, 0.2, 0.0), "right_shoulder": (0.0, -0.18, 0.48),
    "right_elbow": (0.0, -0.2, 0.2), "right_wrist": (0.1, -0.2, 0.0),
}
BODY_JOINTS = np.array([BODY_POSE[name] for name in H36M_17.joint_names])


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _matrix(q) -> np.ndarray:
    x, y, z, w = q.x, q.y, q.z, q.w
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _person(joints: np.ndarray, track_id: str = "p1", metric: bool = True, **fields) -> PersonPose:
    return PersonPose(H36M_17, np.asarray(joints, dtype=np.float64), np.ones(17, np.float32), metric,
                      track_id=track_id, **fields)


# Facing the camera: the person's front is the camera's -z, their left the image's right (+x), up -y.
FACING_CAMERA = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # body -> camera optical


def test_body_ids_are_ros_name_tokens() -> None:
    assert [body_id(t) for t in ("p1", "p2", "replay_0")] == ["p1", "p2", "replay_0"]
    assert body_id("Person-7") == "person_7"
    assert body_id("7") == "b7" and body_id("_x") == "b_x"
    assert body_id("a  b") == "a_b"  # no repeated underscores
    validate = pytest.importorskip("rclpy.validate_full_topic_name").validate_full_topic_name
    for track_id in ("Person-7", "7", "__", "ü/x y", "%", "a..b"):
        validate(f"/humans/bodies/{body_id(track_id)}/skeleton2d")  # raises if invalid


def test_only_tracked_people_count_and_ids_stay_unique() -> None:
    joints = BODY_JOINTS + [0, 0, 3]
    people = [_person(joints, "P-1"), _person(joints, ""), _person(joints, "p_1"), _person(joints, "p2")]
    bodies = tracked_bodies(PoseResult(1, "cam", people))
    assert [b for b, _ in bodies] == ["p_1", "p_1_2", "p2"]  # the tentative track ("") is left out
    assert [p for _, p in bodies] == [people[0], people[2], people[3]]


def test_skeleton2d_is_normalised_in_openpose_order() -> None:
    keypoints = np.stack([np.linspace(10, 630, 17), np.linspace(400, 20, 17)], axis=1).astype(np.float32)
    keypoints[H36M_17.index("right_ankle")] = [700.0, -5.0]  # outside the image: clipped
    scores = np.linspace(0.2, 1.0, 17).astype(np.float32)
    person = _person(BODY_JOINTS, keypoints_2d=keypoints, scores_2d=scores)
    points = skeleton2d_points(person, IMAGE_SIZE)
    assert points.shape == (18, 3)
    size = np.array(IMAGE_SIZE, dtype=np.float64)
    for index, name in enumerate(SKELETON2D_JOINTS):
        if name in ("right_ankle", None, "left_eye", "right_eye", "left_ear", "right_ear"):
            continue
        source = H36M_17.index("neck" if name == "nose" else name)  # H36M's neck/nose stands for the nose
        np.testing.assert_allclose(points[index, :2], keypoints[source] / size, rtol=1e-6)
        assert points[index, 2] == pytest.approx(scores[source])
    np.testing.assert_allclose(points[SKELETON2D_JOINTS.index("right_ankle"), :2], [1.0, 0.0])
    shoulders = H36M_17.indices(["left_shoulder", "right_shoulder"])
    np.testing.assert_allclose(points[1, :2], keypoints[shoulders].mean(axis=0) / size, rtol=1e-6)  # NECK
    assert points[1, 2] == pytest.approx(scores[shoulders].min())
    np.testing.assert_array_equal(points[14:], 0.0)  # H36M has no eyes or ears: unknown points are zeros
    assert 0.0 <= points.min() and points.max() <= 1.0


def test_skeleton2d_from_coco_keeps_eyes_and_ears() -> None:
    keypoints = np.stack([np.arange(17) * 30.0 + 5, np.arange(17) * 20.0 + 5], axis=1).astype(np.float32)
    person = PersonPose(COCO_17, np.zeros((17, 3)), np.full(17, 0.5, np.float32), False,
                        keypoints_2d=keypoints, track_id="p1")
    points = skeleton2d_points(person, IMAGE_SIZE)
    for index in (0, 14, 15, 16, 17):
        np.testing.assert_allclose(points[index, :2], keypoints[COCO_17.index(SKELETON2D_JOINTS[index])] /
                                   np.array(IMAGE_SIZE), rtol=1e-6)
        assert points[index, 2] == pytest.approx(0.5)  # no 2D scores: the joints' confidence


def test_region_of_interest_from_the_box_or_the_keypoints() -> None:
    classes = RosbagsMessageClasses()
    keypoints = np.stack([np.linspace(100, 300, 17), np.linspace(50, 450, 17)], axis=1).astype(np.float32)
    box = np.array([64, 48, 320, 480, 0.9], np.float32)
    boxed = _person(BODY_JOINTS, "p1", box=box, keypoints_2d=keypoints)
    unboxed = _person(BODY_JOINTS, "p2", keypoints_2d=keypoints)
    messages = hri_messages(classes, PoseResult(5, "cam", [boxed, unboxed], image_size=IMAGE_SIZE))
    first, second = (b.roi for b in messages.bodies)
    assert (first.xmin, first.ymin, first.xmax, first.ymax) == pytest.approx((0.1, 0.1, 0.5, 1.0))
    assert first.c == pytest.approx(0.9) and first.header.frame_id == "cam"
    extent = (100 / 640, 50 / 480, 300 / 640, 450 / 480)  # no box: the keypoints' extent
    assert (second.xmin, second.ymin, second.xmax, second.ymax) == pytest.approx(extent)
    assert second.c == pytest.approx(1.0)


def test_body_frame_follows_rep155_axes_for_a_person_facing_the_camera() -> None:
    origin = np.array([0.3, 0.1, 3.0])
    frame = body_frame(_person(BODY_JOINTS @ FACING_CAMERA.T + origin))
    np.testing.assert_allclose(frame.origin, origin, atol=1e-12)
    x, y, z = frame.rotation.T
    np.testing.assert_allclose(x, [0, 0, -1], atol=1e-12)  # out of the body's front: towards the camera
    np.testing.assert_allclose(y, [1, 0, 0], atol=1e-12)  # the person's left: the image's right
    np.testing.assert_allclose(z, [0, -1, 0], atol=1e-12)  # towards the head: up, the optical frame's -y
    behind = body_frame(_person(BODY_JOINTS @ (_rotation([0, 1, 0], np.pi) @ FACING_CAMERA).T + origin))
    np.testing.assert_allclose(behind.rotation.T[0], [0, 0, 1], atol=1e-12)  # turned away: x looks away


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tf_frames_put_body_and_links_where_the_joints_are(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rotation = _rotation(rng.normal(size=3), rng.uniform(-np.pi, np.pi)) @ FACING_CAMERA
    origin = rng.uniform([-1, -0.5, 2], [1, 0.5, 6])
    joints = BODY_JOINTS @ rotation.T + origin
    tentative = _person(joints, "")
    relative = _person(joints - joints[0], "p9", metric=False)
    result = PoseResult(42, "camera_optical_frame", [_person(joints, "P1"), tentative, relative],
                        image_size=IMAGE_SIZE)
    messages = hri_messages(RosbagsMessageClasses(), result)
    assert messages.tracked.ids == ["p1", "p9"] and messages.tracked.header.frame_id == "camera_optical_frame"
    by_child = {t.child_frame_id: t for t in messages.tf.transforms}  # root-relative p9 has no frames
    parts = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    limbs = {f"{side}_{part}_p1" for side in "lr" for part in parts}
    assert set(by_child) == {"body_p1", "head_p1", "torso_p1"} | limbs
    body = by_child.pop("body_p1")
    assert body.header.frame_id == "camera_optical_frame" and body.header.stamp.nanosec == 42
    t = body.transform.translation
    np.testing.assert_allclose([t.x, t.y, t.z], origin, atol=1e-9)
    np.testing.assert_allclose(_matrix(body.transform.rotation), rotation, atol=1e-9)
    head = (np.array(BODY_POSE["neck"]) + BODY_POSE["head"]) / 2  # H36M's neck/nose and head top
    expected = {"head": head, "torso": (0.0, 0.0, 0.48), "l_wrist": BODY_POSE["left_wrist"]}
    for link, xyz in expected.items():
        child = by_child[f"{link}_p1"]
        assert child.header.frame_id == "body_p1"
        tr, q = child.transform.translation, child.transform.rotation
        np.testing.assert_allclose([tr.x, tr.y, tr.z], xyz, atol=1e-9)  # in the body frame
        assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)


def test_quaternion_from_matrix_round_trips() -> None:
    rng = np.random.default_rng(3)
    for angle in (0.0, np.pi, *rng.uniform(-np.pi, np.pi, 20)):
        rotation = _rotation(rng.normal(size=3), angle)
        x, y, z, w = quaternion_from_matrix(rotation)
        q = type("Q", (), {"x": x, "y": y, "z": z, "w": w})
        np.testing.assert_allclose(_matrix(q), rotation, atol=1e-9)
        assert w >= 0 and np.isclose(np.linalg.norm([x, y, z, w]), 1.0)


def test_no_image_size_no_per_body_topics_and_no_hips_no_frame() -> None:
    joints = BODY_JOINTS + [0, 0, 3]
    keypoints = np.full((17, 2), 100.0, np.float32)
    result = PoseResult(1, "cam", [_person(joints, keypoints_2d=keypoints)])  # no image_size
    messages = hri_messages(RosbagsMessageClasses(), result)
    (body,) = messages.bodies
    assert messages.tracked.ids == ["p1"] and body.skeleton2d is None and body.roi is None
    joints[H36M_17.index("left_hip")] = np.nan
    assert body_frame(_person(joints)) is None


def _built_type_hash(type_name: str) -> str:
    package, _, name = type_name.split("/")
    path = Path(sys.prefix) / "share" / package / "msg" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{package} is not built into {sys.prefix}")
    return {h["type_name"]: h["hash_string"] for h in json.loads(path.read_text())["type_hashes"]}[type_name]


@pytest.mark.parametrize("type_name", HRI_TYPES)
def test_bag_types_hash_like_the_built_ones(type_name: str) -> None:
    """Bags get the live types' hashes (those equal upstream hri_msgs': see docs/architecture.md)."""
    assert hpe_typestore().hash_rihs01(type_name) == _built_type_hash(type_name)


def test_built_types_round_trip_and_match_the_bag_bytes() -> None:
    serialization = pytest.importorskip("rclpy.serialization")
    pytest.importorskip("hri_msgs.msg", reason="hri_msgs is not built (run `make venv`)")
    joints = BODY_JOINTS @ FACING_CAMERA.T + [0, 0, 3]
    keypoints = np.stack([np.linspace(10, 630, 17), np.linspace(400, 20, 17)], axis=1).astype(np.float32)
    result = PoseResult(1_700_000_000_123_456_789, "cam", [_person(joints, "p1", keypoints_2d=keypoints)],
                        image_size=IMAGE_SIZE)
    live, offline = hri_messages(RclpyMessageClasses(), result), hri_messages(RosbagsMessageClasses(), result)
    store = hpe_typestore()
    (live_body,), (offline_body,) = live.bodies, offline.bodies
    pairs = [(live.tracked, offline.tracked, HRI_TYPES[0]),
             (live_body.skeleton2d, offline_body.skeleton2d, HRI_TYPES[1]),
             (live_body.roi, offline_body.roi, HRI_TYPES[3])]
    for message, twin, type_name in pairs:
        data = serialization.serialize_message(message)
        back = serialization.deserialize_message(data, type(message))
        assert bytes(serialization.serialize_message(back)) == bytes(data)
        assert bytes(data) == bytes(store.serialize_cdr(twin, type_name))
    skeleton = serialization.deserialize_message(serialization.serialize_message(live_body.skeleton2d),
                                                 type(live_body.skeleton2d))
    np.testing.assert_allclose([[p.x, p.y, p.c] for p in skeleton.skeleton],
                               [[p.x, p.y, p.c] for p in offline_body.skeleton2d.skeleton], rtol=1e-6)
    assert len(live_body.skeleton2d.skeleton) == 18 and type(live_body.skeleton2d).LEFT_EAR == 16
