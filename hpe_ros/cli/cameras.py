"""One pose node per camera, each in its own namespace: what `pose.launch.py cameras:=...` and
`hpe-ros run --cameras ...` start.

Camera ``front`` under namespace ``robot`` gives the node ``/robot/front/hpe_pose``: it reads
``/front/image_raw`` and ``/front/camera_info`` (the patterns are arguments), publishes
``/robot/front/skeletons`` etc., and names its joint frames ``hpe/front/<person>/<joint>``.
All nodes read the same parameter file (its keys match any namespace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_TOPIC = "/{camera}/image_raw"
CAMERA_INFO_TOPIC = "/{camera}/camera_info"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CameraNode:
    """The namespace and parameter overrides of one camera's pose node."""

    camera: str
    namespace: str
    parameters: dict[str, str]


def parse_cameras(text: str) -> list[str]:
    """``"front, left"`` -> ``["front", "left"]``: ROS name tokens, each once."""
    cameras = [name.strip() for name in text.split(",") if name.strip()]
    bad = [name for name in cameras if not _NAME.fullmatch(name)]
    if bad:
        raise ValueError(f"camera names must be ROS name tokens (a letter, then letters, digits, _): {bad}")
    if len(set(cameras)) != len(cameras):
        raise ValueError(f"a camera is named twice: {cameras}")
    return cameras


def camera_nodes(cameras: list[str], namespace: str = "", image_topic: str = IMAGE_TOPIC,
                 camera_info_topic: str = CAMERA_INFO_TOPIC, depth_topic: str = "",
                 tf_prefix: str = "hpe") -> list[CameraNode]:
    """One :class:`CameraNode` per camera; ``{camera}`` in the topic patterns is the camera's name."""
    for pattern in (image_topic, camera_info_topic):
        if "{camera}" not in pattern:
            raise ValueError(f"topic pattern {pattern!r} must contain {{camera}} "
                             "(else all the nodes read one topic)")
    base = namespace.strip("/")
    nodes = []
    for camera in cameras:
        parameters = {"input.image_topic": image_topic.format(camera=camera),
                      "input.camera_info_topic": camera_info_topic.format(camera=camera),
                      "output.tf_prefix": f"{tf_prefix}/{camera}"}
        if depth_topic:
            parameters["input.depth_topic"] = depth_topic.format(camera=camera)
        nodes.append(CameraNode(camera, "/" + "/".join(p for p in (base, camera) if p), parameters))
    return nodes
