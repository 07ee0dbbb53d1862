"""Human3.6M in the lifting community's files (the layout VideoPose3D introduced).

- ``data_3d_h36m.npz``: ``positions_3d[subject][action]`` (T, 32, 3) world coordinates in metres
  (the dataset's 32-joint skeleton; 17 of the joints make the H36M_17 set).
- ``data_2d_h36m_<detector>.npz``: ``positions_2d[subject][action][camera_index]`` (T, 17, 2)
  pixels (some files add a score column) and ``metadata`` with ``layout_name``, ``num_joints``
  and ``keypoints_symmetry`` (left, right joint lists). Camera indices 0..3 are the cameras
  sorted by id (:data:`H36M_CAMERA_IDS`).
- Cameras: a ``cameras.json`` read by :func:`hpe_ros.core.h36m_cameras.load_h36m_cameras`.

The object members are read with :func:`load_npz`, which never runs pickled code.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from hpe_ros.core.h36m_cameras import H36MCamera
from hpe_ros.core.joints import H36M_17
from hpe_ros.datasets.safe_npz import load_npz
from hpe_ros.datasets.samples import LiftingSamples, concatenate_samples

# The 17 joints of the 32-joint mocap skeleton, in H36M_17 order (pelvis, right leg, left leg,
# spine, thorax, neck/nose, head top, left arm, right arm).
H36M_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
# Camera order of the community files' per-camera lists.
H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")

Poses3D = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class H36MDetections2D:
    """A community 2D keypoint file."""

    positions: dict[str, dict[str, list[np.ndarray]]]  # [subject][action][camera index] (T, 17, 2 or 3)
    layout_name: str
    left_joints: tuple[int, ...]
    right_joints: tuple[int, ...]


def load_h36m_poses_3d(path: str | os.PathLike[str]) -> Poses3D:
    """World-frame H36M_17 poses (T, 17, 3) in metres by subject and action."""
    data = load_npz(path)
    if "positions_3d" not in data:
        raise ValueError(f"{path}: no 'positions_3d' member (members: {sorted(data)})")
    out: Poses3D = {}
    for subject, actions in _as_mapping(data["positions_3d"], path).items():
        out[str(subject)] = {}
        for action, positions in _as_mapping(actions, path).items():
            positions = np.asarray(positions, dtype=np.float64)
            if positions.ndim != 3 or positions.shape[-1] != 3 or positions.shape[1] not in (17, 32):
                raise ValueError(
                    f"{path}: {subject}/{action}: expected (T, 32 or 17, 3), got {positions.shape}"
                )
            out[str(subject)][str(action)] = (
                positions[:, H36M_32_TO_17] if positions.shape[1] == 32 else positions
            )
    return out


def load_h36m_detections_2d(path: str | os.PathLike[str]) -> H36MDetections2D:
    """A ``data_2d_h36m_<detector>.npz`` file; its joints must be in H36M_17 order."""
    data = load_npz(path)
    if "positions_2d" not in data:
        raise ValueError(f"{path}: no 'positions_2d' member (members: {sorted(data)})")
    metadata = _as_mapping(data.get("metadata", {}), path)
    symmetry = metadata.get("keypoints_symmetry")
    left, right = (tuple(int(i) for i in side) for side in symmetry) if symmetry is not None else ((), ())
    num_joints = int(metadata.get("num_joints", 17))
    if num_joints != len(H36M_17):
        raise ValueError(f"{path}: {num_joints} joints; only the 17-joint H36M layout is supported")
    given_pairs = {tuple(sorted(pair)) for pair in zip(left, right, strict=True)}
    if symmetry is not None and given_pairs != {tuple(sorted(pair)) for pair in H36M_17.flip_pairs}:
        raise ValueError(
            f"{path}: keypoints_symmetry {left} / {right} does not match the H36M_17 joint order "
            f"(layout {metadata.get('layout_name')!r})"
        )
    positions: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in _as_mapping(data["positions_2d"], path).items():
        positions[str(subject)] = {}
        for action, per_camera in _as_mapping(actions, path).items():
            arrays = [np.asarray(a, dtype=np.float64) for a in per_camera]
            for array in arrays:
                if array.ndim != 3 or array.shape[1] != 17 or array.shape[2] not in (2, 3):
                    raise ValueError(
                        f"{path}: {subject}/{action}: expected (T, 17, 2 or 3), got {array.shape}"
                    )
            positions[str(subject)][str(action)] = arrays
    return H36MDetections2D(positions, str(metadata.get("layout_name", "")), left, right)


def h36m_lifting_samples(
    poses_3d: Poses3D,
    cameras: Mapping[tuple[str, str], H36MCamera],
    detections: H36MDetections2D | None = None,
    subjects: Collection[str] = H36M_TEST_SUBJECTS,
    camera_ids: Collection[str] = H36M_CAMERA_IDS,
    stride: int = 1,
    skip: Collection[tuple[str, str, str]] = (),
) -> LiftingSamples:
    """Samples of ``subjects`` seen by ``camera_ids``: 3D in each camera's frame, 2D from
    ``detections`` (or the ground truth projected with the camera's lens when None).

    Where a 2D sequence and its mocap differ in length, both are cut to the shorter one.
    ``skip`` lists (subject, action, camera id) sequences to leave out; ``stride`` keeps every
    ``stride``-th frame.
    """
    parts: list[LiftingSamples] = []
    for subject in sorted(subjects):
        if subject not in poses_3d:
            raise KeyError(f"subject {subject} is not in the 3D poses (have {sorted(poses_3d)})")
        for action in sorted(poses_3d[subject]):
            world = poses_3d[subject][action]
            for index, camera_id in enumerate(H36M_CAMERA_IDS):
                if camera_id not in camera_ids or (subject, action, camera_id) in skip:
                    continue
                camera = cameras.get((subject, camera_id))
                if camera is None:
                    raise KeyError(f"no camera {camera_id} of {subject} in the camera file")
                camera_points = camera.world_to_camera(world)
                if detections is None:
                    keypoints = camera.camera.project(camera_points)
                    scores = np.ones(keypoints.shape[:2])
                else:
                    try:
                        detected = detections.positions[subject][action][index]
                    except (KeyError, IndexError):
                        raise KeyError(f"no 2D keypoints for {subject}/{action} camera {index}") from None
                    length = min(len(detected), len(camera_points))
                    camera_points, detected = camera_points[:length], detected[:length]
                    keypoints = detected[..., :2]
                    scores = detected[..., 2] if detected.shape[-1] == 3 else np.ones(detected.shape[:2])
                frames = np.arange(len(camera_points))[::stride]
                n = len(frames)
                size = np.array([camera.camera.width, camera.camera.height], dtype=np.float64)
                parts.append(
                    LiftingSamples(
                        keypoints_2d=keypoints[frames],
                        scores_2d=np.clip(scores[frames], 0.0, 1.0),
                        joints_3d=camera_points[frames],
                        image_size=np.broadcast_to(size, (n, 2)).copy(),
                        subjects=np.full(n, subject),
                        actions=np.full(n, action),
                        camera_ids=np.full(n, camera_id),
                        frame_indices=frames,
                        joint_set=H36M_17,
                    )
                )
    if not parts:
        raise ValueError("no sequences selected")
    return concatenate_samples(parts)


def _as_mapping(value: object, path: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a dictionary, got {type(value).__name__}")
    return value
