"""The common tail of the RGB pipelines: metric placement, the optional mesh, one PersonPose each."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17
from hpe_ros.pipelines.base import PersonPose, SMPLEstimate
from hpe_ros.pipelines.output.depth_placement import place_with_depth
from hpe_ros.pipelines.output.placement import place_skeletons

DEPTH_ROOT_CONFIDENCE = 0.95  # root confidence of a person placed from measured depth


class MeshEstimator(Protocol):
    def estimate(self, joints: np.ndarray, roots: np.ndarray | None, /) -> Sequence[SMPLEstimate | None]: ...


def place_people(keypoints: np.ndarray, scores: np.ndarray, relative: np.ndarray, boxes: np.ndarray,
                 camera: CameraModel | None, timings: dict[str, float], mesh: MeshEstimator | None = None,
                 track_ids: list[str] | None = None, depth: np.ndarray | None = None) -> list[PersonPose]:
    """H36M-17 people from (N, 17, 2) keypoints with (N, 17) scores, (N, 17, 3) root-relative joints
    and (N, 5) boxes: placed in the camera frame when ``camera`` is known, root-relative otherwise.

    With an aligned ``depth`` image (metres, NaN unknown) people are placed from their measured
    torso depth (:mod:`hpe_ros.pipelines.output.depth_placement`); those it cannot place fall back to
    the size prior."""
    started = time.perf_counter()
    count = len(relative)
    joints, metric = relative, np.zeros(count, bool)
    root_confidence, roots = np.zeros(count), None
    if camera is not None:
        placement = place_skeletons(keypoints, relative, camera, scores)
        metric = placement.metric
        joints = np.where(metric[:, None, None], placement.joints_camera, relative)
        root_confidence = placement.confidence
        roots = placement.translation
        if depth is not None:
            prior_depth = placement.translation[:, 2]
            measured = place_with_depth(keypoints, scores, relative, camera, depth, prior_depth)
            joints = np.where(measured.placed[:, None, None], measured.joints_camera, joints)
            roots = np.where(measured.placed[:, None], measured.translation, roots)
            metric = metric | measured.placed
            root_confidence = np.where(measured.placed, DEPTH_ROOT_CONFIDENCE, root_confidence)
    timings["place"] = time.perf_counter() - started
    bodies: Sequence[SMPLEstimate | None] = [None] * count
    if mesh is not None:
        started = time.perf_counter()
        bodies = mesh.estimate(joints, roots)
        timings["mesh"] = time.perf_counter() - started
    return [
        PersonPose(
            joint_set=H36M_17,
            joints_3d=joints[index],
            confidence=np.nan_to_num(scores[index]),
            metric=bool(metric[index]),
            root_confidence=float(root_confidence[index]),
            keypoints_2d=keypoints[index].astype(np.float32),
            scores_2d=scores[index],
            box=np.asarray(boxes[index], dtype=np.float32),
            track_id=track_ids[index] if track_ids else "",
            smpl=bodies[index],
        )
        for index in range(count)
    ]
