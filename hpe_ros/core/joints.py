"""Joint sets (names, kinematic trees, left/right pairs) and linear mappings between them.

A mapping is a weights matrix ``W`` of shape (J_target, J_source): ``target = W @ source``.
Every defined row sums to one (an affine combination), so mappings commute with translation
and work the same on pixels, root-relative and absolute 3D points. Rows of joints the source
cannot provide are zero and marked undefined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class SkeletonType(IntEnum):
    """Joint sets that can be published; equal to the ``SKELETON_*`` constants of Skeleton3D.msg."""

    H36M_17 = 0
    COCO_17 = 1
    SMPL_24 = 2


@dataclass(frozen=True)
class JointSet:
    """An ordered set of named joints with a kinematic tree and left/right pairs."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # parent index per joint, -1 for the root
    flip_pairs: tuple[tuple[int, int], ...]  # (left, right) index pairs swapped by a horizontal flip
    root: int
    skeleton_type: SkeletonType | None  # None for sets that are never published

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(set(self.joint_names)) != n:
            raise ValueError(f"{self.name}: joint names are not unique")
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {n} joints")
        if not 0 <= self.root < n or self.parents[self.root] != -1:
            raise ValueError(f"{self.name}: root {self.root} must be a joint whose parent is -1")
        for joint, parent in enumerate(self.parents):
            if joint != self.root and not 0 <= parent < n:
                raise ValueError(f"{self.name}: joint {joint} has invalid parent {parent}")
        for joint in range(n):  # every chain must reach the root (no cycles, a single tree)
            current, steps = joint, 0
            while current != self.root:
                current, steps = self.parents[current], steps + 1
                if steps > n:
                    raise ValueError(f"{self.name}: joint {joint} does not lead to the root")
        flipped = [i for pair in self.flip_pairs for i in pair]
        if len(set(flipped)) != len(flipped) or any(not 0 <= i < n for i in flipped):
            raise ValueError(f"{self.name}: flip pairs must use distinct valid indices")

    def __len__(self) -> int:
        return len(self.joint_names)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs of the kinematic tree."""
        return tuple((parent, child) for child, parent in enumerate(self.parents) if parent >= 0)

    @property
    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right counterpart."""
        permutation = np.arange(len(self.joint_names))
        for left, right in self.flip_pairs:
            permutation[left], permutation[right] = right, left
        return permutation

    def index(self, joint_name: str) -> int:
        """Index of ``joint_name``; KeyError listing the set's joints if it is not one of them."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            known = ", ".join(self.joint_names)
            raise KeyError(f"{self.name} has no joint {joint_name!r}; joints: {known}") from None

    def indices(self, joint_names: Sequence[str]) -> list[int]:
        return [self.index(name) for name in joint_names]


def _pairs_by_name(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """(left, right) pairs of all joints named ``left_*`` / ``right_*``."""
    return tuple(
        (i, names.index("right_" + name[len("left_") :]))
        for i, name in enumerate(names)
        if name.startswith("left_")
    )


def _joint_set(
    name: str,
    parent_names: Mapping[str, str | None],
    skeleton_type: SkeletonType | None,
    extra_flip_pairs: Sequence[tuple[str, str]] = (),
) -> JointSet:
    """Build a joint set from ``{joint: parent joint or None}`` in joint order.

    Flip pairs are all ``left_*``/``right_*`` joints plus ``extra_flip_pairs`` (by name).
    """
    names = tuple(parent_names)
    extra_pairs = tuple((names.index(left), names.index(right)) for left, right in extra_flip_pairs)
    parents = tuple(-1 if parent is None else names.index(parent) for parent in parent_names.values())
    return JointSet(
        name=name,
        joint_names=names,
        parents=parents,
        flip_pairs=_pairs_by_name(names) + extra_pairs,
        root=parents.index(-1),
        skeleton_type=skeleton_type,
    )


# Human3.6M 17-joint order used by the lifting literature (Skeleton3D.msg H36M_*). "neck" is
# H36M's "Neck/Nose" joint (around the nose/chin), "head" is the top of the head.
H36M_17 = _joint_set(
    "h36m_17",
    {
        "pelvis": None,
        "right_hip": "pelvis",
        "right_knee": "right_hip",
        "right_ankle": "right_knee",
        "left_hip": "pelvis",
        "left_knee": "left_hip",
        "left_ankle": "left_knee",
        "spine": "pelvis",
        "thorax": "spine",
        "neck": "thorax",
        "head": "neck",
        "left_shoulder": "thorax",
        "left_elbow": "left_shoulder",
        "left_wrist": "left_elbow",
        "right_shoulder": "thorax",
        "right_elbow": "right_shoulder",
        "right_wrist": "right_elbow",
    },
    SkeletonType.H36M_17,
)

# COCO keypoint order. COCO has no pelvis; the tree (for drawing bones and as a kinematic
# order) hangs from the nose: nose -> eyes -> ears, nose -> shoulders -> arms, shoulders -> hips -> legs.
COCO_17 = _joint_set(
    "coco_17",
    {
        "nose": None,
        "left_eye": "nose",
        "right_eye": "nose",
        "left_ear": "left_eye",
        "right_ear": "right_eye",
        "left_shoulder": "nose",
        "right_shoulder": "nose",
        "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder",
        "left_wrist": "left_elbow",
        "right_wrist": "right_elbow",
        "left_hip": "left_shoulder",
        "right_hip": "right_shoulder",
        "left_knee": "left_hip",
        "right_knee": "right_hip",
        "left_ankle": "left_knee",
        "right_ankle": "right_knee",
    },
    SkeletonType.COCO_17,
)

# SMPL body joints in the model's order with its kinematic tree.
SMPL_24 = _joint_set(
    "smpl_24",
    {
        "pelvis": None,
        "left_hip": "pelvis",
        "right_hip": "pelvis",
        "spine1": "pelvis",
        "left_knee": "left_hip",
        "right_knee": "right_hip",
        "spine2": "spine1",
        "left_ankle": "left_knee",
        "right_ankle": "right_knee",
        "spine3": "spine2",
        "left_foot": "left_ankle",
        "right_foot": "right_ankle",
        "neck": "spine3",
        "left_collar": "spine3",
        "right_collar": "spine3",
        "head": "neck",
        "left_shoulder": "left_collar",
        "right_shoulder": "right_collar",
        "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder",
        "left_wrist": "left_elbow",
        "right_wrist": "right_elbow",
        "left_hand": "left_wrist",
        "right_hand": "right_wrist",
    },
    SkeletonType.SMPL_24,
)

# MediaPipe Pose (BlazePose) landmark order; the tree hangs from the nose like COCO's.
# (Not published: it is converted to COCO_17 or H36M_17 first.)
BLAZEPOSE_33 = _joint_set(
    "blazepose_33",
    {
        "nose": None,
        "left_eye_inner": "nose",
        "left_eye": "left_eye_inner",
        "left_eye_outer": "left_eye",
        "right_eye_inner": "nose",
        "right_eye": "right_eye_inner",
        "right_eye_outer": "right_eye",
        "left_ear": "left_eye_outer",
        "right_ear": "right_eye_outer",
        "mouth_left": "nose",
        "mouth_right": "nose",
        "left_shoulder": "nose",
        "right_shoulder": "nose",
        "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder",
        "left_wrist": "left_elbow",
        "right_wrist": "right_elbow",
        "left_pinky": "left_wrist",
        "right_pinky": "right_wrist",
        "left_index": "left_wrist",
        "right_index": "right_wrist",
        "left_thumb": "left_wrist",
        "right_thumb": "right_wrist",
        "left_hip": "left_shoulder",
        "right_hip": "right_shoulder",
        "left_knee": "left_hip",
        "right_knee": "right_hip",
        "left_ankle": "left_knee",
        "right_ankle": "right_knee",
        "left_heel": "left_ankle",
        "right_heel": "right_ankle",
        "left_foot_index": "left_heel",
        "right_foot_index": "right_heel",
    },
    None,
    extra_flip_pairs=(("mouth_left", "mouth_right"),),
)

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (H36M_17, COCO_17, SMPL_24, BLAZEPOSE_33)}


def get_joint_set(key: str | int | SkeletonType | JointSet) -> JointSet:
    """Joint set by name (``"h36m_17"``, case-insensitive), SkeletonType/message constant, or itself."""
    if isinstance(key, JointSet):
        return key
    if isinstance(key, (int, np.integer)):
        for joint_set in JOINT_SETS.values():
            if joint_set.skeleton_type is not None and joint_set.skeleton_type == key:
                return joint_set
        known_types = ", ".join(f"{t.value} ({t.name})" for t in SkeletonType)
        raise KeyError(f"unknown skeleton type {int(key)}; known: {known_types}")
    if isinstance(key, str) and key.lower() in JOINT_SETS:
        return JOINT_SETS[key.lower()]
    raise KeyError(f"unknown joint set {key!r}; known: {', '.join(JOINT_SETS)}")


def flip_joints(
    points: np.ndarray,
    joint_set: JointSet | str | SkeletonType,
    image_width: float | None = None,
) -> np.ndarray:
    """Mirror poses horizontally: swap left/right joints and mirror x.

    ``points`` is (..., J, D) with x in column 0. With ``image_width`` x is a pixel coordinate and
    becomes ``image_width - 1 - x`` (the pixel-centre mirror of a flipped image); without it x is a
    3D coordinate and is negated. Other columns (y, z, scores...) are only permuted.
    """
    joint_set = get_joint_set(joint_set)
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != len(joint_set):
        raise ValueError(
            f"expected (..., {len(joint_set)}, D) points for {joint_set.name}, got {points.shape}"
        )
    flipped = points[..., joint_set.flip_permutation, :].copy()
    flipped[..., 0] = (image_width - 1 - flipped[..., 0]) if image_width is not None else -flipped[..., 0]
    return flipped


@dataclass(frozen=True, eq=False)
class JointMapping:
    """Linear map from one joint set to another: ``target = weights @ source``."""

    source: JointSet
    target: JointSet
    weights: np.ndarray  # (J_target, J_source); each defined row sums to 1
    defined: np.ndarray  # (J_target,) bool; False where the source has no counterpart

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float64)
        defined = np.array(self.defined, dtype=bool)
        shape = (len(self.target), len(self.source))
        if weights.shape != shape or defined.shape != shape[:1]:
            raise ValueError(
                f"weights must be {shape} and defined ({shape[0]},), got {weights.shape}, {defined.shape}"
            )
        row_sums = weights.sum(axis=1)
        if not np.allclose(row_sums[defined], 1.0) or np.any(weights[~defined] != 0):
            raise ValueError("defined rows must sum to 1 and undefined rows must be zero")
        weights.setflags(write=False)
        defined.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "defined", defined)

    @property
    def support(self) -> np.ndarray:
        """(J_target, J_source) bool: which source joints each target joint is made from."""
        return np.asarray(self.weights != 0, dtype=bool)

    def then(self, next_mapping: JointMapping) -> JointMapping:
        """This mapping followed by ``next_mapping`` (source -> self.target -> next_mapping.target)."""
        if next_mapping.source != self.target:
            raise ValueError(
                f"cannot chain {self.target.name} output into a mapping from {next_mapping.source.name}"
            )
        # A target is defined only if every intermediate joint it uses is defined.
        uses_undefined = (next_mapping.support & ~self.defined[None, :]).any(axis=1)
        defined = next_mapping.defined & ~uses_undefined
        weights = np.where(defined[:, None], next_mapping.weights @ self.weights, 0.0)
        return JointMapping(self.source, next_mapping.target, weights, defined)


@dataclass(frozen=True)
class ConvertedJoints:
    """Result of :func:`convert_joints`."""

    points: np.ndarray  # (..., J_target, D); NaN where not defined
    scores: np.ndarray | None  # (..., J_target); 0 where not defined
    defined: np.ndarray  # (J_target,) bool


def _mapping_from_means(
    source: JointSet, target: JointSet, rules: Mapping[str, str | Sequence[str]]
) -> JointMapping:
    """Mapping where each target joint in ``rules`` is the mean of the named source joints."""
    weights = np.zeros((len(target), len(source)))
    defined = np.zeros(len(target), dtype=bool)
    for target_name, source_names in rules.items():
        names = [source_names] if isinstance(source_names, str) else list(source_names)
        row = target.index(target_name)
        np.add.at(weights[row], source.indices(names), 1.0 / len(names))  # repeated names add up
        defined[row] = True
    return JointMapping(source, target, weights, defined)


def _same_names(names: Sequence[str]) -> dict[str, str]:
    """Rules that take each named joint from the source joint of the same name."""
    return {name: name for name in names}


_LIMBS = tuple(
    f"{side}_{part}"
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    for side in ("left", "right")
)

# COCO -> H36M, the synthesis used by 2D-to-3D lifting on COCO-style detections. It only
# approximates H36M's joints: H36M's pelvis, spine and thorax come from its marker skeleton
# (the thorax sits a little above the shoulder line), "neck/nose" is taken as the nose, and
# "head" (H36M: top of the head) as the mean of eyes and ears, which lies lower than the head top.
_COCO_TO_H36M = {
    **_same_names(_LIMBS),
    "pelvis": ("left_hip", "right_hip"),
    "thorax": ("left_shoulder", "right_shoulder"),
    "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),  # = mid(pelvis, thorax)
    "neck": "nose",
    "head": ("left_eye", "right_eye", "left_ear", "right_ear"),
}

# SMPL -> H36M by nearest anatomical joint. Approximate only (SMPL's hips are placed differently,
# spine2 and neck stand in for H36M's spine and thorax, SMPL's head joint sits at the skull base
# near the nose's height); exact H36M joints come from the mesh through a vertex regressor.
# H36M's head top has no SMPL counterpart and stays undefined.
_SMPL_TO_H36M = {
    **_same_names(_LIMBS),
    "pelvis": "pelvis",
    "spine": "spine2",
    "thorax": "neck",
    "neck": "head",
}

# H36M -> COCO: limbs exactly, the nose from H36M's neck/nose joint; eyes and ears undefined.
_H36M_TO_COCO = {**_same_names(_LIMBS), "nose": "neck"}

_BLAZEPOSE_TO_COCO = _same_names(COCO_17.joint_names)  # COCO names are a subset

_SMPL_TO_COCO = _same_names(_LIMBS)


def _build_mappings() -> dict[tuple[str, str], JointMapping]:
    mappings = {
        (source.name, target.name): _mapping_from_means(source, target, rules)
        for source, target, rules in (
            (COCO_17, H36M_17, _COCO_TO_H36M),
            (SMPL_24, H36M_17, _SMPL_TO_H36M),
            (H36M_17, COCO_17, _H36M_TO_COCO),
            (BLAZEPOSE_33, COCO_17, _BLAZEPOSE_TO_COCO),
            (SMPL_24, COCO_17, _SMPL_TO_COCO),
        )
    }
    blaze_to_coco = mappings[(BLAZEPOSE_33.name, COCO_17.name)]
    mappings[(BLAZEPOSE_33.name, H36M_17.name)] = blaze_to_coco.then(mappings[(COCO_17.name, H36M_17.name)])
    for joint_set in JOINT_SETS.values():
        n = len(joint_set)
        identity = JointMapping(joint_set, joint_set, np.eye(n), np.ones(n, dtype=bool))
        mappings[(joint_set.name, joint_set.name)] = identity
    return mappings


_MAPPINGS = _build_mappings()


def joint_mapping(
    source: JointSet | str | SkeletonType, target: JointSet | str | SkeletonType
) -> JointMapping:
    """The mapping from ``source`` to ``target``; KeyError listing what exists if there is none."""
    source, target = get_joint_set(source), get_joint_set(target)
    try:
        return _MAPPINGS[(source.name, target.name)]
    except KeyError:
        available = ", ".join(f"{s}->{t}" for s, t in _MAPPINGS if s != t)
        raise KeyError(f"no joint mapping {source.name}->{target.name}; available: {available}") from None


def convert_joints(
    points: np.ndarray,
    source: JointSet | str | SkeletonType,
    target: JointSet | str | SkeletonType,
    scores: np.ndarray | None = None,
) -> ConvertedJoints:
    """Convert (..., J_source, D) points (and (..., J_source) scores) to the target joint set.

    Undefined target joints get NaN points and score 0. A synthesised joint scores the minimum of
    its sources' scores and is NaN if any of its sources is NaN (unused NaN sources do not spread).
    """
    mapping = joint_mapping(source, target)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-2] != len(mapping.source):
        raise ValueError(
            f"expected (..., {len(mapping.source)}, D) points for {mapping.source.name}, got {points.shape}"
        )
    support = mapping.support
    missing = np.isnan(points).any(axis=-1)  # (..., J_source)
    converted = np.einsum("ts,...sd->...td", mapping.weights, np.where(missing[..., None], 0.0, points))
    invalid = (missing.astype(np.float64) @ support.T.astype(np.float64)) > 0  # (..., J_target)
    invalid |= ~mapping.defined
    converted[invalid] = np.nan

    converted_scores = None
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != points.shape[:-1]:
            raise ValueError(f"scores must have shape {points.shape[:-1]}, got {scores.shape}")
        per_source = np.where(support, scores[..., None, :], np.inf)  # (..., J_target, J_source)
        converted_scores = np.where(mapping.defined, per_source.min(axis=-1), 0.0)
    return ConvertedJoints(points=converted, scores=converted_scores, defined=mapping.defined.copy())
