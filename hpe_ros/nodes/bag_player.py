"""Publish a bag's messages on their topics (``hpe-ros play``), for hosts without ``ros2 bag``.

Messages are published as the serialised CDR stored in the bag, so any type whose Python
message package is importable can be played, at the recorded pace scaled by ``rate``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader

from hpe_ros.io.interfaces import TYPE_ALIASES


def message_class(type_name: str) -> type:
    package, kind, name = TYPE_ALIASES.get(type_name, type_name).split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class BagPlayer(Node):
    def __init__(self, bag: Path, topics: Iterable[str] | None = None, reliable: bool = True) -> None:
        super().__init__("hpe_bag_player")
        self.bag = Path(bag)
        self._reader = Reader(self.bag)
        self._reader.open()
        wanted = set(topics) if topics else None
        self._connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        if not self._connections:
            raise ValueError(f"none of the topics {sorted(wanted or [])} is in {bag}")
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        self._topic_publishers = {c.topic: self.create_publisher(message_class(c.msgtype), c.topic, qos)
                            for c in self._connections}

    def wait_for_subscribers(self, count: int, timeout_s: float, settle_s: float = 1.0) -> bool:
        """Spin until every topic has ``count`` subscriptions or time runs out.

        Discovery is not symmetric: the publisher may see a subscription before that
        subscription has matched the publisher, and what is sent in between is lost. ``settle_s``
        more seconds of spinning give the other side time to match.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() >= count for p in self._topic_publishers.values()):
                settled = time.monotonic() + settle_s
                while time.monotonic() < settled:
                    rclpy.spin_once(self, timeout_sec=0.05)
                return True
            rclpy.spin_once(self, timeout_sec=0.05)
        return False

    def play(self, rate: float = 1.0) -> int:
        """Publish everything in time order; returns the number of messages sent."""
        sent = 0
        first_bag_ns: int | None = None
        start = time.monotonic()
        for connection, timestamp, raw in self._reader.messages(connections=self._connections):
            if first_bag_ns is None:
                first_bag_ns = timestamp
            if rate > 0:
                delay = (timestamp - first_bag_ns) * 1e-9 / rate - (time.monotonic() - start)
                if delay > 0:
                    time.sleep(delay)
            self._topic_publishers[connection.topic].publish(bytes(raw))
            sent += 1
        return sent

    def wait_until_delivered(self, timeout_s: float = 10.0) -> bool:
        """Block until reliable subscribers acknowledged everything (a process exiting earlier loses data)."""
        from rclpy.duration import Duration

        return all(p.wait_for_all_acked(Duration(seconds=timeout_s)) for p in self._topic_publishers.values())

    def destroy_node(self) -> None:
        self._reader.close()
        super().destroy_node()
