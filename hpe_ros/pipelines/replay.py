"""Ground-truth replay: known 3D poses from a file, re-published at each input's stamp.

A pipeline for testing controllers and the plumbing without any network. Two file layouts
(``.npz``) are understood:

* hpe_ros's own: ``joints_3d`` (T, J, 3) or (T, P, J, 3) in metres in the camera optical
  frame, ``joint_set`` (a name such as ``"h36m_17"``), optional ``stamps_ns`` (T,),
  ``keypoints_2d`` (T[, P], J, 2), ``confidence`` (T[, P], J) and ``metric`` (bool, default true).
* mmpose's Human3.6M body3d files: ``S`` (T, 17, 4) camera-frame metres with visibility in
  the last column, ``part`` (T, 17, 3) pixels with visibility.

Frames are matched either in ``sequence`` (the n-th input gets entry n, wrapping around) or by
``stamp`` (the nearest ``stamps_ns`` within ``stamp_tolerance_s``; none -> an empty result).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpe_ros.core.joints import JointSet, get_joint_set
from hpe_ros.pipelines.base import EventWindow, ImageFrame, PersonPose, Pipeline, PoseResult


@dataclass(frozen=True)
class PoseSequence:
    """Poses of P people over T time steps."""

    joint_set: JointSet
    joints_3d: np.ndarray  # (T, P, J, 3)
    confidence: np.ndarray  # (T, P, J)
    keypoints_2d: np.ndarray | None  # (T, P, J, 2)
    stamps_ns: np.ndarray | None  # (T,)
    metric: bool

    def __len__(self) -> int:
        return self.joints_3d.shape[0]


def _with_people_axis(array: np.ndarray, per_person_ndim: int) -> np.ndarray:
    return array[:, None] if array.ndim == per_person_ndim + 1 else array


def load_pose_sequence(path: str | Path) -> PoseSequence:
    """Read a replay file (see the module docstring); raises ValueError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"replay file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path} is not a readable .npz file: {error}") from error
    with data:
        keys = set(data.files)
        if "joints_3d" in keys:
            joint_set = (
                get_joint_set(str(data["joint_set"])) if "joint_set" in keys else get_joint_set("h36m_17")
            )
            joints = _with_people_axis(np.asarray(data["joints_3d"], dtype=np.float64), 2)
            confidence = (_with_people_axis(np.asarray(data["confidence"], dtype=np.float32), 1)
                          if "confidence" in keys else np.ones(joints.shape[:3], dtype=np.float32))
            keypoints = (_with_people_axis(np.asarray(data["keypoints_2d"], dtype=np.float32), 2)
                         if "keypoints_2d" in keys else None)
            stamps = np.asarray(data["stamps_ns"], dtype=np.int64) if "stamps_ns" in keys else None
            metric = bool(data["metric"]) if "metric" in keys else True
        elif "S" in keys:
            joint_set = get_joint_set("h36m_17")
            s = np.asarray(data["S"], dtype=np.float64)
            joints, confidence = s[:, None, :, :3], s[:, None, :, 3].astype(np.float32)
            keypoints = np.asarray(data["part"], dtype=np.float32)[:, None, :, :2] if "part" in keys else None
            stamps, metric = None, True
        else:
            raise ValueError(f"{path} has neither 'joints_3d' nor 'S'; keys: {sorted(keys)}")
    n_joints = len(joint_set.joint_names)
    if joints.ndim != 4 or joints.shape[2:] != (n_joints, 3):
        raise ValueError(
            f"{path}: joints must be (T[, P], {n_joints}, 3) for {joint_set.name}, got {joints.shape}"
        )
    if stamps is not None and stamps.shape != (joints.shape[0],):
        raise ValueError(f"{path}: stamps_ns must have one entry per time step ({joints.shape[0]})")
    return PoseSequence(joint_set, joints, confidence, keypoints, stamps, metric)


class ReplayPipeline(Pipeline):
    """Publishes poses read from a file instead of estimating them."""

    name = "replay"

    def __init__(self, path: str | Path, match: str = "sequence", stamp_tolerance_s: float = 0.05,
                 input_kind: str = "image", with_ids: bool = True) -> None:
        """``with_ids``: people carry their index in the file as id (``replay_<n>``); without,
        they come out as a detector's would, and the nodes' tracking stage names them."""
        if match not in ("sequence", "stamp"):
            raise ValueError(f"match must be 'sequence' or 'stamp', got {match!r}")
        self.sequence = load_pose_sequence(path)
        if match == "stamp" and self.sequence.stamps_ns is None:
            raise ValueError(f"match='stamp' needs 'stamps_ns' in {path}")
        self.path = Path(path)
        self.input_kind = input_kind
        self.match = match
        self.tolerance_ns = int(stamp_tolerance_s * 1e9)
        self._next = 0
        self.with_ids = with_ids

    def _index_for(self, stamp_ns: int) -> int | None:
        if self.match == "sequence":
            index = self._next % len(self.sequence)
            self._next += 1
            return index
        stamps = self.sequence.stamps_ns
        assert stamps is not None
        index = int(np.argmin(np.abs(stamps - stamp_ns)))
        return index if abs(int(stamps[index]) - stamp_ns) <= self.tolerance_ns else None

    def process(self, frame: ImageFrame | EventWindow) -> PoseResult:
        result = PoseResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, image_size=frame.size)
        index = self._index_for(frame.stamp_ns)
        if index is None:
            return result
        seq = self.sequence
        for person in range(seq.joints_3d.shape[1]):
            joints = seq.joints_3d[index, person]
            if not np.isfinite(joints).any():
                continue  # a person absent at this step
            result.people.append(
                PersonPose(
                    joint_set=seq.joint_set,
                    joints_3d=joints.copy(),
                    confidence=seq.confidence[index, person].copy(),
                    metric=seq.metric,
                    root_confidence=1.0 if seq.metric else 0.0,
                    keypoints_2d=None if seq.keypoints_2d is None else seq.keypoints_2d[index, person].copy(),
                    track_id=f"replay_{person}" if self.with_ids else "",
                )
            )
        return result

    def describe(self) -> dict[str, str]:
        return {"pipeline": self.name, "file": str(self.path), "match": self.match,
                "steps": str(len(self.sequence)), "joint_set": self.sequence.joint_set.name}
