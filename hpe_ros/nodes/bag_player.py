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

from hpe_ros.io.bags import BagReader
from hpe_ros.io.interfaces import TYPE_ALIASES


def message_class(type_name: str) -> type:
    """The rclpy message class of ``pkg/msg/Name`` (ValueError naming the type when it is not importable)."""
    parts = TYPE_ALIASES.get(type_name, type_name).split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"message type {type_name!r} is not of the form pkg/msg/Name")
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError):
        raise ValueError(f"message type {type_name} is not available in this Python environment "
                         f"(build or install the {package} interfaces)") from None


class BagPlayer(Node):
    def __init__(self, bag: Path, topics: Iterable[str] | None = None, reliable: bool = True) -> None:
        self.bag = Path(bag)
        self._reader = BagReader(self.bag).__enter__()  # refuses a missing or unreadable bag
        try:
            wanted = set(topics) if topics else None
            self._topics = {
                t: kind for t, kind in self._reader.topics.items() if wanted is None or t in wanted
            }
            if not self._topics:
                raise ValueError(f"none of the topics {sorted(wanted or [])} is in {bag}")
            classes = {topic: message_class(kind) for topic, kind in self._topics.items()}
        except BaseException:
            self._reader.__exit__(None, None, None)
            raise
        super().__init__("hpe_bag_player")
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        self._topic_publishers = {
            topic: self.create_publisher(cls, topic, qos) for topic, cls in classes.items()
        }

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
        for topic, timestamp, raw in self._reader.raw_messages(self._topics):
            if first_bag_ns is None:
                first_bag_ns = timestamp
            if rate > 0:
                delay = (timestamp - first_bag_ns) * 1e-9 / rate - (time.monotonic() - start)
                if delay > 0:
                    time.sleep(delay)
            self._topic_publishers[topic].publish(bytes(raw))
            sent += 1
        return sent

    def wait_until_delivered(self, timeout_s: float = 10.0) -> bool:
        """Block until reliable subscribers acknowledged everything (a process exiting earlier loses data)."""
        from rclpy.duration import Duration

        return all(p.wait_for_all_acked(Duration(seconds=timeout_s)) for p in self._topic_publishers.values())

    def destroy_node(self) -> None:
        self._reader.__exit__(None, None, None)
        super().destroy_node()
