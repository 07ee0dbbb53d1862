"""Human3.6M protocols #1 / #2 as HEMlets' evaluation computes them."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.evaluation import hemlets_metrics as hm


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@pytest.mark.parametrize(("sequence", "action"), [
    ("Walking 1.60457274", "Walking"), ("Walking.54138969", "Walking"), ("WalkDog 1.55011271", "WalkDog"),
    ("WalkingDog.58860488", "WalkDog"), ("WalkTogether 1", "WalkTogether"), ("Sitting 1.54138969", "Sitting"),
    ("SittingDown 2.60457274", "SittingDown"), ("TakingPhoto.55011271", "Photo"), ("Photo 1", "Photo"),
    ("Directions", "Directions"),
])
def test_sequence_names_give_the_tables_actions(sequence: str, action: str):
    assert hm.hemlets_action(sequence) == action


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="15 Human3.6M actions"):
        hm.hemlets_action("Dancing 1")


def test_targets_are_the_17_joints_and_the_thorax():
    joints32 = np.arange(32 * 3, dtype=np.float64).reshape(32, 3)
    targets = hm.hemlets_targets(joints32)
    assert targets.shape == (18, 3)
    np.testing.assert_array_equal(targets[[0, 4, 10, 16]], joints32[[0, 6, 15, 27]])
    np.testing.assert_array_equal(targets[17], (joints32[17] + joints32[25]) / 2)


def test_protocol_one_is_root_relative_and_two_removes_a_similarity():
    rng = np.random.default_rng(0)
    target = rng.normal(0, 300, (5, 18, 3)) + (0, 0, 4500)
    noisy = target + rng.normal(0, 20, target.shape)
    shifted = hm.frame_errors(noisy + (100.0, -50.0, 700.0), target)
    np.testing.assert_allclose(shifted.p1_mm, hm.frame_errors(noisy, target).p1_mm)
    moved = 0.9 * target @ _rotation(0.7).T + (10.0, 20.0, 30.0)
    assert np.all(hm.frame_errors(moved, target).p2_mm < 1e-9)
    assert np.all(hm.frame_errors(moved, target).p1_mm > 10)
    # the thorax (joint 17) is not scored
    far_thorax = noisy.copy()
    far_thorax[:, 17] += 1e4
    np.testing.assert_allclose(hm.frame_errors(far_thorax, target).p2_mm,
                               hm.frame_errors(noisy, target).p2_mm)


def test_protocol_two_fits_the_ground_truth_onto_the_prediction():
    # mapping the GT onto the prediction measures the error in the prediction's scale: doubling
    # the prediction doubles it (it would not change if the prediction were mapped onto the GT)
    rng = np.random.default_rng(1)
    target = rng.normal(0, 300, (4, 17, 3))
    noisy = target + rng.normal(0, 25, target.shape)
    np.testing.assert_allclose(hm.frame_errors(2.0 * noisy, target).p2_mm,
                               2.0 * hm.frame_errors(noisy, target).p2_mm, rtol=1e-9)


def test_report_averages_frames_per_action_then_over_actions():
    errors = hm.FrameErrors(p1_mm=np.array([10.0, 20.0, 30.0, 60.0]), p2_mm=np.array([1.0, 2.0, 3.0, 4.0]))
    report = hm.hemlets_report(errors, ["Walking 1.54138969", "Walking.55011271", "Eating 2", "Eating"])
    assert list(report.per_action) == ["Eating", "Walking"]  # the table's order
    assert report.per_action["Walking"].p1_mm == pytest.approx(15.0)
    assert report.per_action["Eating"].frames == 2
    assert report.mean_p1_mm == pytest.approx((15.0 + 45.0) / 2)
    assert report.mean_p2_mm == pytest.approx((1.5 + 3.5) / 2)
    assert "Avg" in report.format()
    with pytest.raises(ValueError, match="sequence names"):
        hm.hemlets_report(errors, ["Eating"])
