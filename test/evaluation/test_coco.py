"""COCO keypoint OKS, matching and AP (computed by pycocotools, checked here against hand-computed cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpe_ros.evaluation.coco import (
    COCO_SIGMAS,
    KeypointAnnotation,
    KeypointDetection,
    evaluate,
    match_by_oks,
    oks,
)

RNG = np.random.default_rng(0)
TRUTH = RNG.uniform(100, 300, size=(17, 2))


def annotation(keypoints=TRUTH, visibility=None, area=10_000.0, bbox=(100, 100, 200, 200), ignore=False):
    visibility = np.full(17, 2) if visibility is None else np.asarray(visibility)
    return KeypointAnnotation(np.asarray(keypoints, float), visibility, area, np.asarray(bbox, float), ignore)


def test_sigmas_are_the_official_values():
    assert COCO_SIGMAS[0] == pytest.approx(0.026) and COCO_SIGMAS[11] == pytest.approx(0.107)
    np.testing.assert_allclose(COCO_SIGMAS[1::2], COCO_SIGMAS[2::2])  # left and right alike


def test_perfect_detection_has_oks_one():
    assert oks(TRUTH, annotation()) == pytest.approx(1.0)


def test_oks_decreases_with_error():
    direction = RNG.normal(size=(17, 2))
    values = [oks(TRUTH + scale * direction, annotation()) for scale in (0.0, 1.0, 3.0, 10.0, 100.0)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 0.05


def test_larger_people_tolerate_larger_errors():
    shifted = TRUTH + 5.0
    assert oks(shifted, annotation(area=40_000.0)) > oks(shifted, annotation(area=2_500.0))


def test_unlabelled_keypoints_are_ignored():
    visibility = np.full(17, 2)
    visibility[[9, 10, 15]] = 0
    moved = TRUTH.copy()
    moved[[9, 10, 15]] += 500.0
    assert oks(moved, annotation(visibility=visibility)) == pytest.approx(1.0)
    visibility[[9, 10, 15]] = 1  # labelled but occluded keypoints do count
    assert oks(moved, annotation(visibility=visibility)) < 0.9


def test_hand_computed_case():
    visibility = np.zeros(17)
    visibility[[0, 11]] = 2  # nose and left hip labelled
    detected = TRUTH.copy()
    detected[0] += (3.0, 0.0)  # nose 3 px off
    detected[11] += (0.0, 4.0)  # hip 4 px off
    area = 10_000.0
    # exp(-d^2 / (2 * area * (2 sigma)^2)) per keypoint, averaged over the two labelled ones
    nose = math.exp(-9.0 / (2 * area * (2 * 0.026) ** 2))  # = 0.84669
    hip = math.exp(-16.0 / (2 * area * (2 * 0.107) ** 2))  # = 0.98269
    assert nose == pytest.approx(0.84669, abs=1e-5) and hip == pytest.approx(0.98269, abs=1e-5)
    assert oks(detected, annotation(visibility=visibility, area=area)) == pytest.approx((nose + hip) / 2)


def test_missing_detected_keypoints_score_zero():
    detected = TRUTH.copy()
    detected[:2] = np.nan
    assert oks(detected, annotation()) == pytest.approx(15 / 17)


def test_annotation_without_keypoints_uses_the_enlarged_box():
    empty = annotation(visibility=np.zeros(17), bbox=(100, 100, 50, 50))
    inside = np.full((17, 2), 140.0)  # inside [x - w, x + 2w] = [50, 200]
    assert oks(inside, empty) == pytest.approx(1.0)
    assert oks(inside - 100.0, empty) < 1.0  # 10 px outside the enlarged box


def test_greedy_matching_takes_the_best_pair_first():
    similarity = np.array([[0.9, 0.8], [0.85, 0.1]])
    matches = match_by_oks(similarity)
    assert [(m.detection, m.annotation) for m in matches] == [(0, 0), (1, 1)]
    assert match_by_oks(similarity, min_oks=0.5)[0].oks == pytest.approx(0.9)
    assert len(match_by_oks(similarity, min_oks=0.5)) == 1
    assert match_by_oks(np.zeros((0, 3))) == []


def test_average_precision_hand_computed():
    # ranked: hit, miss, hit with 2 positives -> precision 1 up to recall 0.5, then 2/3
    other = TRUTH + 400.0
    people = {1: [annotation(), annotation(keypoints=other)]}
    ranked = [KeypointDetection(TRUTH, 0.9), KeypointDetection(TRUTH + 1000.0, 0.8),
              KeypointDetection(other, 0.7)]
    report = evaluate({1: ranked}, people)
    assert all(ap == pytest.approx((51 + 50 * 2 / 3) / 101) for ap in report.ap_per_threshold.values())
    assert evaluate({1: ranked[:1]}, {1: people[1][:1]}).ap == pytest.approx(1.0)
    assert evaluate({1: []}, people).ap == 0.0


def test_evaluate_reports_oks_and_ap():
    other = TRUTH + 400.0
    people = {1: [annotation(), annotation(keypoints=other)], 2: [annotation()]}
    perfect = {
        1: [KeypointDetection(TRUTH, 0.9), KeypointDetection(other, 0.8)],
        2: [KeypointDetection(TRUTH + 2.0, 0.7)],
    }
    report = evaluate(perfect, people)
    assert report.num_people == 3 and report.num_matched == 3
    assert report.ap == pytest.approx(1.0) and report.ap50 == pytest.approx(1.0)
    assert report.images[0].mean_oks == pytest.approx(1.0)
    assert 0.9 < report.images[1].mean_oks < 1.0

    # a confident false positive lowers AP; a missed person counts 0 in mean OKS
    worse = {1: [KeypointDetection(TRUTH + 1000.0, 0.99), KeypointDetection(TRUTH, 0.9)], 2: []}
    report = evaluate(worse, people)
    assert report.num_matched == 1  # the far detection has OKS 0 with everyone
    assert report.ap < 0.5
    assert report.mean_matched_oks == pytest.approx(1.0)
    assert report.mean_oks == pytest.approx(1 / 3)


def test_detections_on_ignored_people_are_neither_hits_nor_false_positives():
    people = {1: [annotation(), annotation(keypoints=TRUTH + 400.0, ignore=True)]}
    detections = {1: [KeypointDetection(TRUTH + 400.0, 0.95), KeypointDetection(TRUTH, 0.5)]}
    report = evaluate(detections, people)
    assert report.num_people == 1
    assert report.ap == pytest.approx(1.0)
