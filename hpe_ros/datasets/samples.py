"""The one container every lifting data set is turned into: 2D keypoints, 3D joints, labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from hpe_ros.core.joints import JointSet


def normalize_screen(points: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Pixels (..., J, 2) -> ``x / w * 2 - [1, h / w]`` for image sizes (..., 2) = (w, h).

    The input convention of the lifters (VideoPose3D's ``normalize_screen_coordinates``): the
    image width maps to [-1, 1] and the aspect ratio is kept.
    """
    points = np.asarray(points, dtype=np.float64)
    size = np.asarray(image_size, dtype=np.float64)[..., None, :]
    width, height = size[..., 0:1], size[..., 1:2]
    offset = np.concatenate([np.ones_like(width), height / width], axis=-1)
    return points / width * 2.0 - offset


def denormalize_screen(points: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_screen`."""
    points = np.asarray(points, dtype=np.float64)
    size = np.asarray(image_size, dtype=np.float64)[..., None, :]
    width, height = size[..., 0:1], size[..., 1:2]
    offset = np.concatenate([np.ones_like(width), height / width], axis=-1)
    return (points + offset) * width / 2.0


@dataclass(frozen=True, eq=False)
class LiftingSamples:
    """N single-frame samples of one joint set.

    ``joints_3d`` are in each sample's camera optical frame, metres (absolute where the data set
    has the camera position, else root-relative). Label arrays are (N,) strings.
    """

    keypoints_2d: np.ndarray  # (N, J, 2) pixels of the full image
    scores_2d: np.ndarray  # (N, J) in [0, 1]; 1 for ground truth
    joints_3d: np.ndarray  # (N, J, 3) metres, camera frame
    image_size: np.ndarray  # (N, 2) width, height in pixels
    subjects: np.ndarray  # (N,) e.g. "S9", "TS1"
    actions: np.ndarray  # (N,) e.g. "Walking 1" (H36M), "Sitting" (MPI-INF-3DHP activity)
    camera_ids: np.ndarray  # (N,) e.g. "54138969"; "" when unknown
    frame_indices: np.ndarray  # (N,) frame number within the sequence
    joint_set: JointSet
    image_paths: np.ndarray | None = None  # (N,) file names, when frames are available

    def __post_init__(self) -> None:
        n, j = self.keypoints_2d.shape[:2]
        expected = {
            "keypoints_2d": (n, j, 2),
            "scores_2d": (n, j),
            "joints_3d": (n, j, 3),
            "image_size": (n, 2),
            "subjects": (n,),
            "actions": (n,),
            "camera_ids": (n,),
            "frame_indices": (n,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must be {shape}, got {getattr(self, name).shape}")
        if len(self.joint_set) != j:
            raise ValueError(f"{j} joints given for {self.joint_set.name} ({len(self.joint_set)} joints)")
        if self.image_paths is not None and self.image_paths.shape != (n,):
            raise ValueError(f"image_paths must be ({n},), got {self.image_paths.shape}")

    def __len__(self) -> int:
        return int(self.keypoints_2d.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints_2d.shape[1])

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.joint_set.joint_names

    @property
    def root_index(self) -> int:
        return self.joint_set.root

    def normalized_keypoints(self) -> np.ndarray:
        """(N, J, 2) keypoints in the lifters' screen normalisation."""
        return normalize_screen(self.keypoints_2d, self.image_size)

    def relative_joints_3d(self) -> np.ndarray:
        """(N, J, 3) joints relative to the root joint, metres."""
        return self.joints_3d - self.joints_3d[:, self.root_index : self.root_index + 1]

    def select(self, index: np.ndarray | slice | Sequence[int]) -> LiftingSamples:
        """The samples at ``index`` (indices, a boolean mask or a slice)."""
        if not isinstance(index, slice):
            index = np.asarray(index)
        values = {
            f.name: (
                getattr(self, f.name)[index]
                if isinstance(getattr(self, f.name), np.ndarray)
                else getattr(self, f.name)
            )
            for f in fields(self)
        }
        return LiftingSamples(**values)

    def subsample(self, every: int) -> LiftingSamples:
        """Every ``every``-th sample (evaluation protocols that thin out the test set)."""
        return self.select(slice(None, None, every))

    def with_keypoints(self, keypoints_2d: np.ndarray, scores_2d: np.ndarray | None = None) -> LiftingSamples:
        """The same samples with other 2D keypoints (e.g. a detector's)."""
        scores = (
            np.ones(keypoints_2d.shape[:2]) if scores_2d is None else np.asarray(scores_2d, dtype=np.float64)
        )
        return replace(self, keypoints_2d=np.asarray(keypoints_2d, dtype=np.float64), scores_2d=scores)


def concatenate_samples(parts: Sequence[LiftingSamples]) -> LiftingSamples:
    """One container of all ``parts`` (same joint set and root)."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]
    for part in parts[1:]:
        if part.joint_set != first.joint_set:
            raise ValueError("cannot concatenate samples of different joint sets")
    with_paths = [p.image_paths is not None for p in parts]
    values: dict[str, object] = {"joint_set": first.joint_set}
    for f in fields(first):
        if f.name in values or f.name == "image_paths":
            continue
        values[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
    values["image_paths"] = np.concatenate([p.image_paths for p in parts]) if all(with_paths) else None
    return LiftingSamples(**values)  # type: ignore[arg-type]
