"""MPI-INF-3DHP test set: ``TS1`` .. ``TS6``, each with ``annot_data.mat`` and ``imageSequence/``.

``annot_data.mat`` holds, per frame: ``annot2`` (17 x 2 pixels), ``annot3`` (17 x 3 camera frame, mm),
``univ_annot3`` (the same pose rescaled to the universal skeleton, mm; the benchmark scores
these), ``valid_frame`` (0/1) and ``activity_annotation`` (1..7). In MATLAB the arrays are
(2 or 3, 17, 1, N). The released files are MATLAB v7.3 (HDF5, read with h5py); older-format
copies are read with scipy.

The 17 joints follow the benchmark's order (head top first, pelvis at index 14);
:data:`MPI_TO_H36M` re-orders them into H36M_17 by the usual correspondence (MPI "neck" is H36M's
thorax, MPI "head" its neck/nose, MPI "head_top" its head).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpe_ros.core.joints import JointSet
from hpe_ros.datasets.samples import LiftingSamples, concatenate_samples

MPI_INF_3DHP_JOINTS = (
    "head_top",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "spine",
    "head",
)
MPI_ROOT_INDEX = 14
# Kinematic parents (the benchmark's first-order parents; pelvis is the root).
_MPI_PARENTS = (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1)
MPI_INF_3DHP_17 = JointSet(
    name="mpi_inf_3dhp_17",
    joint_names=MPI_INF_3DHP_JOINTS,
    parents=_MPI_PARENTS,
    flip_pairs=tuple(
        (i, MPI_INF_3DHP_JOINTS.index("right_" + name[len("left_") :]))
        for i, name in enumerate(MPI_INF_3DHP_JOINTS)
        if name.startswith("left_")
    ),
    root=MPI_ROOT_INDEX,
    skeleton_type=None,
)
# The joints the benchmark's PCK/AUC tables average over (its joint groups: head top, neck,
# shoulders, elbows, wrists, hips, knees, ankles).
MPI_PCK_JOINTS = tuple(range(14))
# MPI joint index for each H36M_17 joint.
MPI_TO_H36M = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
MPI_ACTIVITIES = (
    "Standing/Walking",
    "Exercising",
    "Sitting",
    "Reaching/Crouching",
    "On The Floor",
    "Sports",
    "Miscellaneous",
)
MPI_TEST_SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
# Frame size of the test sequences: TS1-4 studio cameras, TS5-6 outdoor camera.
MPI_TEST_IMAGE_SIZE = {"TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
                       "TS5": (1920, 1080), "TS6": (1920, 1080)}  # fmt: skip
_FIELDS = ("annot2", "annot3", "univ_annot3", "valid_frame", "activity_annotation")


def read_mat_arrays(path: str | os.PathLike[str], names: Sequence[str] = _FIELDS) -> dict[str, np.ndarray]:
    """Arrays of a MATLAB file with their axes in reverse MATLAB order (HDF5's order).

    v7.3 files need h5py; older ones are read with scipy.io.loadmat (transposed to match).
    """
    path = os.fspath(path)
    try:
        from scipy.io import loadmat

        raw = loadmat(path, variable_names=list(names))
        return {name: np.asarray(raw[name]).T for name in names if name in raw}
    except NotImplementedError:  # scipy: "Please use HDF reader for matlab v7.3 files"
        pass
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs h5py (pip install h5py), "
            "or convert it with MATLAB's save(..., '-v7')"
        ) from error
    with h5py.File(path, "r") as file:
        return {name: np.asarray(file[name]) for name in names if name in file}


def load_mpi_inf_3dhp_sequence(
    path: str | os.PathLike[str],
    sequence: str,
    universal: bool = True,
    only_valid: bool = True,
    image_size: tuple[int, int] | None = None,
) -> LiftingSamples:
    """Samples of one test sequence from its ``annot_data.mat`` (MPI joint order, root 14).

    ``universal`` takes ``univ_annot3`` (what the benchmark scores), else ``annot3``. Image paths
    point at ``<folder>/imageSequence/img_<frame+1>.jpg``.
    """
    arrays = read_mat_arrays(path)
    missing = [name for name in _FIELDS if name not in arrays]
    if missing:
        raise ValueError(f"{path}: missing {missing}")
    keypoints = _frames_joints(arrays["annot2"], 2, path)
    joints = _frames_joints(arrays["univ_annot3" if universal else "annot3"], 3, path) / 1000.0
    n = len(keypoints)
    valid = np.asarray(arrays["valid_frame"]).reshape(-1).astype(bool)
    activity = np.asarray(arrays["activity_annotation"]).reshape(-1).astype(np.int64)
    if valid.shape != (n,) or activity.shape != (n,) or joints.shape[0] != n:
        raise ValueError(
            f"{path}: annotation lengths differ ({n} 2D, {joints.shape[0]} 3D, {valid.size}, {activity.size})"
        )
    keep = np.flatnonzero(valid) if only_valid else np.arange(n)
    if image_size is None:
        image_size = MPI_TEST_IMAGE_SIZE.get(sequence)
        if image_size is None:
            raise ValueError(f"unknown image size of sequence {sequence!r}: pass image_size")
    names = np.array(["Unknown", *MPI_ACTIVITIES])
    folder = Path(path).parent
    m = len(keep)
    return LiftingSamples(
        keypoints_2d=keypoints[keep],
        scores_2d=np.ones((m, keypoints.shape[1])),
        joints_3d=joints[keep],
        image_size=np.broadcast_to(np.asarray(image_size, dtype=np.float64), (m, 2)).copy(),
        subjects=np.full(m, sequence),
        actions=names[np.clip(activity[keep], 0, len(MPI_ACTIVITIES))],
        camera_ids=np.full(m, ""),
        frame_indices=keep.astype(np.int64),
        joint_set=MPI_INF_3DHP_17,
        image_paths=np.array([str(folder / "imageSequence" / f"img_{i + 1:06d}.jpg") for i in keep]),
    )


def load_mpi_inf_3dhp_test(
    folder: str | os.PathLike[str],
    sequences: Sequence[str] = MPI_TEST_SEQUENCES,
    universal: bool = True,
    only_valid: bool = True,
) -> LiftingSamples:
    """All ``sequences`` of the test set folder (``<folder>/TS<n>/annot_data.mat``)."""
    folder = Path(folder)
    return concatenate_samples(
        [
            load_mpi_inf_3dhp_sequence(folder / s / "annot_data.mat", s, universal, only_valid)
            for s in sequences
        ]
    )


def _frames_joints(array: Any, dims: int, path: object) -> np.ndarray:
    """(N, 1, 17, D) or (N, 17, D) in HDF5 order -> (N, 17, D)."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (17, dims):
        raise ValueError(f"{path}: expected (N, 1, 17, {dims}) joints, got {array.shape}")
    return array
