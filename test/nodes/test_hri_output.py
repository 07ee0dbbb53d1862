"""ROS4HRI (REP-155) output of the RGB pose node, read the way a ROS4HRI consumer reads it.

The node replays two people over a bag; the second one leaves part-way. A listener in this process
follows ``/humans/bodies/tracked``, subscribes to ``/humans/bodies/<id>/skeleton2d`` and ``/roi`` for
the ids it sees (and drops them when they go) and reads the ``body_<id>`` frames from ``/tf``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from hpe_ros.cli.demo import write_sample_recording
from hpe_ros.core.joints import H36M_17
from hpe_ros.simulation.people import default_camera

hri_msgs = pytest.importorskip("hri_msgs.msg", reason="hri_msgs is not built (run `make venv`)")
pytestmark = pytest.mark.ros

FRAMES = 30
LEAVES_AT = 18  # the second person is gone from this frame on
IDS = ("replay_0", "replay_1")


def _two_people(truth: Path, target: Path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The sample's walker plus a second one 1.5 m further away who leaves at LEAVES_AT."""
    data = np.load(truth)
    walker = data["joints_3d"]
    other = walker + [0.0, 0.0, 1.5]
    other[LEAVES_AT:] = np.nan
    joints = np.stack([walker, other], axis=1)
    keypoints = default_camera().project(joints)
    np.savez(target, joints_3d=joints, joint_set="h36m_17", stamps_ns=data["stamps_ns"],
             keypoints_2d=keypoints)
    return joints, keypoints, data["stamps_ns"].tolist()


def _stamp(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _matrix(q: Any) -> np.ndarray:
    x, y, z, w = q.x, q.y, q.z, q.w
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


class HriListener:
    """A ROS4HRI consumer: per-body subscriptions follow the tracked list; /tf is kept by frame and stamp."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.tracked: list[tuple[int, list[str]]] = []
        self.skeletons: dict[str, dict[int, Any]] = defaultdict(dict)
        self.rois: dict[str, dict[int, Any]] = defaultdict(dict)
        self.frames: dict[tuple[str, int], Any] = {}
        self.body_subscriptions: dict[str, list[Any]] = {}
        self.tracked_sub = node.create_subscription(hri_msgs.IdsList, "/humans/bodies/tracked",
                                                    self._on_tracked, self.qos)
        self.tf_sub = node.create_subscription(TFMessage, "/tf", self._on_tf, self.qos)

    def _on_tracked(self, msg: Any) -> None:
        ids = list(msg.ids)
        self.tracked.append((_stamp(msg.header), ids))
        for gone in set(self.body_subscriptions) - set(ids):
            for subscription in self.body_subscriptions.pop(gone):
                self.node.destroy_subscription(subscription)
        for new in ids:
            if new not in self.body_subscriptions:
                namespace = f"/humans/bodies/{new}"
                self.body_subscriptions[new] = [
                    self._keep(hri_msgs.Skeleton2D, f"{namespace}/skeleton2d", self.skeletons[new]),
                    self._keep(hri_msgs.NormalizedRegionOfInterest2D, f"{namespace}/roi", self.rois[new]),
                ]

    def _keep(self, msg_type: type, topic: str, store: dict[int, Any]) -> Any:
        """Subscribe to ``topic``, keeping its messages in ``store`` by stamp."""
        def keep(msg: Any) -> None:
            store[_stamp(msg.header)] = msg

        return self.node.create_subscription(msg_type, topic, keep, self.qos)

    def _on_tf(self, msg: Any) -> None:
        for transform in msg.transforms:
            self.frames[(transform.child_frame_id, _stamp(transform.header))] = transform


def _spin_until(executor: SingleThreadedExecutor, done, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return done()


@pytest.fixture
def listener(ros_client):
    node, executor = ros_client
    return HriListener(node), executor


def test_ros4hri_consumer_follows_bodies_skeletons_and_frames(ros_graph, listener, tmp_path: Path) -> None:
    hri, executor = listener
    bag, truth = write_sample_recording(tmp_path, num_frames=FRAMES)
    poses = tmp_path / "two_people.npz"
    joints, keypoints, stamps = _two_people(truth, poses)
    settings = [f"replay.path={poses}", "replay.match=stamp", "input.qos=reliable", "input.queue_size=100",
                "output.markers=false", "output.hri=true"]
    ros_graph.start("node", "run", "--pipeline", "replay", *[arg for s in settings for arg in ("--set", s)])
    ros_graph.wait_for_line("node", "active:", timeout_s=30)
    matched = _spin_until(executor, lambda: hri.tracked_sub.get_publisher_count() > 0
                          and hri.tf_sub.get_publisher_count() > 0, timeout_s=30)
    assert matched, ros_graph.log("node")
    player = ros_graph.start("player", "play", str(bag), "--wait-subscribers", "1", "--rate", "0.5")
    last = stamps[-1]
    got_all = _spin_until(executor, lambda: len(hri.tracked) == FRAMES and last in hri.skeletons["replay_0"]
                          and ("body_replay_0", last) in hri.frames, timeout_s=60)
    assert player.wait(timeout=30) == 0, ros_graph.log("player")
    assert got_all, f"{len(hri.tracked)} tracked lists\n" + ros_graph.log("node")

    # the tracked list, one per frame: both people, then only the one who stayed
    assert [s for s, _ in hri.tracked] == stamps
    assert [ids for _, ids in hri.tracked] == [list(IDS)] * LEAVES_AT + [["replay_0"]] * (FRAMES - LEAVES_AT)

    # 2D skeletons and regions, normalised by the image size, in Skeleton2D's order
    size = np.array([default_camera().width, default_camera().height], dtype=np.float64)
    index = {stamp: i for i, stamp in enumerate(stamps)}
    for person, body in enumerate(IDS):
        assert hri.skeletons[body] and hri.rois[body], f"no skeleton2d/roi for {body}"
        if person == 1:
            assert max(index[s] for s in hri.skeletons[body]) < LEAVES_AT
        for stamp, msg in hri.skeletons[body].items():
            assert msg.header.frame_id == "camera_optical_frame"
            expected = keypoints[index[stamp], person] / size
            points = np.array([[p.x, p.y, p.c] for p in msg.skeleton])
            skeleton2d = hri_msgs.Skeleton2D
            for name, slot in (("right_wrist", skeleton2d.RIGHT_WRIST), ("left_ankle", skeleton2d.LEFT_ANKLE),
                               ("neck", skeleton2d.NOSE)):
                np.testing.assert_allclose(points[slot], [*expected[H36M_17.index(name)], 1.0], atol=1e-6)
            np.testing.assert_array_equal(points[skeleton2d.LEFT_EYE:], 0.0)  # H36M has no eyes or ears
        for stamp, roi in hri.rois[body].items():
            seen = keypoints[index[stamp], person] / size
            np.testing.assert_allclose([roi.xmin, roi.ymin, roi.xmax, roi.ymax],
                                       [*seen.min(axis=0), *seen.max(axis=0)], atol=1e-6)

    # body frames at the mid-hip, x out of the body, z towards the head; link frames under them
    left, right = H36M_17.index("left_hip"), H36M_17.index("right_hip")
    shoulders = H36M_17.indices(["left_shoulder", "right_shoulder"])
    for i, stamp in enumerate(stamps):
        for person, body in enumerate(IDS):
            present = person == 0 or i < LEAVES_AT
            assert ((f"body_{body}", stamp) in hri.frames) == present
            if not present:
                continue
            frame = hri.frames[(f"body_{body}", stamp)]
            assert frame.header.frame_id == "camera_optical_frame"
            t, rotation = frame.transform.translation, _matrix(frame.transform.rotation)
            person_joints = joints[i, person]
            mid_hip = (person_joints[left] + person_joints[right]) / 2
            np.testing.assert_allclose([t.x, t.y, t.z], mid_hip, atol=1e-9)
            up = person_joints[shoulders].mean(axis=0) - mid_hip
            np.testing.assert_allclose(rotation[:, 2], up / np.linalg.norm(up), atol=1e-9)
            np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
            assert np.linalg.det(rotation) == pytest.approx(1.0)  # right-handed: x = y cross z, the front
            assert rotation[:, 1] @ (person_joints[left] - person_joints[right]) > 0  # y: the person's left
            wrist = hri.frames[(f"l_wrist_{body}", stamp)]
            assert wrist.header.frame_id == f"body_{body}"
            w = wrist.transform.translation
            np.testing.assert_allclose(rotation @ [w.x, w.y, w.z] + mid_hip,
                                       person_joints[H36M_17.index("left_wrist")], atol=1e-9)

    # the leaver's topics are withdrawn, the stayer's remain
    def topics_followed() -> bool:
        return (not hri.node.get_publishers_info_by_topic("/humans/bodies/replay_1/skeleton2d")
                and bool(hri.node.get_publishers_info_by_topic("/humans/bodies/replay_0/skeleton2d")))

    assert _spin_until(executor, topics_followed, timeout_s=10)
    assert not hri.node.get_publishers_info_by_topic("/humans/bodies/replay_1/roi")

    # deactivating the node ends every body: an empty tracked list, no per-body topics left
    client = hri.node.create_client(ChangeState, "/hpe_pose/change_state")
    assert client.wait_for_service(timeout_sec=10)
    deactivate = Transition(id=Transition.TRANSITION_DEACTIVATE)
    future = client.call_async(ChangeState.Request(transition=deactivate))
    assert _spin_until(executor, lambda: future.done() and hri.tracked[-1][1] == [], timeout_s=10)
    assert future.result().success and hri.tracked[-1][0] == last
    assert _spin_until(executor, lambda: not hri.node.get_publishers_info_by_topic(
        "/humans/bodies/replay_0/skeleton2d"), timeout_s=10)
