"""Ids through a bag in a real ROS 2 graph: two people cross in front of the camera; a subscriber
(the recorder) must see each of them under one id from their third frame on, and their markers
under one namespace per id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import write_image_bag
from hpe_ros.io.bags import BagReader
from hpe_ros.io.messages import skeleton_array_to_result
from hpe_ros.simulation.crowd import Walker, body_to_camera
from hpe_ros.simulation.people import default_camera, walking_poses

pytestmark = pytest.mark.ros

FPS, FRAMES = 10.0, 30


def _crossing_truth(path: Path, stamps: list[int], camera) -> np.ndarray:
    """Two walkers crossing (one nearer), as a replay file without ids; returns (T, 2, 17, 3)."""
    walkers = [
        Walker(((0.0, -1.2, 4.0), (3.0, 1.2, 4.0))),
        Walker(((0.0, 1.2, 5.0), (3.0, -1.2, 5.0)), 0.9, 1.0),
    ]
    joints = np.zeros((FRAMES, 2, 17, 3))
    for index, walker in enumerate(walkers):
        poses = walking_poses(FRAMES, FPS, walker.stride_hz, walker.phase) * walker.scale
        for frame in range(FRAMES):
            position, heading, _ = walker.position_and_heading(frame / FPS)
            joints[frame, index] = body_to_camera(poses[frame], position, heading)
    np.savez(
        path,
        joints_3d=joints,
        joint_set="h36m_17",
        stamps_ns=np.array(stamps),
        keypoints_2d=camera.project(joints),
    )
    return joints


def test_a_subscriber_sees_stable_ids_for_people_who_cross(ros_graph, tmp_path: Path) -> None:
    camera = default_camera()
    stamps = write_image_bag(
        tmp_path / "images", [np.zeros((480, 640, 3), np.uint8)] * FRAMES, camera, fps=FPS
    )
    truth = _crossing_truth(tmp_path / "crossing.npz", stamps, camera)

    ros_graph.start(
        "node",
        "run",
        "--pipeline",
        "replay",
        "--set",
        f"replay.path={tmp_path / 'crossing.npz'}",
        "--set",
        "replay.match=stamp",
        "--set",
        "replay.with_ids=false",
        "--set",
        "input.qos=reliable",
        "--set",
        "input.queue_size=100",
        "--set",
        "diagnostics_period_s=0.2",
    )
    ros_graph.wait_for_line("node", "active:", timeout_s=30)
    recorded = tmp_path / "recorded"
    ros_graph.start(
        "recorder",
        "record",
        str(recorded),
        "--topic",
        "/skeletons:hpe_ros_msgs/msg/Skeleton3DArray",
        "--topic",
        "/markers:visualization_msgs/msg/MarkerArray",
        "--topic",
        "/diagnostics:diagnostic_msgs/msg/DiagnosticArray",
        "--until",
        f"/skeletons={FRAMES}",
        "--until",
        f"/markers={FRAMES}",
        "--duration",
        "60",
        "--wait-publishers",
        "20",
    )
    ros_graph.wait_for_line("recorder", "recording", timeout_s=30)
    player = ros_graph.start(
        "player", "play", str(tmp_path / "images"), "--wait-subscribers", "1", "--rate", "1"
    )
    assert player.wait(timeout=60) == 0, ros_graph.log("player")
    assert ros_graph.processes[1][0].wait(timeout=60) == 0, ros_graph.log("recorder") + ros_graph.log("node")

    with BagReader(recorded) as reader:
        results = [skeleton_array_to_result(m.message) for m in reader.messages(["/skeletons"])]
        markers = [m.message for m in reader.messages(["/markers"])]
        diagnostics = [m.message for m in reader.messages(["/diagnostics"])]
    assert len(results) == FRAMES and all(len(r.people) == 2 for r in results)
    ids_of: dict[int, set[str]] = {0: set(), 1: set()}
    for frame, result in enumerate(results):
        for person in result.people:
            walker = int(np.argmin(np.linalg.norm(truth[frame, :, 0] - person.joints_3d[0], axis=-1)))
            assert (
                np.linalg.norm(truth[frame, walker, 0] - person.joints_3d[0]) < 0.1
            )  # smoothed, not lagging
            if frame >= 2:  # confirmed after three frames
                ids_of[walker].add(person.track_id)
            else:
                assert person.track_id == ""
    sequence = [[p.track_id for p in r.people] for r in results]
    assert all(len(ids) == 1 for ids in ids_of.values()) and ids_of[0] != ids_of[1], sequence
    namespaces = {m.ns for array in markers[2:] for m in array.markers}
    assert {f"skeleton/{next(iter(ids))}" for ids in ids_of.values()} <= namespaces
    # /diagnostics says how many ids are alive
    reported = {kv.value for d in diagnostics for kv in d.status[0].values if kv.key == "tracked ids"}
    assert "2" in reported, reported
