import numpy as np

from hpe_ros.core.joints import H36M_17
from hpe_ros.io.markers import (
    LINE_LIST,
    SPHERE_LIST,
    TRIANGLE_LIST,
    confidence_colours,
    mesh_markers,
    skeleton_markers,
)
from hpe_ros.io.message_classes import RosbagsMessageClasses
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
