"""Pipeline results <-> messages, identical for rclpy's classes and rosbags' classes."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import COCO_17, H36M_17, SMPL_24
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.message_classes import RclpyMessageClasses, RosbagsMessageClasses
from hpe_ros.io.messages import (
    body_to_smpl,
    camera_from_info,
    camera_to_info,
    faces_to_msg,
    make_header,
    result_to_body_array,
    result_to_skeleton_array,
    skeleton_array_to_result,
    stamp_to_ns,
)
from hpe_ros.io.typestore import hpe_typestore
from hpe_ros.pipelines.base import PersonPose, PoseResult, SMPLEstimate


def _classes() -> list:
    kinds = [RosbagsMessageClasses()]
    try:
        import hpe_ros_msgs.msg  # noqa: F401

        kinds.append(RclpyMessageClasses())
    except ImportError:
        pass
    return kinds


@pytest.fixture(params=_classes(), ids=lambda c: type(c).__name__)
def classes(request):
    return request.param


def _person(rng: np.random.Generator, joint_set=H36M_17, track_id: str = "7") -> PersonPose:
    n = joint_set.num_joints
    return PersonPose(
        joint_set=joint_set,
        joints_3d=rng.normal(size=(n, 3)) + [0, 0, 4],
        confidence=rng.uniform(size=n).astype(np.float32),
        metric=True,
        root_confidence=0.75,
        keypoints_2d=rng.uniform(0, 640, size=(n, 2)).astype(np.float32),
        scores_2d=rng.uniform(size=n).astype(np.float32),
        box=np.array([10, 20, 300, 400, 0.9], dtype=np.float32),
        track_id=track_id,
    )


def test_skeleton_array_round_trip(classes) -> None:
    rng = np.random.default_rng(0)
    result = PoseResult(stamp_ns=1_700_000_000_123_456_789, frame_id="cam",
                        people=[_person(rng), _person(rng, COCO_17, "b")])
    msg = result_to_skeleton_array(classes, result)
    assert stamp_to_ns(msg.header.stamp) == result.stamp_ns and msg.header.frame_id == "cam"
    assert [s.skeleton_type for s in msg.skeletons] == [0, 1]  # the message constants
    back = skeleton_array_to_result(msg)
    for original, restored in zip(result.people, back.people, strict=True):
        assert restored.joint_set is original.joint_set and restored.track_id == original.track_id
        np.testing.assert_allclose(restored.joints_3d, original.joints_3d, atol=1e-12)
        np.testing.assert_allclose(restored.confidence, original.confidence, atol=1e-7)
        np.testing.assert_allclose(restored.keypoints_2d, original.keypoints_2d, atol=1e-4)
        np.testing.assert_allclose(restored.box, original.box, atol=1e-6)
        assert restored.metric and restored.root_confidence == pytest.approx(0.75)


def test_empty_result_still_gives_a_stamped_message(classes) -> None:
    msg = result_to_skeleton_array(classes, PoseResult(stamp_ns=5, frame_id="cam"))
    assert len(msg.skeletons) == 0 and stamp_to_ns(msg.header.stamp) == 5


def test_rosbags_messages_serialise_and_come_back() -> None:
    classes = RosbagsMessageClasses()
    store = hpe_typestore()
    msg = result_to_skeleton_array(classes, PoseResult(1, "cam", [_person(np.random.default_rng(1))]))
    raw = store.serialize_cdr(msg, msg.__msgtype__)
    again = store.deserialize_cdr(raw, msg.__msgtype__)
    np.testing.assert_allclose(skeleton_array_to_result(again).people[0].joints_3d,
                               skeleton_array_to_result(msg).people[0].joints_3d)


def test_rclpy_and_rosbags_produce_identical_bytes() -> None:
    rclpy_serialization = pytest.importorskip("rclpy.serialization")
    pytest.importorskip("hpe_ros_msgs.msg")
    result = PoseResult(42, "cam", [_person(np.random.default_rng(2))])
    from_rclpy = rclpy_serialization.serialize_message(
        result_to_skeleton_array(RclpyMessageClasses(), result)
    )
    bag_msg = result_to_skeleton_array(RosbagsMessageClasses(), result)
    from_rosbags = hpe_typestore().serialize_cdr(bag_msg, bag_msg.__msgtype__)
    assert bytes(from_rclpy) == bytes(from_rosbags)


def _smpl_person(rng: np.random.Generator, vertices: bool = True) -> PersonPose:
    smpl = SMPLEstimate(betas=rng.normal(size=10), body_pose=rng.normal(size=(24, 3)),
                        translation=np.array([0, 0, 3.0]), joints=rng.normal(size=(24, 3)),
                        vertices=rng.normal(size=(50, 3)).astype(np.float32) if vertices else None,
                        gender="female")
    return PersonPose(SMPL_24, smpl.joints, np.ones(24, np.float32), metric=True, smpl=smpl, track_id="4")


def _assert_same_body(body, smpl: SMPLEstimate) -> None:
    back = body_to_smpl(body)
    np.testing.assert_array_equal(back.vertices, smpl.vertices)  # float32 in, float32 out: exact
    np.testing.assert_allclose(back.body_pose, smpl.body_pose, atol=1e-6)
    np.testing.assert_allclose(back.betas, smpl.betas, atol=1e-6)
    np.testing.assert_allclose(back.joints, smpl.joints, atol=1e-12)
    np.testing.assert_allclose(back.translation, smpl.translation)
    assert back.gender == smpl.gender and body.id == "4"


def test_smpl_body_and_faces(classes) -> None:
    person = _smpl_person(np.random.default_rng(3))
    msg = result_to_body_array(classes, PoseResult(9, "cam", [person]))
    (body,) = msg.bodies
    assert body.gender == 2 and len(body.vertices) == 150 and body.translation.z == 3.0
    np.testing.assert_array_equal(np.asarray(body.vertices[3:6]), person.smpl.vertices[1])  # x, y, z each
    _assert_same_body(body, person.smpl)
    faces = faces_to_msg(classes, np.array([[0, 1, 2], [2, 3, 4]]), 5, "smpl", 9, "cam")
    assert list(faces.triangles) == [0, 1, 2, 2, 3, 4] and faces.num_vertices == 5
    with pytest.raises(ValueError, match="faces"):
        faces_to_msg(classes, np.array([[0, 1, 9]]), 5, "smpl", 9, "cam")


def test_smpl_body_without_a_mesh_has_no_vertices(classes) -> None:
    person = _smpl_person(np.random.default_rng(4), vertices=False)
    (body,) = result_to_body_array(classes, PoseResult(9, "cam", [person])).bodies
    assert len(body.vertices) == 0 and body_to_smpl(body).vertices is None
    body.vertices = classes.sequence(np.zeros(4), "float32")
    with pytest.raises(ValueError, match="x, y, z"):
        body_to_smpl(body)


def test_smpl_body_vertices_survive_rclpy_serialisation_and_read_as_bag_messages() -> None:
    rclpy_serialization = pytest.importorskip("rclpy.serialization")
    msg_module = pytest.importorskip("hpe_ros_msgs.msg")
    person = _smpl_person(np.random.default_rng(5))
    result = PoseResult(11, "cam", [person])
    raw = rclpy_serialization.serialize_message(result_to_body_array(RclpyMessageClasses(), result))
    (body,) = rclpy_serialization.deserialize_message(raw, msg_module.SMPLBodyArray).bodies
    _assert_same_body(body, person.smpl)
    # what a node publishes, read with the bag side's definitions (rclpy leaves padding bytes
    # unset, so the bytes themselves are not compared)
    (bag_body,) = hpe_typestore().deserialize_cdr(bytes(raw), "hpe_ros_msgs/msg/SMPLBodyArray").bodies
    _assert_same_body(bag_body, person.smpl)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_smpl_body_vertices_survive_a_bag(tmp_path, storage: str) -> None:
    classes = RosbagsMessageClasses()
    people = [_smpl_person(np.random.default_rng(seed)) for seed in (6, 7)]
    with BagWriter(tmp_path / "bag", storage=storage, typestore=classes.typestore) as writer:
        for stamp, person in enumerate(people, start=1):
            message = result_to_body_array(classes, PoseResult(stamp, "cam", [person]))
            writer.write("/hpe/bodies", message, stamp)
    with BagReader(tmp_path / "bag") as reader:
        bodies = [m.message.bodies[0] for m in reader.messages(["/hpe/bodies"])]
    assert len(bodies) == 2
    for body, person in zip(bodies, people, strict=True):
        _assert_same_body(body, person.smpl)


def test_camera_info_round_trip(classes) -> None:
    camera = CameraModel.from_intrinsics(500.0, 510.0, 320.0, 240.0, 640, 480,
                                         D=np.array([0.1, -0.2, 0.001, 0.002, 0.0]), frame_id="optical")
    info = camera_to_info(classes, camera, 7)
    back = camera_from_info(info)
    np.testing.assert_allclose(back.K, camera.K)
    np.testing.assert_allclose(back.D, camera.D)
    assert (back.width, back.height, back.frame_id, back.distortion_model) == (
        640, 480, "optical", "plumb_bob"
    )
    assert stamp_to_ns(make_header(classes, 7, "x").stamp) == 7


def test_unpublishable_joint_set_is_refused(classes) -> None:
    from hpe_ros.core.joints import BLAZEPOSE_33
    from hpe_ros.io.messages import person_to_skeleton

    person = PersonPose(BLAZEPOSE_33, np.zeros((33, 3)), np.ones(33, np.float32), metric=False)
    with pytest.raises(ValueError, match="cannot be published"):
        person_to_skeleton(classes, person, make_header(classes, 0, ""))
