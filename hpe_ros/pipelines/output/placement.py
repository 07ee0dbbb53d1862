"""Metric placement: put a root-relative 3D pose where it reprojects onto its 2D keypoints.

A lifter gives each person's joints ``P_j`` relative to the root, in metres, in the camera's
orientation. The person stands at ``P_j + t`` in the optical frame; ``t`` follows from the 2D
keypoints ``(x_j, y_j)`` (undistorted, normalised) because the projection of ``P_j + t`` must
meet them: ``x_j (Z_j + t_z) = X_j + t_x`` and ``y_j (Z_j + t_z) = Y_j + t_y``. These equations
are linear in ``t``; their score-weighted least-squares solution is the start, a reweighting
turns the algebraic error into the normalised reprojection error, and Gauss-Newton steps on the
observed (distorted) pixels finish. All people of a frame are solved at once.

The confidence says how well the depth is determined: the linearised standard deviation of
``t_z`` (residual RMS times the conditioning of the problem) relative to ``t_z``. Few joints, a
tiny or a badly fitting skeleton all raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpe_ros.core.camera import CameraModel

MIN_SCORE = 0.2  # keypoints below this score do not take part
MIN_JOINTS = 3  # fewer confident joints: no placement
MIN_DEPTH_M = 0.05  # every joint must lie at least this far in front of the camera
RELATIVE_DEPTH_SCALE = 0.05  # relative depth uncertainty at which the confidence is 0.5
KEYPOINT_NOISE_FLOOR_PX = 1.0  # keeps a perfect fit from claiming infinite precision
_JACOBIAN_STEP_M = 1e-6


@dataclass(frozen=True)
class Placement:
    """Result of :func:`place_skeletons`; leading (N,) axis only for batched inputs."""

    translation: np.ndarray  # (N, 3) root position in the optical frame, metres; NaN when not metric
    joints_camera: np.ndarray  # (N, J, 3) joints in the optical frame, metres; NaN when not metric
    confidence: np.ndarray  # (N,) in [0, 1]; 0 when not metric
    reprojection_rms_px: np.ndarray  # (N,) score-weighted RMS pixel error; NaN when not metric
    relative_depth_std: np.ndarray  # (N,) linearised std of t_z / t_z; inf when not metric
    metric: np.ndarray  # (N,) bool: a valid placement was found


def place_skeletons(
    keypoints_2d: np.ndarray,
    joints_relative: np.ndarray,
    camera: CameraModel,
    scores: np.ndarray | None = None,
    refine_steps: int = 3,
    min_score: float = MIN_SCORE,
    min_joints: int = MIN_JOINTS,
) -> Placement:
    """Solve each person's root translation.

    ``keypoints_2d`` (N, J, 2) observed pixels, ``joints_relative`` (N, J, 3) metres in the
    optical frame's orientation, ``scores`` (N, J) in [0, 1] (all 1 when None); unbatched (J, ...)
    inputs give unbatched outputs. ``refine_steps`` Gauss-Newton steps on pixel error follow the
    linear solution (0: linear only).
    """
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    joints_relative = np.asarray(joints_relative, dtype=np.float64)
    single = keypoints_2d.ndim == 2
    if single:
        keypoints_2d, joints_relative = keypoints_2d[None], joints_relative[None]
        scores = None if scores is None else np.asarray(scores, dtype=np.float64)[None]
    n, j = keypoints_2d.shape[:2]
    if keypoints_2d.shape != (n, j, 2) or joints_relative.shape != (n, j, 3):
        raise ValueError(
            "expected (N, J, 2) keypoints and (N, J, 3) joints, "
            f"got {keypoints_2d.shape} and {joints_relative.shape}"
        )
    weights = np.ones((n, j)) if scores is None else np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    if weights.shape != (n, j):
        raise ValueError(f"scores must be ({n}, {j}), got {weights.shape}")

    normalised = camera.undistort_normalised(camera.pixels_to_normalised(keypoints_2d))
    usable = (
        (weights >= min_score)
        & np.isfinite(normalised).all(-1)
        & np.isfinite(joints_relative).all(-1)
        & np.isfinite(keypoints_2d).all(-1)
    )
    weights = np.where(usable, weights, 0.0)
    normalised = np.where(usable[..., None], normalised, 0.0)
    rel = np.where(usable[..., None], joints_relative, 0.0)
    enough = usable.sum(axis=1) >= min_joints

    translation = _solve_linear(normalised, rel, weights)
    depth = rel[..., 2] + translation[:, None, 2]
    # Second pass: divide each equation by its joint's depth, so that the residual becomes the
    # normalised reprojection error the pixels measure.
    safe_depth = np.where(depth > MIN_DEPTH_M, depth, np.inf)
    translation = np.where(
        np.isfinite(translation), _solve_linear(normalised, rel, weights / safe_depth**2), translation
    )
    # Each step reuses the projections and cost of the last (the same values as recomputing them).
    fit = _Fit.at(camera, _observed(keypoints_2d, weights), rel, weights, translation)
    for _ in range(refine_steps):
        fit = _gauss_newton_step(fit)
    translation = fit.translation

    with np.errstate(invalid="ignore", divide="ignore"):  # the cost is the weighted squared pixel error
        rms = np.sqrt(fit.cost / weights.sum(axis=1))
    relative_std = _relative_depth_std(camera, rel, weights, translation, rms)

    joints_camera = joints_relative + translation[:, None, :]
    in_front = np.all(np.where(usable, joints_camera[..., 2] > MIN_DEPTH_M, True), axis=1)
    metric = (
        enough & np.isfinite(translation).all(-1) & in_front & np.isfinite(rms) & np.isfinite(relative_std)
    )
    confidence = np.where(metric, 1.0 / (1.0 + (relative_std / RELATIVE_DEPTH_SCALE) ** 2), 0.0)
    result = Placement(
        translation=np.where(metric[:, None], translation, np.nan),
        joints_camera=np.where(metric[:, None, None], joints_camera, np.nan),
        confidence=confidence,
        reprojection_rms_px=np.where(metric, rms, np.nan),
        relative_depth_std=np.where(metric, relative_std, np.inf),
        metric=metric,
    )
    if single:
        return Placement(*(getattr(result, name)[0] for name in result.__dataclass_fields__))
    return result


def _solve_linear(normalised: np.ndarray, rel: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares of the linear system; (N, 3), NaN where it is singular.

    Per joint: rows [1, 0, -x] and [0, 1, -y] times t equal x Z - X and y Z - Y.
    """
    x, y = normalised[..., 0], normalised[..., 1]
    bx = x * rel[..., 2] - rel[..., 0]
    by = y * rel[..., 2] - rel[..., 1]
    w = weights
    sw = w.sum(-1)
    swx, swy = (w * x).sum(-1), (w * y).sum(-1)
    normal = np.empty(w.shape[:1] + (3, 3))
    normal[:, 0, 0] = normal[:, 1, 1] = sw
    normal[:, 0, 1] = normal[:, 1, 0] = 0.0
    normal[:, 0, 2] = normal[:, 2, 0] = -swx
    normal[:, 1, 2] = normal[:, 2, 1] = -swy
    normal[:, 2, 2] = (w * (x * x + y * y)).sum(-1)
    rhs = np.stack([(w * bx).sum(-1), (w * by).sum(-1), -(w * (x * bx + y * by)).sum(-1)], axis=-1)
    return _solve_3x3(normal, rhs)


def _solve_3x3(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve; rows whose matrix is (nearly) singular (condition number 1e12 or more) give NaN."""
    scale = np.abs(matrix).max(axis=(1, 2))  # NaN where the matrix holds one
    ok = (scale > 0) & (scale < np.inf) & np.isfinite(rhs).all(-1)
    solution = np.full(rhs.shape, np.nan)
    if not ok.any():
        return solution
    chosen = matrix if ok.all() else matrix[ok]
    singular_values = np.linalg.svd(chosen, compute_uv=False)  # what np.linalg.cond does, without its checks
    with np.errstate(invalid="ignore", divide="ignore"):
        ok[ok] = singular_values[:, 0] / singular_values[:, -1] < 1e12
    if ok.all():
        return np.linalg.solve(matrix, rhs[..., None])[..., 0]
    if ok.any():
        solution[ok] = np.linalg.solve(matrix[ok], rhs[ok][..., None])[..., 0]
    return solution


def _observed(keypoints: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The pixels the residuals compare with: 0 for unused joints."""
    return np.where(weights[..., None] > 0, keypoints, 0.0)


@dataclass(frozen=True)
class _Fit:
    """A translation with its projections and weighted squared pixel error (the cost)."""

    camera: CameraModel
    observed: np.ndarray  # (N, J, 2) from :func:`_observed`
    rel: np.ndarray
    weights: np.ndarray
    translation: np.ndarray  # (N, 3)
    projected: np.ndarray  # (N, J, 2) pixels of rel + translation
    cost: np.ndarray  # (N,) inf where not finite

    @classmethod
    def at(cls, camera: CameraModel, observed: np.ndarray, rel: np.ndarray, weights: np.ndarray,
           translation: np.ndarray) -> _Fit:
        projected = camera.project(rel + translation[:, None, :])
        residual = np.where(weights[..., None] > 0, projected - observed, 0.0)
        with np.errstate(invalid="ignore"):
            cost = np.sum(weights * np.sum(residual**2, axis=-1), axis=1)
        cost = np.where(np.isfinite(cost), cost, np.inf)
        return cls(camera, observed, rel, weights, translation, projected, cost)


def _pixel_jacobian(camera: CameraModel, rel: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Derivatives (N, J, 2, 3) of the projections with respect to t: exact for a pinhole (no lens
    distortion), central differences through the lens model otherwise."""
    points = rel + translation[:, None, :]
    if not camera.has_distortion:
        return _pinhole_jacobian(camera, points)
    steps = _JACOBIAN_STEP_M * np.maximum(1.0, np.abs(translation[:, 2]))
    columns = []
    for axis in range(3):
        delta = np.zeros(translation.shape)
        delta[:, axis] = steps
        forward = camera.project(points + delta[:, None, :])
        backward = camera.project(points - delta[:, None, :])
        columns.append((forward - backward) / (2.0 * steps[:, None, None]))
    return np.stack(columns, axis=-1)


def _pinhole_jacobian(camera: CameraModel, points: np.ndarray) -> np.ndarray:
    """d(u, v)/d(t) (N, J, 2, 3) of pinhole projections of ``points`` + t at t = 0; NaN where z <= 0."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    inverse_z = np.divide(1.0, z, out=np.full(z.shape, np.nan), where=z > 0)
    jacobian = np.zeros(points.shape[:-1] + (2, 3))
    jacobian[..., 0, 0] = camera.fx * inverse_z
    jacobian[..., 0, 1] = camera.skew * inverse_z
    jacobian[..., 0, 2] = -(camera.fx * x + camera.skew * y) * inverse_z**2
    jacobian[..., 1, 1] = camera.fy * inverse_z
    jacobian[..., 1, 2] = -camera.fy * y * inverse_z**2
    jacobian[..., 1, 0] = np.where(np.isfinite(inverse_z), 0.0, np.nan)
    return jacobian


def _gauss_newton_step(fit: _Fit) -> _Fit:
    """One weighted Gauss-Newton step on pixel error; kept only where it lowers the error."""
    weights, translation = fit.weights, fit.translation
    jacobian = _pixel_jacobian(fit.camera, fit.rel, translation)
    residual = fit.projected - fit.observed
    w = weights[..., None, None]
    valid = np.isfinite(residual).all(-1)[..., None, None] & np.isfinite(jacobian).all(
        (-2, -1), keepdims=True
    )
    jt_w = np.where(valid, w * jacobian, 0.0)  # (N, J, 2, 3)
    jacobian = np.where(valid, jacobian, 0.0)
    residual = np.where(valid[..., 0], residual, 0.0)
    normal = np.einsum("njai,njak->nik", jt_w, jacobian)
    gradient = np.einsum("njai,nja->ni", jt_w, residual)
    step = _solve_3x3(normal, gradient)
    candidate = _Fit.at(fit.camera, fit.observed, fit.rel, weights, translation - step)
    better = np.isfinite(candidate.translation).all(-1) & (candidate.cost <= fit.cost)
    return _Fit(
        fit.camera, fit.observed, fit.rel, weights,
        np.where(better[:, None], candidate.translation, translation),
        np.where(better[:, None, None], candidate.projected, fit.projected),
        np.where(better, candidate.cost, fit.cost),
    )  # fmt: skip


def _relative_depth_std(
    camera: CameraModel,
    rel: np.ndarray,
    weights: np.ndarray,
    translation: np.ndarray,
    rms_px: np.ndarray,
) -> np.ndarray:
    """std(t_z) / t_z for a pixel error of ``rms_px`` per joint (not reduced by the joint count:
    a lifter's errors are correlated across joints, not independent)."""
    jacobian = _pixel_jacobian(camera, rel, np.where(np.isfinite(translation), translation, 0.0))
    normalised_weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    jacobian = np.where(np.isfinite(jacobian), jacobian, 0.0)
    normal = np.einsum("nj,njai,njak->nik", normalised_weights, jacobian, jacobian)
    unit = np.zeros(translation.shape)
    unit[:, 2] = 1.0
    inverse_zz = _solve_3x3(normal, unit)[:, 2]
    noise = np.sqrt(rms_px**2 + KEYPOINT_NOISE_FLOOR_PX**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return noise * np.sqrt(np.abs(inverse_zz)) / translation[:, 2]
