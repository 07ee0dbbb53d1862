"""EventHPE's metrics: MPJPE (absolute), PEL-MPJPE, PA-MPJPE, PVE and the PCKs of its official test."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.evaluation import eventhpe_metrics as em


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _poses(rng: np.random.Generator, frames: int) -> np.ndarray:
    return rng.normal(0.0, 0.3, (frames, 24, 3)) + (0.0, 0.0, 4.0)


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    target = _poses(rng, 3)
    rotations = np.stack([_rotation(rng) for _ in range(3)])
    scale, shift = np.array([0.5, 1.0, 2.0]), rng.normal(size=(3, 3))
    # predicted = the inverse transform of the target, so the fit must give (scale, R, shift) back
    predicted = np.einsum("fji,fpj->fpi", rotations, target - shift[:, None]) / scale[:, None, None]
    fit = em.fit_similarity(predicted, target)
    np.testing.assert_allclose(fit.scale, scale, rtol=1e-10)
    np.testing.assert_allclose(fit.rotation, rotations, atol=1e-10)
    np.testing.assert_allclose(fit.translation, shift, atol=1e-10)
    np.testing.assert_allclose(fit.apply(predicted), target, atol=1e-10)


def test_a_mirror_image_is_fitted_by_a_proper_rotation():
    rng = np.random.default_rng(1)
    target = _poses(rng, 2)
    mirrored = target * (-1.0, 1.0, 1.0)
    fit = em.fit_similarity(mirrored, target)
    np.testing.assert_allclose(np.linalg.det(fit.rotation), 1.0)
    assert em.pa_mpjpe_errors(mirrored, target).mean() > 0.01


def test_mpjpe_is_absolute_pel_mpjpe_removes_the_hip_midpoint_pa_a_similarity():
    rng = np.random.default_rng(2)
    target = _poses(rng, 4)
    offset = np.array([0.03, -0.04, 0.0])  # 5 cm
    np.testing.assert_allclose(em.mpjpe_errors(target + offset, target), 0.05)
    np.testing.assert_allclose(em.pel_mpjpe_errors(target + offset, target), 0.0, atol=1e-12)
    moved = 1.2 * target @ _rotation(rng).T + offset
    np.testing.assert_allclose(em.pa_mpjpe_errors(moved, target), 0.0, atol=1e-9)
    assert em.pel_mpjpe_errors(moved, target).mean() > 0.05
    # the pelvis joint itself (0) plays no part in PEL-MPJPE's centring: the hips (1, 2) do
    pelvis_off = target.copy()
    pelvis_off[:, 0] += (0.0, 0.2, 0.0)
    errors = em.pel_mpjpe_errors(pelvis_off, target)
    np.testing.assert_allclose(errors[:, 0], 0.2)
    np.testing.assert_allclose(errors[:, 1:], 0.0, atol=1e-12)


def test_pve_aligns_vertices_with_the_similarity_fitted_on_the_joints():
    rng = np.random.default_rng(3)
    target_joints = _poses(rng, 2)
    target_vertices = rng.normal(0.0, 0.3, (2, 50, 3)) + (0.0, 0.0, 4.0)
    rotation, scale = _rotation(rng), 0.5
    # the predicted body is the target body seen through one similarity, its vertices off by 1 cm
    predicted_joints = scale * target_joints @ rotation.T
    noise = rng.normal(size=target_vertices.shape)
    noise *= 0.01 / np.linalg.norm(noise, axis=-1, keepdims=True)
    predicted_vertices = scale * (target_vertices + noise) @ rotation.T
    np.testing.assert_allclose(em.pve_errors(predicted_joints, target_joints, predicted_vertices,
                                             target_vertices), 0.01, rtol=1e-9)
    with pytest.raises(ValueError, match="vertices"):
        em.pve_errors(predicted_joints, target_joints, predicted_vertices[:1], target_vertices)


def test_pck_thresholds():
    rng = np.random.default_rng(4)
    target = _poses(rng, 1)
    predicted = target.copy()
    predicted[0, 20] += (0.0, 0.09, 0.0)  # inside 0.1 m
    predicted[0, 21] += (0.0, 0.11, 0.0)  # outside
    head = np.linalg.norm(target[0, 12] - target[0, 15])
    torso = np.linalg.norm(target[0, 12] - target[0, 0])
    hits = em.pck_hits(predicted, target)
    assert hits["pck"].sum() == 23
    errors = np.zeros(24)
    errors[20], errors[21] = 0.09, 0.11
    assert hits["pck_head"].sum() == int(np.sum(errors < head))
    assert hits["pck_torso"].sum() == int(np.sum(errors < 0.2 * torso))


def test_summary_takes_clips_and_steps_and_reports_millimetres():
    rng = np.random.default_rng(5)
    target = _poses(rng, 6).reshape(2, 3, 24, 3)  # 2 clips x 3 steps
    predicted = target + (0.0, 0.0, 0.02)
    vertices = rng.normal(0.0, 0.3, (2, 3, 40, 3))
    metrics = em.eventhpe_metrics(predicted, target, vertices + (0.0, 0.0, 0.02), vertices)
    assert metrics.frames == 6
    assert metrics.mpjpe_mm == pytest.approx(20.0)
    assert metrics.pel_mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    assert metrics.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert metrics.pve_mm == pytest.approx(0.0, abs=1e-6)
    assert metrics.pck == 1.0
    assert em.eventhpe_metrics(predicted, target).pve_mm is None
    with pytest.raises(ValueError, match="differ"):
        em.eventhpe_metrics(predicted[:1], target)
    with pytest.raises(ValueError, match="24, 3"):
        em.mpjpe_errors(predicted[..., :17, :], target[..., :17, :])
