"""A rosbags type store that knows the standard Jazzy types plus hpe_ros's own."""

from __future__ import annotations

from functools import lru_cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from hpe_ros.io.interfaces import TYPE_ALIASES, message_definitions


@lru_cache(maxsize=1)
def hpe_typestore() -> Typestore:
    """Jazzy's types with hpe_ros_msgs, tf2_msgs, event_camera_msgs, dvs_msgs and hri_msgs registered."""
    store = get_typestore(Stores.ROS2_JAZZY)
    texts = {d.type_name: d.text for d in message_definitions()}
    for alias, original in TYPE_ALIASES.items():
        texts[alias] = texts[original]
    types = {}
    for name, text in texts.items():
        if name not in store.types:
            types.update(get_types_from_msg(text, name))
    store.register(types)
    return store
