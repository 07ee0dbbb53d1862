"""Metric placement from an aligned depth image: each person's distance measured, not inferred.

From one colour camera the distance of a person follows from their skeleton's size, which a
lifter can only guess (a 10 % size error is a 10 % depth error). An RGB-D camera measures it.
For each person the depth image is sampled around the torso joints (the median of a small
window): the spine, the thorax, and the nearer (by the lifted pose) of each hip and shoulder
pair, whose far partner the body hides when it is turned. Each sample implies a root depth; the
largest group of samples that agree within :data:`OUTLIER_M` wins (background behind an edge,
an arm or an object in front are outvoted), and a root depth the size prior's cannot explain
within :data:`SCALE_RANGE` is refused. The camera sees the body's surface: the hip and shoulder
joints lie :data:`SURFACE_TO_JOINT_M` behind it, the spine and thorax :data:`MIDLINE_DEPTH_M`
(facing the camera) up to that plus :data:`MIDLINE_TURNED_M` (side on: the trunk's half width),
by how far the lifted hips are turned. With the root's depth known, the remaining unknowns (the
skeleton's scale and the root's x, y) are linear in the projection equations and solved by least
squares on all confident joints. People with fewer than :data:`MIN_DEPTH_JOINTS` agreeing
samples keep the size-prior placement (:func:`hpe_ros.pipelines.output.placement.place_skeletons`).

The depth image is in metres (NaN where unknown) and aligned to the colour image: the same
optical centre and orientation, possibly another resolution (keypoints are scaled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17

TORSO_JOINTS = H36M_17.indices(
    ["spine", "thorax", "left_hip", "right_hip", "left_shoulder", "right_shoulder"]
)
_PAIRS = ((2, 3), (4, 5))  # positions in TORSO_JOINTS of the left/right pairs
WINDOW_PX = 5  # side of the window sampled around a joint, in depth-image pixels
SURFACE_TO_JOINT_M = 0.085  # hip and shoulder joint centres lie about this far behind the visible surface
MIDLINE_DEPTH_M = 0.10  # spine and thorax behind the chest or back, facing the camera
MIDLINE_TURNED_M = 0.10  # ... and this much more when the body is seen side on
OUTLIER_M = 0.3
MIN_DEPTH_JOINTS = 2
MIN_SCORE = 0.3
# depth may correct the lifted skeleton's size within this range (children to tall adults)
SCALE_RANGE = (0.5, 1.6)
# a measured root depth this far from the size prior's is not the person; wider than SCALE_RANGE
# because the prior is poor on people cut by the image edge, close to the camera
PRIOR_RATIO_RANGE = (0.4, 2.5)


@dataclass(frozen=True)
class DepthPlacement:
    """Per person (N,): where depth placed them; NaN / False where it could not."""

    translation: np.ndarray  # (N, 3) root position, metres
    joints_camera: np.ndarray  # (N, J, 3)
    scale: np.ndarray  # (N,) factor applied to the lifted skeleton
    samples: np.ndarray  # (N,) torso joints whose depth was used
    placed: np.ndarray  # (N,) bool


def sample_torso_depth(
    depth_m: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    image_size: tuple[int, int],
) -> np.ndarray:
    """(N, T) median depth around each torso joint (NaN where unknown or unconfident)."""
    height, width = depth_m.shape
    scale = np.array([width / image_size[0], height / image_size[1]])
    points = keypoints[:, TORSO_JOINTS] * scale
    half = WINDOW_PX // 2
    out = np.full(points.shape[:2], np.nan)
    for n, j in zip(
        *np.nonzero(np.isfinite(points).all(-1) & (scores[:, TORSO_JOINTS] >= MIN_SCORE)), strict=True
    ):
        col, row = np.floor(points[n, j]).astype(int)
        if not (0 <= col < width and 0 <= row < height):
            continue
        window = depth_m[max(0, row - half) : row + half + 1, max(0, col - half) : col + half + 1]
        if np.isfinite(window).any():
            out[n, j] = float(np.nanmedian(window))
    return out


def place_with_depth(
    keypoints: np.ndarray,
    scores: np.ndarray,
    relative: np.ndarray,
    camera: CameraModel,
    depth_m: np.ndarray,
    prior_depth: np.ndarray | None = None,
) -> DepthPlacement:
    """Place (N, J, 2) keypoints' people with (N, J, 3) root-relative joints using the depth image.

    ``prior_depth`` (N,): the root depth the size prior gives (NaN unknown). A measured depth whose
    ratio to it is outside :data:`PRIOR_RATIO_RANGE` is not the person (an object in front, the
    wall behind a thin person) and is refused.
    """
    count, joints = relative.shape[:2]
    translation = np.full((count, 3), np.nan)
    scale = np.full(count, np.nan)
    used = np.zeros(count, dtype=np.int64)
    measured = sample_torso_depth(depth_m, keypoints, scores, (camera.width, camera.height))
    normalised = camera.undistort_normalised(camera.pixels_to_normalised(keypoints))
    for n in range(count):
        samples = measured[n].copy()
        torso_rel_z = relative[n, TORSO_JOINTS, 2]
        for left, right in _PAIRS:  # keep the nearer joint of each pair
            samples[right if torso_rel_z[left] < torso_rel_z[right] else left] = np.nan
        hips = relative[n, H36M_17.indices(["left_hip", "right_hip"])]
        turn = abs(hips[0, 2] - hips[1, 2]) / max(float(np.linalg.norm(hips[0] - hips[1])), 1e-6)
        offsets = np.array([MIDLINE_DEPTH_M + MIDLINE_TURNED_M * turn] * 2 + [SURFACE_TO_JOINT_M] * 4)
        candidates = samples + offsets - torso_rel_z  # the root depth each sample implies
        prior = None if prior_depth is None else float(prior_depth[n])
        root_z, inliers = _consensus(candidates, prior if prior is not None and prior > 0 else None)
        if root_z is None or inliers < MIN_DEPTH_JOINTS:
            continue
        if (
            prior is not None
            and np.isfinite(prior)
            and prior > 0
            and not PRIOR_RATIO_RANGE[0] <= root_z / prior <= PRIOR_RATIO_RANGE[1]
        ):
            continue
        fit = _scale_and_offset(normalised[n], relative[n], scores[n], root_z)
        if fit is None:
            continue
        s, tx, ty = fit
        translation[n] = (tx, ty, root_z)
        scale[n] = s
        used[n] = inliers
    placed = np.isfinite(translation).all(-1)
    joints_camera = np.where(
        placed[:, None, None], relative * scale[:, None, None] + translation[:, None], np.nan
    )
    return DepthPlacement(translation, joints_camera, scale, used, placed)


def _consensus(candidates: np.ndarray, prior: float | None) -> tuple[float | None, int]:
    """The root depth most samples agree on (within :data:`OUTLIER_M`), and how many agree.

    Ties (e.g. two samples on the person, two on an object in front) go to the group nearer the
    size prior's depth when it is known, else to the farther group (occluders are in front).
    """
    finite = candidates[np.isfinite(candidates)]
    if len(finite) == 0:
        return None, 0
    agree = np.abs(finite[:, None] - finite[None]) <= OUTLIER_M
    counts = agree.sum(axis=1)
    best = np.flatnonzero(counts == counts.max())
    if prior is not None and np.isfinite(prior):
        pick = best[np.argmin(np.abs(finite[best] - prior))]
    else:
        pick = best[np.argmax(finite[best])]
    members = finite[agree[pick]]
    return float(np.median(members)), int(len(members))


def _scale_and_offset(
    normalised: np.ndarray,
    relative: np.ndarray,
    scores: np.ndarray,
    root_z: float,
) -> tuple[float, float, float] | None:
    """Least squares of ``x_j (s Z_j + t_z) = s X_j + t_x`` (and y) for s, t_x, t_y at the known t_z."""
    usable = np.isfinite(normalised).all(-1) & np.isfinite(relative).all(-1) & (scores >= MIN_SCORE)
    if usable.sum() < 3:
        return None
    x, y = normalised[usable, 0], normalised[usable, 1]
    big_x, big_y, big_z = relative[usable, 0], relative[usable, 1], relative[usable, 2]
    weight = np.sqrt(np.clip(scores[usable], 0.0, 1.0)) / np.maximum(big_z + root_z, 0.05)
    k = len(x)
    design = np.zeros((2 * k, 3))
    design[:k, 0], design[:k, 1] = x * big_z - big_x, -1.0
    design[k:, 0], design[k:, 2] = y * big_z - big_y, -1.0
    rhs = -np.concatenate([x, y]) * root_z
    weights = np.concatenate([weight, weight])
    solution, *_ = np.linalg.lstsq(design * weights[:, None], rhs * weights, rcond=None)
    s = float(np.clip(solution[0], *SCALE_RANGE))
    if s != solution[0]:  # the scale hit its bounds: solve the offsets again at the clipped scale
        tx = float(np.average(x * (s * big_z + root_z) - s * big_x, weights=weight))
        ty = float(np.average(y * (s * big_z + root_z) - s * big_y, weights=weight))
        return s, tx, ty
    return s, float(solution[1]), float(solution[2])
