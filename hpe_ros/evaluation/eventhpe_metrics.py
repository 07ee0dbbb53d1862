"""The metrics of EventHPE's paper (MPJPE, PA-MPJPE, PEL-MPJPE, PVE, PCK) as its official test computes them.

Facts read from JimmyZou/EventHPE (``event_pose_estimation/test.py``, ``loss_funcs.py``,
``geometry.py``):

* poses are the 24 SMPL joints in the camera frame, metres, *with* the translation (absolute);
  all 24 joints are scored; numbers are reported in mm (x 1000);
* MPJPE: joint distances with no alignment at all;
* PEL-MPJPE: both poses moved so the mid-point of the hips (SMPL joints 1 and 2) is the origin;
* PA-MPJPE: the prediction mapped onto the target by its best similarity (rotation, uniform
  scale, translation; a reflection is turned into a rotation) per frame;
* PVE: the predicted vertices mapped by the similarity fitted on the *joints* (above), then the
  mean vertex distance to the target mesh; the official target mesh is SMPL posed with the
  ground-truth pose and translation and the *initialisation's* shape (the VIBE estimate in the
  reported runs), not a ground-truth shape;
* PCK: PEL-MPJPE below 0.1 m; PCKh@0.5: below the target's neck(12)-head(15) distance; PCK@0.2
  torso: below 0.2 x the target's neck(12)-pelvis(0) distance;
* every (clip, step, joint) counts once in the means; PVE averages (clip, step).

The official batched similarity treats batches of exactly 2 or 3 frames as already transposed
(it tests the batch size for the point dimension); its test batches (8 clips x 8 steps) never
meet that, and this module always fits per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpe_ros.evaluation.metrics import fit_similarity

NUM_JOINTS = 24
LEFT_HIP, RIGHT_HIP = 1, 2
PELVIS, NECK, HEAD = 0, 12, 15
PCK_THRESHOLD_M = 0.1
PCKH_FRACTION = 0.5 * 2  # the official "0.5 x 2 x |neck - head|"
TORSO_FRACTION = 0.2


def _frames(points: np.ndarray, name: str, count: int | None = None) -> np.ndarray:
    """(..., P, 3) -> (F, P, 3) float64."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim < 2 or array.shape[-1] != 3 or (count is not None and array.shape[-2] != count):
        expected = f"(..., {count}, 3)" if count is not None else "(..., P, 3)"
        raise ValueError(f"{name}: expected {expected}, got {array.shape}")
    return array.reshape(-1, *array.shape[-2:])


def _pair(predicted: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(predicted) != np.shape(target):
        raise ValueError(f"predicted {np.shape(predicted)} and target {np.shape(target)} differ")
    return _frames(predicted, "predicted", NUM_JOINTS), _frames(target, "target", NUM_JOINTS)


def mpjpe_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 24) joint distances, no alignment (metres in, metres out)."""
    p, q = _pair(predicted, target)
    return np.linalg.norm(p - q, axis=-1)


def _hip_centred(poses: np.ndarray) -> np.ndarray:
    return poses - (poses[:, LEFT_HIP:LEFT_HIP + 1] + poses[:, RIGHT_HIP:RIGHT_HIP + 1]) / 2


def pel_mpjpe_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 24) joint distances with both hip mid-points at the origin."""
    p, q = _pair(predicted, target)
    return np.linalg.norm(_hip_centred(p) - _hip_centred(q), axis=-1)


def pa_mpjpe_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 24) joint distances after each prediction's best similarity onto its target."""
    p, q = _pair(predicted, target)
    return np.linalg.norm(fit_similarity(p, q).apply(p) - q, axis=-1)


def pve_errors(predicted_joints: np.ndarray, target_joints: np.ndarray,
               predicted_vertices: np.ndarray, target_vertices: np.ndarray) -> np.ndarray:
    """(F,) mean vertex distance after the joints' similarity is applied to the predicted vertices."""
    p, q = _pair(predicted_joints, target_joints)
    pv = _frames(predicted_vertices, "predicted_vertices")
    qv = _frames(target_vertices, "target_vertices")
    if pv.shape != qv.shape or pv.shape[0] != p.shape[0]:
        raise ValueError(f"vertices {pv.shape} / {qv.shape} do not match {p.shape[0]} frames")
    return np.linalg.norm(fit_similarity(p, q).apply(pv) - qv, axis=-1).mean(axis=1)


def pck_hits(predicted: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """(F, 24) booleans of the three PCKs: ``pck`` (0.1 m), ``pck_head`` (PCKh@0.5), ``pck_torso``."""
    errors = pel_mpjpe_errors(predicted, target)
    q = _frames(target, "target", NUM_JOINTS)
    head = np.linalg.norm(q[:, NECK] - q[:, HEAD], axis=-1)[:, None]
    torso = np.linalg.norm(q[:, NECK] - q[:, PELVIS], axis=-1)[:, None]
    return {"pck": errors < PCK_THRESHOLD_M, "pck_head": errors < PCKH_FRACTION * head,
            "pck_torso": errors < TORSO_FRACTION * torso}


@dataclass(frozen=True)
class EventHPEMetrics:
    """The official test's summary: errors in mm, PCKs as fractions."""

    frames: int
    mpjpe_mm: float
    pa_mpjpe_mm: float
    pel_mpjpe_mm: float
    pve_mm: float | None  # None without meshes
    pck: float
    pck_head: float
    pck_torso: float


def eventhpe_metrics(predicted_joints: np.ndarray, target_joints: np.ndarray,
                     predicted_vertices: np.ndarray | None = None,
                     target_vertices: np.ndarray | None = None) -> EventHPEMetrics:
    """All metrics over (..., 24, 3) joints (and (..., V, 3) vertices), metres; every frame and joint once."""
    hits = pck_hits(predicted_joints, target_joints)
    pve = None
    if predicted_vertices is not None and target_vertices is not None:
        pve = 1000.0 * float(pve_errors(predicted_joints, target_joints, predicted_vertices,
                                        target_vertices).mean())
    return EventHPEMetrics(
        frames=hits["pck"].shape[0],
        mpjpe_mm=1000.0 * float(mpjpe_errors(predicted_joints, target_joints).mean()),
        pa_mpjpe_mm=1000.0 * float(pa_mpjpe_errors(predicted_joints, target_joints).mean()),
        pel_mpjpe_mm=1000.0 * float(pel_mpjpe_errors(predicted_joints, target_joints).mean()),
        pve_mm=pve,
        pck=float(hits["pck"].mean()),
        pck_head=float(hits["pck_head"].mean()),
        pck_torso=float(hits["pck_torso"].mean()),
    )
