"""Pose metrics on hand-built cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hpe_ros.evaluation.metrics import (
    AUC_THRESHOLDS_M,
    auc,
    evaluate_poses,
    h36m_action_name,
    joint_errors,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    pck,
    pck_curve,
    procrustes_align,
)


def _poses(n: int = 6, joints: int = 17, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (n, joints, 3))


def test_mpjpe_of_a_known_offset() -> None:
    target = _poses()
    predicted = target + np.array([0.03, 0.04, 0.0])  # every joint 5 cm away
    assert mpjpe(predicted, target) == pytest.approx(0.05)
    np.testing.assert_allclose(joint_errors(predicted, target), 0.05)


def test_p_mpjpe_is_invariant_to_rotation_scale_and_translation() -> None:
    target = _poses()
    rotations = Rotation.random(len(target), random_state=1).as_matrix()
    scales = np.linspace(0.5, 2.0, len(target))
    predicted = scales[:, None, None] * np.einsum("nij,nkj->nki", rotations, target) + np.array(
        [1.0, -2.0, 3.0]
    )
    assert mpjpe(predicted, target) > 0.1
    assert p_mpjpe(predicted, target) < 1e-10
    np.testing.assert_allclose(procrustes_align(predicted, target), target, atol=1e-10)


def test_p_mpjpe_does_not_undo_a_reflection() -> None:
    # A mirrored pose cannot be aligned by a proper rotation: the error must stay and equal the
    # best proper alignment, which for a pose symmetric in x except one joint is easy to bound.
    target = _poses(n=4)
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, target)
    assert p_mpjpe(mirrored, target) > 0.01
    # The result is a similarity transform of the prediction with det(R) = +1: compare Gram
    # matrices of centred points (distances scale by s) and the orientation of a joint triplet.
    centred_in = mirrored - mirrored.mean(axis=1, keepdims=True)
    centred_out = aligned - aligned.mean(axis=1, keepdims=True)
    a, b = centred_in[:, :4], centred_out[:, :4]
    volume_in = np.linalg.det(a[:, 1:] - a[:, :1])
    volume_out = np.linalg.det(b[:, 1:] - b[:, :1])
    assert np.all(np.sign(volume_in) == np.sign(volume_out))


@pytest.mark.parametrize("mirror", [False, True])
def test_procrustes_matches_a_numerical_optimum(mirror: bool) -> None:
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    target = _poses(n=1, seed=4)
    predicted = target + rng.normal(0, 0.05, target.shape)
    if mirror:
        predicted = predicted * np.array([-1.0, 1.0, 1.0])

    def squared_error(params: np.ndarray) -> float:
        rotation = Rotation.from_rotvec(params[:3]).as_matrix()
        moved = np.exp(params[3]) * predicted[0] @ rotation.T + params[4:]  # scale kept positive
        return float(np.sum((moved - target[0]) ** 2))

    best = min(
        (
            minimize(squared_error, np.concatenate([start, [0.0, 0, 0, 0]]), method="BFGS")
            for start in Rotation.random(8, random_state=5).as_rotvec()
        ),
        key=lambda result: result.fun,
    )
    ours = float(np.sum((procrustes_align(predicted, target)[0] - target[0]) ** 2))
    assert ours == pytest.approx(best.fun, rel=1e-5, abs=1e-10)


def test_p_mpjpe_for_planar_reflection_matches_brute_force() -> None:
    # Points in the xy plane: reflecting x is the same as rotating by 180 degrees about y, so a
    # proper rotation aligns them exactly.
    target = _poses(n=2)
    target[..., 2] = 0.0
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    assert p_mpjpe(mirrored, target) < 1e-10


def test_n_mpjpe_removes_scale_only() -> None:
    target = _poses()
    assert n_mpjpe(1.7 * target, target) < 1e-12
    shifted = target + 0.1
    assert n_mpjpe(shifted, target) > 0.01  # a translation is not a scale


def test_pck_and_auc_on_constructed_errors() -> None:
    errors = np.array([0.0, 0.049, 0.05, 0.149, 0.15, 0.2])
    assert pck(errors) == pytest.approx(4 / 6)  # 0.15 itself is not below 150 mm
    assert len(AUC_THRESHOLDS_M) == 31 and AUC_THRESHOLDS_M[-1] == pytest.approx(0.15)
    curve = pck_curve(errors)
    # by hand: threshold 0 counts nothing; (0, 0.05]: 1 then 2 ...
    expected = [np.mean(errors < t) for t in np.arange(31) * 0.005]
    np.testing.assert_allclose(curve, expected)
    assert auc(errors) == pytest.approx(np.mean(expected))
    assert auc(np.zeros(10)) == pytest.approx(30 / 31)  # every threshold but 0 counts all


def test_action_names_drop_trials_and_cameras() -> None:
    assert h36m_action_name("Walking 1") == "Walking"
    assert h36m_action_name("SittingDown_2") == "SittingDown"
    assert h36m_action_name("Greeting.54138969") == "Greeting"
    assert h36m_action_name("WalkDog") == "WalkDog"


def test_report_groups_actions_and_averages_them() -> None:
    target = _poses(n=4)
    predicted = target.copy()
    predicted[0] += np.array([0.01, 0, 0])  # Walking sample 1: 10 mm
    predicted[1] += np.array([0.03, 0, 0])  # Walking sample 2: 30 mm
    predicted[2:] += np.array([0, 0.1, 0])  # Eating: 100 mm
    root_relative_target = target - target[:, :1]
    # predictions are compared with the root-centred target: build them relative too
    predicted = predicted - target[:, :1]
    report = evaluate_poses(predicted, target, actions=["Walking 1", "Walking", "Eating 2", "Eating"])
    assert set(report.per_action) == {"Walking", "Eating"}
    assert report.per_action["Walking"].mpjpe_mm == pytest.approx(20.0)
    assert report.per_action["Eating"].mpjpe_mm == pytest.approx(100.0)
    assert report.action_mean.mpjpe_mm == pytest.approx(60.0)
    assert report.overall.mpjpe_mm == pytest.approx(60.0)
    assert report.overall.pck_percent == pytest.approx(100.0)  # all errors below 150 mm
    assert report.overall.p_mpjpe_mm < 1e-6  # pure translations
    assert len(report.per_joint_mpjpe_mm) == 17
    assert np.allclose(root_relative_target[:, 0], 0)
    assert "action mean" in report.format()


def test_pck_uses_selected_joints_only() -> None:
    target = np.zeros((1, 3, 3))
    predicted = np.zeros((1, 3, 3))
    predicted[0, 2] = [0.3, 0, 0]  # one far joint
    all_joints = evaluate_poses(predicted, target, center_target=False)
    two_joints = evaluate_poses(predicted, target, center_target=False, pck_joints=[0, 1])
    assert all_joints.overall.pck_percent == pytest.approx(200 / 3)
    assert two_joints.overall.pck_percent == pytest.approx(100.0)


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
