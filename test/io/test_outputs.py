"""ResultMessages: the outputs of one result, the faces once, outputs nobody listens to left out."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.core.joints import SMPL_24
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import body_to_smpl
from hpe_ros.io.outputs import OutputOptions, ResultMessages
from hpe_ros.pipelines.base import PersonPose, PoseResult, SMPLEstimate

FACES = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 0]])


def _result(stamp_ns: int, rng: np.random.Generator) -> PoseResult:
    joints = rng.normal(size=(24, 3)) + [0, 0, 3]
    smpl = SMPLEstimate(rng.normal(size=10), rng.normal(size=(24, 3)), np.array([0, 0, 3.0]), joints,
                        vertices=rng.normal(size=(6, 3)).astype(np.float32))
    person = PersonPose(SMPL_24, joints, np.ones(24, np.float32), True, smpl=smpl)
    return PoseResult(stamp_ns, "cam", [person])


def test_every_output_once_per_result_and_the_faces_only_with_the_first() -> None:
    outputs, rng = ResultMessages(RosbagsMessageClasses()), np.random.default_rng(0)
    first = outputs.messages(_result(1, rng), FACES, OutputOptions())
    assert [name for name, _ in first] == ["skeletons", "bodies", "faces", "markers"]
    assert set(outputs.seconds) == {"skeletons", "bodies", "skeleton_markers", "mesh_markers"}
    result = _result(2, rng)
    second = dict(outputs.messages(result, FACES, OutputOptions()))
    assert set(second) == {"skeletons", "bodies", "markers"}
    body = body_to_smpl(second["bodies"].bodies[0])
    np.testing.assert_array_equal(body.vertices, result.people[0].smpl.vertices)
    mesh = [m for m in second["markers"].markers if m.ns.startswith("mesh/")]
    assert len(mesh) == 1 and len(mesh[0].points) == FACES.size


def test_skipped_outputs_are_not_built_but_the_faces_still_go_out() -> None:
    outputs, rng = ResultMessages(RosbagsMessageClasses()), np.random.default_rng(1)
    messages = outputs.messages(_result(1, rng), FACES, OutputOptions(tf=True), skip=("bodies", "markers"))
    assert [name for name, _ in messages] == ["skeletons", "faces", "tf"]
    assert set(outputs.seconds) == {"skeletons", "tf"}
    assert [name for name, _ in outputs.messages(_result(2, rng), FACES, OutputOptions(markers=False))] == [
        "skeletons", "bodies"]


def test_mesh_markers_every_third_result_live_three_times_as_long() -> None:
    outputs, rng = ResultMessages(RosbagsMessageClasses()), np.random.default_rng(2)
    options = OutputOptions(mesh_marker_every=3, marker_lifetime_s=0.3)
    meshes = []
    for stamp in range(7):
        markers = dict(outputs.messages(_result(stamp, rng), FACES, options))["markers"].markers
        meshes.append([m for m in markers if m.ns.startswith("mesh/")])
        assert [m.ns for m in markers if m.ns.startswith("skeleton/")] == ["skeleton/person_0"] * 2
    assert [len(m) for m in meshes] == [1, 0, 0, 1, 0, 0, 1]
    assert (meshes[3][0].lifetime.sec, meshes[3][0].lifetime.nanosec) == (0, 900_000_000)
    with pytest.raises(ValueError, match="mesh_marker_every"):
        outputs.messages(_result(8, rng), FACES, OutputOptions(mesh_marker_every=0))
