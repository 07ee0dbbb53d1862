"""The messages of one processed frame, the same for a live node and for an output bag."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpe_ros.io.markers import MeshMarkers, skeleton_markers
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
    # the mesh markers go out with every N-th result that has a mesh, living N times as long:
    # publishing one (rclpy's conversion of ~40 000 corner points) costs far more than building it
    mesh_marker_every: int = 1

    def __post_init__(self) -> None:
        if self.mesh_marker_every < 1:
            raise ValueError(f"mesh_marker_every must be at least 1, got {self.mesh_marker_every}")


class ResultMessages:
    """Turns results into (output name, message) pairs; the mesh faces go out once.

    Output names: ``skeletons``, ``bodies``, ``faces``, ``markers``, ``tf``. The mesh markers of
    one call share their point messages with the next call's (:class:`MeshMarkers`): publish or
    write each call's messages before the next. ``seconds`` holds the time each part of the last
    call took to build (``skeleton_markers`` and ``mesh_markers`` for the two kinds of markers).
    """

    def __init__(self, classes: MessageClasses) -> None:
        self.classes = classes
        self.faces_sent = False
        self.meshes = MeshMarkers(classes)
        self.seconds: dict[str, float] = {}
        self._mesh_results = 0  # results with a mesh so far (the count that mesh_marker_every divides)

    def messages(
        self, result: PoseResult, faces: np.ndarray | None, options: OutputOptions,
        skip: Collection[str] = (),
    ) -> list[tuple[str, Any]]:
        """The messages of ``result``, leaving out the outputs named in ``skip`` (nobody listens).

        The faces go out with the first result that has a SMPL body, skipped or not: they are
        latched for whoever subscribes later."""
        classes = self.classes
        self.seconds = {}
        out: list[tuple[str, Any]] = []
        if "skeletons" not in skip:
            out.append(("skeletons", self._timed("skeletons", result_to_skeleton_array, classes, result)))
        if any(p.smpl is not None for p in result.people):
            if "bodies" not in skip:
                out.append(("bodies", self._timed("bodies", result_to_body_array, classes, result)))
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
        if options.markers and "markers" not in skip:
            life = options.marker_lifetime_s
            markers = self._timed("skeleton_markers", skeleton_markers, classes, result, lifetime_s=life)
            if faces is not None and self._mesh_due(result, options.mesh_marker_every):
                markers.markers.extend(self._timed("mesh_markers", self.meshes.markers, result, faces,
                                                   lifetime_s=life * options.mesh_marker_every))
            out.append(("markers", markers))
        if options.tf and "tf" not in skip:
            transforms = self._timed("tf", joint_transforms, classes, result, prefix=options.tf_prefix)
            if transforms.transforms:
                out.append(("tf", transforms))
        return out

    def _mesh_due(self, result: PoseResult, every: int) -> bool:
        if not any(p.smpl is not None and p.smpl.vertices is not None for p in result.people):
            return False
        self._mesh_results += 1
        return (self._mesh_results - 1) % every == 0

    def _timed(self, name: str, build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        message = build(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - started
        return message
