import numpy as np
import pytest

from hpe_ros.core.joints import H36M_17
from hpe_ros.io.markers import (
    LINE_LIST,
    SPHERE_LIST,
    TRIANGLE_LIST,
    MeshMarkers,
    confidence_colours,
    mesh_markers,
    skeleton_markers,
)
from hpe_ros.io.message_classes import RclpyMessageClasses, RosbagsMessageClasses
from hpe_ros.pipelines.base import PersonPose, PoseResult, SMPLEstimate


def _person(track: str, offset: float, confidence: np.ndarray | None = None) -> PersonPose:
    joints = np.random.default_rng(0).normal(size=(17, 3)) + [offset, 0, 4]
    return PersonPose(H36M_17, joints, np.ones(17, np.float32) if confidence is None else confidence,
                      metric=True, track_id=track)


def test_each_person_gets_its_own_namespace_with_joints_and_bones() -> None:
    classes = RosbagsMessageClasses()
    result = PoseResult(10, "cam", [_person("a", -1), _person("", 1), _person("", 2)])
    markers = skeleton_markers(classes, result, lifetime_s=0.5).markers
    keys = [(m.ns, m.id) for m in markers]
    assert len(set(keys)) == len(keys) == 6
    assert {ns for ns, _ in keys} == {"skeleton/a", "skeleton/person_1", "skeleton/person_2"}
    joints, bones = markers[0], markers[1]
    assert joints.type == SPHERE_LIST and len(joints.points) == 17 and len(joints.colors) == 17
    assert bones.type == LINE_LIST and len(bones.points) == 2 * len(H36M_17.bones)
    assert joints.lifetime.sec == 0 and joints.lifetime.nanosec == 500_000_000
    assert joints.header.frame_id == "cam"
    np.testing.assert_allclose([joints.points[3].x, joints.points[3].y, joints.points[3].z],
                               result.people[0].joints_3d[3])


def test_missing_joints_are_left_out_and_colours_follow_confidence() -> None:
    confidence = np.linspace(0, 1, 17).astype(np.float32)
    person = _person("a", 0, confidence)
    person.joints_3d[5] = np.nan
    markers = skeleton_markers(RosbagsMessageClasses(), PoseResult(1, "cam", [person])).markers
    assert len(markers[0].points) == 16
    bones_with_5 = sum(5 in b for b in H36M_17.bones)
    assert len(markers[1].points) == 2 * (len(H36M_17.bones) - bones_with_5)
    rgba = confidence_colours(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(rgba[:, :3], [[1, 0, 0], [1, 1, 0], [0, 1, 0]])


def test_bones_read_back_with_their_joints_and_the_colour_of_the_less_confident_one() -> None:
    classes, rng = RosbagsMessageClasses(), np.random.default_rng(6)
    confidence = rng.uniform(-0.2, 1.2, 17).astype(np.float32)
    confidence[[2, 9]] = np.nan  # counts as 0
    person = _person("a", 0, confidence)
    person.joints_3d[12] = np.nan
    message = skeleton_markers(classes, PoseResult(1, "cam", [person]))
    data = bytes(classes.typestore.serialize_cdr(message, "visualization_msgs/msg/MarkerArray"))
    _, bones = classes.typestore.deserialize_cdr(data, "visualization_msgs/msg/MarkerArray").markers
    shown = [(a, b) for a, b in H36M_17.bones if 12 not in (a, b)]
    ends = np.array([[p.x, p.y, p.z] for p in bones.points]).reshape(-1, 2, 3)
    np.testing.assert_array_equal(ends, person.joints_3d[np.array(shown)])
    colours = np.array([[c.r, c.g, c.b, c.a] for c in bones.colors]).reshape(-1, 2, 4)
    lower = np.fmin(*np.nan_to_num(confidence)[np.array(shown)].T)
    np.testing.assert_array_equal(colours[:, 0], confidence_colours(lower))
    np.testing.assert_array_equal(colours[:, 1], colours[:, 0])


def test_mesh_marker_is_a_triangle_list_of_face_corners() -> None:
    vertices = np.arange(15, dtype=float).reshape(5, 3)
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    smpl = SMPLEstimate(np.zeros(10), np.zeros((24, 3)), np.zeros(3), np.zeros((24, 3)), vertices=vertices)
    person = PersonPose(H36M_17, np.zeros((17, 3)), np.ones(17, np.float32), True, smpl=smpl)
    (marker,) = mesh_markers(RosbagsMessageClasses(), PoseResult(1, "cam", [person]), faces).markers
    assert marker.type == TRIANGLE_LIST and len(marker.points) == 6
    assert [marker.points[3].x, marker.points[3].y, marker.points[3].z] == list(vertices[2])
    assert mesh_markers(RosbagsMessageClasses(), PoseResult(1, "cam", [person]), None).markers == []


def test_mesh_marker_corners_survive_serialisation() -> None:
    # corners of faces that share a vertex share its point message; the bytes hold every corner
    classes = RosbagsMessageClasses()
    vertices = np.random.default_rng(1).normal(size=(6, 3))
    faces = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 0]])
    smpl = SMPLEstimate(np.zeros(10), np.zeros((24, 3)), np.zeros(3), np.zeros((24, 3)), vertices=vertices)
    person = PersonPose(H36M_17, np.zeros((17, 3)), np.ones(17, np.float32), True, smpl=smpl)
    markers = mesh_markers(classes, PoseResult(1, "cam", [person]), faces)
    typestore = classes.typestore
    data = typestore.serialize_cdr(markers, "visualization_msgs/msg/MarkerArray")
    (marker,) = typestore.deserialize_cdr(data, "visualization_msgs/msg/MarkerArray").markers
    corners = np.array([[p.x, p.y, p.z] for p in marker.points])
    np.testing.assert_array_equal(corners, vertices[faces.ravel()])


def _mesh_person(track: str, vertices: np.ndarray) -> PersonPose:
    smpl = SMPLEstimate(np.zeros(10), np.zeros((24, 3)), np.zeros(3), np.zeros((24, 3)), vertices=vertices)
    return PersonPose(H36M_17, np.zeros((17, 3)), np.ones(17, np.float32), True, smpl=smpl, track_id=track)


def _marker_bytes(classes, markers: list) -> bytes:
    message = classes.new("visualization_msgs/msg/MarkerArray", markers=markers)
    return bytes(classes.typestore.serialize_cdr(message, "visualization_msgs/msg/MarkerArray"))


def test_refilled_mesh_markers_serialise_like_freshly_built_ones() -> None:
    # frames of two, one and two people again: each frame's bytes are those of new point messages
    classes, rng = RosbagsMessageClasses(), np.random.default_rng(2)
    faces = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 0], [1, 3, 5]])
    meshes = MeshMarkers(classes)
    for tracks in (["a", "b"], ["b"], ["c", "a"]):
        people = [_mesh_person(t, rng.normal(size=(6, 3)).astype(np.float32)) for t in tracks]
        result = PoseResult(5, "cam", people)
        refilled = _marker_bytes(classes, meshes.markers(result, faces, lifetime_s=0.4))
        fresh = mesh_markers(classes, result, faces, lifetime_s=0.4).markers
        assert refilled == _marker_bytes(classes, fresh)
        back = classes.typestore.deserialize_cdr(refilled, "visualization_msgs/msg/MarkerArray").markers
        for marker, person in zip(back, people, strict=True):
            corners = np.array([[p.x, p.y, p.z] for p in marker.points])
            np.testing.assert_array_equal(corners, person.smpl.vertices[faces.ravel()])
            assert marker.ns == f"mesh/{person.track_id}"


def test_mesh_markers_follow_a_new_mesh_size_and_new_faces() -> None:
    classes, rng = RosbagsMessageClasses(), np.random.default_rng(3)
    meshes = MeshMarkers(classes)
    for count, faces in ((6, np.array([[0, 1, 2], [3, 4, 5]])), (4, np.array([[0, 1, 2], [3, 4, 5]]) % 4),
                         (4, np.array([[3, 2, 1]]))):
        vertices = rng.normal(size=(count, 3))
        (marker,) = meshes.markers(PoseResult(1, "cam", [_mesh_person("a", vertices)]), faces)
        corners = np.array([[p.x, p.y, p.z] for p in marker.points])
        np.testing.assert_array_equal(corners, vertices[faces.ravel()])
    assert meshes.markers(PoseResult(1, "cam", [_mesh_person("a", vertices)]), None) == []


def test_rclpy_mesh_markers_read_back_as_their_vertices() -> None:
    rclpy_serialization = pytest.importorskip("rclpy.serialization")
    visualization = pytest.importorskip("visualization_msgs.msg")
    classes, rng = RclpyMessageClasses(), np.random.default_rng(4)
    faces = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 0]])
    meshes = MeshMarkers(classes)
    for _ in range(2):
        vertices = rng.normal(size=(6, 3))
        markers = meshes.markers(PoseResult(1, "cam", [_mesh_person("a", vertices)]), faces)
        message = visualization.MarkerArray(markers=markers)
        back = rclpy_serialization.deserialize_message(rclpy_serialization.serialize_message(message),
                                                       visualization.MarkerArray)
        corners = np.array([[p.x, p.y, p.z] for p in back.markers[0].points])
        np.testing.assert_array_equal(corners, vertices[faces.ravel()])
