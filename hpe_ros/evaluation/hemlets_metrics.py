"""Human3.6M protocols #1 and #2 exactly as HEMlets' official evaluation computes them.

Facts read from redrock303/HEMlets (``inference/metric_3d.py``, ``validate_evl.py``):

* the ground truth is the 32-joint camera-frame mocap reduced to the 17 Human3.6M joints (plus a
  thorax, the mean of the shoulders, which no metric uses); errors use those 17 joints, in mm;
* protocol #1 puts joint 0 (pelvis) of both poses at the origin, then averages the 17 joint
  distances of a frame; protocol #2 is the mean distance after the best similarity (rotation,
  uniform scale, translation; no reflection) between the two, and the official code maps the
  ground truth onto the prediction (not the usual prediction onto the ground truth: with a
  scale in the fit the two differ);
* each frame counts once in its action (the sequence name's action, 15 actions, trials and cameras
  merged); the table gives each action's mean and the mean over the actions.

The predictions are the camera-space joints of :func:`hpe_ros.pipelines.rgb.hemlets.decode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hpe_ros.evaluation.metrics import h36m_action_name, joint_errors, procrustes_align, root_relative
from hpe_ros.pipelines.rgb.hemlets import H36M32_TO_H36M17, NUM_JOINTS

#: the 15 actions of HEMlets' table, in its order
H36M_ACTIONS = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
_ACTION_ALIASES = {"WalkingDog": "WalkDog", "TakingPhoto": "Photo", "WalkingTogether": "WalkTogether"}
SCORED_JOINTS = 17  # the thorax (joint 17) is not scored


def hemlets_action(sequence: str) -> str:
    """The table action of a Human3.6M sequence name (``"WalkingDog 1.60457274"`` -> ``"WalkDog"``)."""
    base = h36m_action_name(sequence)
    action = _ACTION_ALIASES.get(base, base)
    if action not in H36M_ACTIONS:
        raise ValueError(f"{sequence!r} is not one of the 15 Human3.6M actions")
    return action


def hemlets_targets(joints32_mm: np.ndarray) -> np.ndarray:
    """(..., 32, 3) Human3.6M mocap joints -> (..., 18, 3): the 17 joints, then the thorax."""
    joints = np.asarray(joints32_mm, dtype=np.float64)[..., list(H36M32_TO_H36M17), :]
    thorax = (joints[..., 11, :] + joints[..., 14, :]) * 0.5
    return np.concatenate([joints, thorax[..., None, :]], axis=-2)


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame errors of protocol #1 and #2 (mm)."""

    p1_mm: np.ndarray  # (N,)
    p2_mm: np.ndarray  # (N,)


def frame_errors(predicted_mm: np.ndarray, target_mm: np.ndarray) -> FrameErrors:
    """(N, J, 3) camera-space predictions and targets (J = 17 or 18), millimetres -> per-frame errors."""
    predicted = np.asarray(predicted_mm, dtype=np.float64)
    target = np.asarray(target_mm, dtype=np.float64)
    if predicted.shape != target.shape or predicted.shape[-2] not in (SCORED_JOINTS, NUM_JOINTS):
        raise ValueError(f"expected two (N, 17 or 18, 3) arrays of one shape, got {predicted.shape}, "
                         f"{target.shape}")
    predicted, target = predicted[:, :SCORED_JOINTS], target[:, :SCORED_JOINTS]
    p1 = joint_errors(root_relative(predicted), root_relative(target)).mean(axis=1)
    p2 = joint_errors(procrustes_align(target, predicted), predicted).mean(axis=1)  # GT onto prediction
    return FrameErrors(p1, p2)


@dataclass(frozen=True)
class ActionErrors:
    frames: int
    p1_mm: float
    p2_mm: float


@dataclass(frozen=True)
class HemletsReport:
    """HEMlets' Human3.6M table: per action, and the mean over the actions present."""

    per_action: dict[str, ActionErrors]
    mean_p1_mm: float
    mean_p2_mm: float
    frames: int

    def format(self) -> str:
        lines = [f"{'action':<14}{'frames':>8}{'P1':>9}{'P2':>9}"]
        lines += [f"{a:<14}{e.frames:>8d}{e.p1_mm:>9.2f}{e.p2_mm:>9.2f}" for a, e in self.per_action.items()]
        lines.append(f"{'Avg':<14}{self.frames:>8d}{self.mean_p1_mm:>9.2f}{self.mean_p2_mm:>9.2f}")
        return "\n".join(lines)


def hemlets_report(errors: FrameErrors, sequences: Sequence[str]) -> HemletsReport:
    """Frames grouped by the action of their sequence name, in :data:`H36M_ACTIONS` order."""
    if len(sequences) != errors.p1_mm.shape[0]:
        raise ValueError(f"{len(sequences)} sequence names for {errors.p1_mm.shape[0]} frames")
    if not len(sequences):
        raise ValueError("nothing to evaluate: no frames")
    actions = np.array([hemlets_action(s) for s in sequences])
    per_action = {}
    for action in H36M_ACTIONS:
        chosen = actions == action
        if chosen.any():
            per_action[action] = ActionErrors(int(chosen.sum()), float(errors.p1_mm[chosen].mean()),
                                              float(errors.p2_mm[chosen].mean()))
    mean_p1 = float(np.mean([e.p1_mm for e in per_action.values()]))
    mean_p2 = float(np.mean([e.p2_mm for e in per_action.values()]))
    return HemletsReport(per_action, mean_p1, mean_p2, len(sequences))
