"""The interface definitions hpe_ros builds and registers agree with ROS 2 Jazzy's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rosbags.typesys import Stores, get_typestore

from hpe_ros.io.interfaces import message_definitions
from hpe_ros.io.typestore import hpe_typestore


def _built_type_hash(type_name: str) -> str:
    """The RIHS01 hash rosidl computed when the interface package was built into this environment."""
    package, _, name = type_name.split("/")
    path = Path(sys.prefix) / "share" / package / "msg" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{package} is not built into {sys.prefix}")
    hashes = {h["type_name"]: h["hash_string"] for h in json.loads(path.read_text())["type_hashes"]}
    return hashes[type_name]


def test_our_definitions_are_registered() -> None:
    store = hpe_typestore()
    for definition in message_definitions():
        assert definition.type_name in store.types
    assert "event_array_msgs/msg/EventArray" in store.types  # old name of EventPacket in older bags


def test_built_tf2_msgs_hashes_like_jazzys() -> None:
    """tf2_msgs has no wheel: the package built from its .msg text must have Jazzy's type hash."""
    jazzy = get_typestore(Stores.ROS2_JAZZY).hash_rihs01("tf2_msgs/msg/TFMessage")
    assert _built_type_hash("tf2_msgs/msg/TFMessage") == jazzy


@pytest.mark.parametrize("type_name", ["hpe_ros_msgs/msg/Skeleton3DArray", "hpe_ros_msgs/msg/SMPLBodyArray",
                                       "hpe_ros_msgs/msg/MeshFaces", "event_camera_msgs/msg/EventPacket"])
def test_bag_types_hash_like_the_live_ones(type_name: str) -> None:
    """Bags written offline carry the same type hashes as the nodes' publishers."""
    assert hpe_typestore().hash_rihs01(type_name) == _built_type_hash(type_name)
