"""3D pose errors as the lifting literature reports them.

- MPJPE (Human3.6M protocol #1): mean Euclidean joint distance after putting the target's root at
  the origin (the prediction is used as the network gives it, like the official evaluations).
- P-MPJPE (protocol #2): MPJPE after the similarity transform (rotation, uniform scale,
  translation) that best maps each prediction onto its target; proper rotations only.
- N-MPJPE: MPJPE after the single scale factor that best fits each prediction to its target.
- PCK / AUC (MPI-INF-3DHP): share of joints closer than 150 mm, and the mean of that share over
  the thresholds 0, 5, ..., 150 mm (31 thresholds); a joint counts when its error is strictly
  below the threshold, as in the benchmark's MATLAB code.

Arrays are (N, J, 3) in metres; the report gives millimetres and percentages. Human3.6M results
are averaged per action (sub-actions "Walking 1", "Walking" merged) and then over the actions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

PCK_THRESHOLD_M = 0.150
AUC_THRESHOLDS_M = np.linspace(0.0, 0.150, 31)


def _check_pair(predicted: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape or predicted.ndim != 3 or predicted.shape[-1] != 3:
        raise ValueError(
            f"expected two (N, J, 3) arrays of one shape, got {predicted.shape} and {target.shape}"
        )
    return predicted, target


def joint_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, J) Euclidean distance of every joint."""
    predicted, target = _check_pair(predicted, target)
    return np.linalg.norm(predicted - target, axis=-1)


def root_relative(poses: np.ndarray, root_index: int = 0) -> np.ndarray:
    """(..., J, 3) poses with joint ``root_index`` moved to the origin."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses - poses[..., root_index : root_index + 1, :]


@dataclass(frozen=True)
class Similarity:
    """Per-frame ``x -> scale R x + translation``."""

    scale: np.ndarray  # (F,)
    rotation: np.ndarray  # (F, 3, 3)
    translation: np.ndarray  # (F, 3)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(F, P, 3) points (column vectors x) -> (F, P, 3)."""
        rotated = np.einsum("fij,fpj->fpi", self.rotation, points)
        return self.scale[:, None, None] * rotated + self.translation[:, None, :]


def fit_similarity(predicted: np.ndarray, target: np.ndarray) -> Similarity:
    """The least-squares similarity taking each (F, J, 3) prediction onto its target (Umeyama).

    Minimises ``sum_j |s R p_j + t - q_j|^2`` over a proper rotation R (det +1), a scale s and a
    translation t; when the unconstrained best orthogonal map is a reflection, the smallest
    singular direction is flipped instead.
    """
    mean_p = predicted.mean(axis=1, keepdims=True)
    mean_q = target.mean(axis=1, keepdims=True)
    p, q = predicted - mean_p, target - mean_q
    covariance = np.einsum("fji,fjk->fik", p, q)  # sum_j p_j q_j^T = U S V^T
    u, s, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones_like(s)
    d[:, -1] = sign
    rotation = np.swapaxes(vt, 1, 2) @ (d[:, :, None] * np.swapaxes(u, 1, 2))  # V D U^T
    variance = np.sum(p * p, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(variance > 0, np.sum(s * d, axis=1) / variance, 0.0)
    translation = mean_q[:, 0] - scale[:, None] * np.einsum("fij,fj->fi", rotation, mean_p[:, 0])
    return Similarity(scale, rotation, translation)


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each prediction mapped by its best similarity transform onto its target (:func:`fit_similarity`)."""
    predicted, target = _check_pair(predicted, target)
    return fit_similarity(predicted, target).apply(predicted)


def scale_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each prediction times the scale that minimises its squared error to the target."""
    predicted, target = _check_pair(predicted, target)
    norm_p = np.sum(predicted * predicted, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norm_p > 0, np.sum(predicted * target, axis=(1, 2)) / norm_p, 0.0)
    return scale[:, None, None] * predicted


def mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint position error, in the unit of the inputs."""
    return float(joint_errors(predicted, target).mean())


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after per-sample Procrustes alignment (rotation, scale, translation)."""
    return float(joint_errors(procrustes_align(predicted, target), target).mean())


def n_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after per-sample scale alignment."""
    return float(joint_errors(scale_align(predicted, target), target).mean())


def pck_curve(errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_M) -> np.ndarray:
    """Fraction of ``errors`` (any shape) strictly below each threshold."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if errors.size == 0:
        return np.full(thresholds.shape, np.nan)
    below = np.searchsorted(np.sort(errors), thresholds, side="left")  # count of errors < t
    return below / errors.size


def pck(errors: np.ndarray, threshold: float = PCK_THRESHOLD_M) -> float:
    """Fraction of joint errors strictly below ``threshold`` (MPI-INF-3DHP: 150 mm)."""
    return float(pck_curve(errors, np.array([threshold]))[0])


def auc(errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_M) -> float:
    """Mean PCK over ``thresholds`` (MPI-INF-3DHP: 0..150 mm in 5 mm steps)."""
    return float(pck_curve(errors, thresholds).mean())


def h36m_action_name(name: str) -> str:
    """The action of a Human3.6M sequence name without its trial or camera suffix.

    ``"Walking 1"``, ``"Walking_1"``, ``"Walking-2"`` and ``"Walking.54138969"`` all give ``"Walking"``;
    ``"WalkDog"`` stays itself (the dataset's own spelling of "WalkingDog" is not changed).
    """
    return re.sub(r"([ _.\-]\d+)+$", "", name.strip())


@dataclass(frozen=True)
class PoseMetrics:
    """Errors of a group of samples (millimetres, percent)."""

    num_samples: int
    mpjpe_mm: float
    p_mpjpe_mm: float
    n_mpjpe_mm: float
    pck_percent: float  # joints within PCK_THRESHOLD_M
    auc_percent: float  # mean PCK over AUC_THRESHOLDS_M


@dataclass(frozen=True)
class EvaluationReport:
    """All metrics of one evaluation run."""

    overall: PoseMetrics  # every sample weighted equally
    per_action: dict[str, PoseMetrics] = field(default_factory=dict)
    action_mean: PoseMetrics | None = None  # each metric averaged over actions (H36M tables)
    per_joint_mpjpe_mm: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def format(self) -> str:
        """A plain-text table: one row per action, then the averages, then per-joint MPJPE."""
        header = f"{'group':<16}{'N':>8}{'MPJPE':>9}{'P-MPJPE':>9}{'N-MPJPE':>9}{'PCK':>7}{'AUC':>7}"
        lines = [header, "-" * len(header)]

        def row(name: str, m: PoseMetrics) -> str:
            return (
                f"{name:<16}{m.num_samples:>8d}{m.mpjpe_mm:>9.1f}{m.p_mpjpe_mm:>9.1f}"
                f"{m.n_mpjpe_mm:>9.1f}{m.pck_percent:>7.1f}{m.auc_percent:>7.1f}"
            )

        lines += [row(name, metrics) for name, metrics in self.per_action.items()]
        if self.action_mean is not None:
            lines.append(row("action mean", self.action_mean))
        lines.append(row("all samples", self.overall))
        if self.per_joint_mpjpe_mm:
            lines.append(
                "MPJPE per joint (mm): "
                + ", ".join(f"{k} {v:.1f}" for k, v in self.per_joint_mpjpe_mm.items())
            )
        return "\n".join(lines)


def _group_metrics(
    e1: np.ndarray, e2: np.ndarray, e3: np.ndarray, pck_errors: np.ndarray, group: np.ndarray, groups: int
) -> list[PoseMetrics]:
    """Metrics per group from per-sample joint errors; ``group`` (N,) indexes 0..groups-1."""
    counts = np.bincount(group, minlength=groups)
    joints = e1.shape[1]
    thresholds = np.concatenate([[PCK_THRESHOLD_M], AUC_THRESHOLDS_M])
    # (N, T): per sample, the number of selected joints below each threshold
    below = (pck_errors[:, :, None] < thresholds).sum(axis=1)
    below_sum = np.stack([np.bincount(group, below[:, t], groups) for t in range(thresholds.size)], axis=1)
    sums = [np.bincount(group, e.sum(axis=1), groups) for e in (e1, e2, e3)]
    out = []
    for g in range(groups):
        n = int(counts[g])
        with np.errstate(invalid="ignore", divide="ignore"):
            mpjpe, p_mpjpe, n_mpjpe = (1000.0 * s[g] / (n * joints) for s in sums)
            share = below_sum[g] / (n * pck_errors.shape[1])
        out.append(PoseMetrics(n, mpjpe, p_mpjpe, n_mpjpe, 100.0 * share[0], 100.0 * share[1:].mean()))
    return out


def evaluate_poses(
    predicted: np.ndarray,
    target: np.ndarray,
    joint_names: Sequence[str] | None = None,
    actions: Sequence[str] | np.ndarray | None = None,
    root_index: int = 0,
    center_target: bool = True,
    center_prediction: bool = False,
    pck_joints: Sequence[int] | None = None,
    merge_trials: bool = True,
) -> EvaluationReport:
    """Every metric of predictions against targets, in metres, (N, J, 3) each.

    ``center_target`` moves the target's root joint to the origin (targets may be absolute
    camera coordinates); ``center_prediction`` does the same for the predictions (off by default:
    the lifters output root-relative poses and are scored as they are). ``actions`` (N,) groups
    the samples; with ``merge_trials`` the trial/camera suffixes are dropped first. PCK and AUC use
    the joints in ``pck_joints`` (all by default; MPI-INF-3DHP tables use 14 of its 17 joints).
    """
    predicted, target = _check_pair(predicted, target)
    if predicted.shape[0] == 0:
        raise ValueError("nothing to evaluate: no samples")
    if center_target:
        target = root_relative(target, root_index)
    if center_prediction:
        predicted = root_relative(predicted, root_index)
    e1 = joint_errors(predicted, target)
    e2 = joint_errors(procrustes_align(predicted, target), target)
    e3 = joint_errors(scale_align(predicted, target), target)
    pck_errors = e1 if pck_joints is None else e1[:, list(pck_joints)]

    n = predicted.shape[0]
    (overall,) = _group_metrics(e1, e2, e3, pck_errors, np.zeros(n, dtype=np.int64), 1)
    per_action: dict[str, PoseMetrics] = {}
    action_mean = None
    if actions is not None:
        if len(actions) != n:
            raise ValueError(f"{len(actions)} action labels for {n} samples")
        labels = [h36m_action_name(a) if merge_trials else a for a in actions]
        names, group = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
        per_action = dict(
            zip(names.tolist(), _group_metrics(e1, e2, e3, pck_errors, group, len(names)), strict=True)
        )
        values = np.array(
            [
                [m.mpjpe_mm, m.p_mpjpe_mm, m.n_mpjpe_mm, m.pck_percent, m.auc_percent]
                for m in per_action.values()
            ]
        )
        action_mean = PoseMetrics(n, *(float(v) for v in values.mean(axis=0)))
    names_j = list(joint_names) if joint_names is not None else [str(j) for j in range(e1.shape[1])]
    if len(names_j) != e1.shape[1]:
        raise ValueError(f"{len(names_j)} joint names for {e1.shape[1]} joints")
    per_joint = {name: float(1000.0 * v) for name, v in zip(names_j, e1.mean(axis=0), strict=True)}
    return EvaluationReport(overall, per_action, action_mean, per_joint)
