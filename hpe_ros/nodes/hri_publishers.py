"""ROS4HRI (REP-155) topics of a pose node (``output.hri: true``).

``/humans/bodies/tracked`` goes out with every processed frame; ``/humans/bodies/<id>/skeleton2d``
and ``/humans/bodies/<id>/roi`` are advertised when a body id first appears and withdrawn when it
leaves the tracked list, as REP-155 consumers (libhri, pyhri) expect. Body frames go out on the
node's ``/tf`` publisher. All calls come from the node's worker thread (or after it stopped).
hri_msgs is imported only when a node uses this (a ROS install without it runs the rest).
"""

from __future__ import annotations

from typing import Any

from rclpy.lifecycle import LifecycleNode
from rclpy.qos import QoSProfile, ReliabilityPolicy

from hpe_ros.io.hri import hri_messages
from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import make_header
from hpe_ros.pipelines.base import PoseResult

TRACKED_TOPIC = "/humans/bodies/tracked"


def body_topic(body_id: str, name: str) -> str:
    return f"/humans/bodies/{body_id}/{name}"


class HriPublishers:
    """The tracked-bodies publisher (lifecycle-managed) and one pair of publishers per tracked body."""

    def __init__(self, node: LifecycleNode, classes: MessageClasses, tf_publisher: Any) -> None:
        self.node = node
        self.classes = classes
        self.tf_publisher = tf_publisher
        self.qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.tracked = node.create_lifecycle_publisher(classes.get("hri_msgs/msg/IdsList"), TRACKED_TOPIC,
                                                       self.qos)
        self.bodies: dict[str, tuple[Any, Any]] = {}  # body id -> (skeleton2d, roi) publishers
        self._last: tuple[int, str] | None = None  # stamp and frame of the last result

    def publish(self, result: PoseResult) -> None:
        messages = hri_messages(self.classes, result)
        self._last = (result.stamp_ns, result.frame_id)
        self._follow([body.body_id for body in messages.bodies])
        self.tracked.publish(messages.tracked)
        for body in messages.bodies:
            skeleton_pub, roi_pub = self.bodies[body.body_id]
            if body.skeleton2d is not None:
                skeleton_pub.publish(body.skeleton2d)
            if body.roi is not None:
                roi_pub.publish(body.roi)
        if messages.tf.transforms:
            self.tf_publisher.publish(messages.tf)

    def _follow(self, ids: list[str]) -> None:
        """Create the publishers of new bodies, destroy those of bodies no longer tracked."""
        for gone in set(self.bodies) - set(ids):
            for publisher in self.bodies.pop(gone):
                self.node.destroy_publisher(publisher)
        for new in ids:
            if new not in self.bodies:
                self.bodies[new] = (
                    self.node.create_publisher(self.classes.get("hri_msgs/msg/Skeleton2D"),
                                               body_topic(new, "skeleton2d"), self.qos),
                    self.node.create_publisher(self.classes.get("hri_msgs/msg/NormalizedRegionOfInterest2D"),
                                               body_topic(new, "roi"), self.qos),
                )

    def stop(self) -> None:
        """No body is tracked any more (the node stops processing): say so and withdraw their topics."""
        if self.bodies and self._last is not None:
            header = make_header(self.classes, *self._last)
            self.tracked.publish(self.classes.new("hri_msgs/msg/IdsList", header=header, ids=[]))
        self._follow([])

    def close(self) -> None:
        self._follow([])
        self.node.destroy_lifecycle_publisher(self.tracked)
