"""The messages of one processed frame, the same for a live node and for an output bag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hpe_ros.io.markers import mesh_markers, skeleton_markers
from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import faces_to_msg, result_to_body_array, result_to_skeleton_array
from hpe_ros.io.tf_frames import joint_transforms
from hpe_ros.pipelines.base import PoseResult


@dataclass(frozen=True)
class OutputOptions:
    markers: bool = True
    tf: bool = False
    tf_prefix: str = "hpe"
    marker_lifetime_s: float = 0.3


class ResultMessages:
    """Turns results into (output name, message) pairs; the mesh faces go out once.

    Output names: ``skeletons``, ``bodies``, ``faces``, ``markers``, ``tf``.
    """

    def __init__(self, classes: MessageClasses) -> None:
        self.classes = classes
        self.faces_sent = False

    def messages(
        self, result: PoseResult, faces: np.ndarray | None, options: OutputOptions
    ) -> list[tuple[str, Any]]:
        classes = self.classes
        out: list[tuple[str, Any]] = [("skeletons", result_to_skeleton_array(classes, result))]
        if any(p.smpl is not None for p in result.people):
            out.append(("bodies", result_to_body_array(classes, result)))
            if faces is not None and not self.faces_sent:
                out.append(
                    (
                        "faces",
                        faces_to_msg(
                            classes, faces, int(faces.max()) + 1, "smpl", result.stamp_ns, result.frame_id
                        ),
                    )
                )
                self.faces_sent = True
        if options.markers:
            markers = skeleton_markers(classes, result, lifetime_s=options.marker_lifetime_s)
            markers.markers.extend(
                mesh_markers(classes, result, faces, lifetime_s=options.marker_lifetime_s).markers
            )
            out.append(("markers", markers))
        if options.tf:
            transforms = joint_transforms(classes, result, prefix=options.tf_prefix)
            if transforms.transforms:
                out.append(("tf", transforms))
        return out
