"""Record topics into a rosbag2 folder (``hpe-ros record``), for hosts without ``ros2 bag``.

Subscriptions take the serialised CDR as it arrives and write it unchanged, so what is
recorded is byte for byte what was published. Each message is written whole before a signal
is let through (:class:`~hpe_ros.io.bags.BagWriter`), so an interrupted recording, once
:meth:`BagRecorder.destroy_node` closed it, holds every message counted in :attr:`counts`.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from hpe_ros.io.bags import BagWriter
from hpe_ros.io.typestore import hpe_typestore
from hpe_ros.nodes.bag_player import message_class


class BagRecorder(Node):
    def __init__(self, out_bag: Path, topics: dict[str, str], storage: str = "sqlite3") -> None:
        """``topics`` maps topic names to message types (``pkg/msg/Name``)."""
        classes = {topic: message_class(msgtype) for topic, msgtype in topics.items()}  # before any file
        self._writer = BagWriter(Path(out_bag), storage=storage, typestore=hpe_typestore())
        super().__init__("hpe_bag_recorder")
        self._writer.open()
        self.counts = {topic: 0 for topic in topics}
        self._subscriptions_by_topic = {}
        for topic, msgtype in topics.items():
            self._writer.add_topic(topic, msgtype)
            transient = topic.endswith("mesh_faces")
            qos = QoSProfile(
                depth=100,
                reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE,
            )
            self._subscriptions_by_topic[topic] = self.create_subscription(
                classes[topic], topic, partial(self._write, topic), qos, raw=True)

    def _write(self, topic: str, raw: bytes) -> None:
        self._writer.write_serialized(topic, raw, self.get_clock().now().nanoseconds)
        self.counts[topic] += 1

    def wait_for_publishers(self, timeout_s: float) -> bool:
        """Spin until every recorded topic has a publisher (so nothing published later is missed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and rclpy.ok():
            if all(self.count_publishers(topic) > 0 for topic in self.counts):
                return True
            rclpy.spin_once(self, timeout_sec=0.05)
        return False

    def record(self, duration_s: float, until_counts: dict[str, int] | None = None) -> dict[str, int]:
        """Spin until ``duration_s`` passed or every topic in ``until_counts`` has that many messages."""
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline and rclpy.ok():
            if until_counts and all(self.counts.get(t, 0) >= n for t, n in until_counts.items()):
                break
            rclpy.spin_once(self, timeout_sec=0.05)
        return dict(self.counts)

    def destroy_node(self) -> None:
        self._writer.close()
        super().destroy_node()
