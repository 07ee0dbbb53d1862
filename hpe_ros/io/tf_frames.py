"""Joint frames on ``/tf`` as ``tf2_msgs/TFMessage`` (tf2_ros is not needed to publish them).

Each metric joint becomes a frame ``<prefix>/<person>/<joint name>`` whose parent is the
camera's optical frame; root-relative skeletons have no place in the camera frame and are
left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import make_header
from hpe_ros.pipelines.base import PoseResult


def joint_frame_name(prefix: str, person_key: str, joint_name: str) -> str:
    return f"{prefix}/{person_key}/{joint_name}"


def joint_transforms(classes: MessageClasses, result: PoseResult, prefix: str = "hpe") -> Any:
    """All metric joints of ``result`` as transforms from the image's frame."""
    header = make_header(classes, result.stamp_ns, result.frame_id)
    transform_cls = classes.get("geometry_msgs/msg/TransformStamped")
    transforms = []
    for index, person in enumerate(result.people):
        if not person.metric:
            continue
        key = person.track_id or f"person_{index}"
        for name, xyz in zip(
            person.joint_set.joint_names, np.asarray(person.joints_3d, dtype=np.float64), strict=True
        ):
            if not np.isfinite(xyz).all():
                continue
            transforms.append(
                transform_cls(
                    header=header,
                    child_frame_id=joint_frame_name(prefix, key, name),
                    transform=classes.new(
                        "geometry_msgs/msg/Transform",
                        translation=classes.new("geometry_msgs/msg/Vector3", x=xyz[0], y=xyz[1], z=xyz[2]),
                        rotation=classes.new("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
                    ),
                )
            )
    return classes.new("tf2_msgs/msg/TFMessage", transforms=transforms)
