"""BlazePose detector geometry: anchors, decoding, NMS, tiles, ROIs, heatmap refinement."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("cv2", reason="OpenCV is not installed")

from hpe_ros.pipelines.rgb.blazepose_detection import (  # noqa: E402 (after the skip)
    ANCHORS,
    Letterbox,
    PersonDetections,
    PersonRoi,
    decode_detections,
    decode_regions,
    detection_regions,
    detector_input,
    region_letterbox,
    rois_of_detections,
    to_image_pixels,
    weighted_nms,
)


def test_anchors_cover_the_three_heads_in_grid_order():
    assert ANCHORS.shape == (2254, 2)
    np.testing.assert_allclose(ANCHORS[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(ANCHORS[1], ANCHORS[0])  # two anchors per cell of the stride-8 grid
    np.testing.assert_allclose(ANCHORS[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(ANCHORS[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(ANCHORS[1960:1966], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))  # 3 layers x 2
    np.testing.assert_allclose(ANCHORS[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_adds_anchor_centres_and_thresholds_scores():
    regressors = np.zeros((2254, 12), dtype=np.float32)
    regressors[5] = [2, -3, 40, 20, 1, 2, 3, 4, 5, 6, 7, 8]
    classifiers = np.full((2254, 1), -10.0, dtype=np.float32)
    classifiers[5] = 3.0
    found = decode_detections(regressors, classifiers, min_score=0.5)
    assert len(found) == 1
    centre = ANCHORS[5] * 224 + [2, -3]
    np.testing.assert_allclose(found.boxes[0], [*(centre - [20, 10]), *(centre + [20, 10])])
    np.testing.assert_allclose(found.keypoints[0, 1], ANCHORS[5] * 224 + [3, 4])
    assert found.scores[0] == pytest.approx(1 / (1 + math.exp(-3)))


@pytest.mark.parametrize("min_score", [-1.0, 0.0, 1e-50, 0.1, 0.5, 0.7, 0.999999, 1 - 1e-14, 1.0])
def test_decoding_keeps_exactly_the_scores_at_or_above_the_threshold(min_score):
    """The raw-value prefilter drops nothing the definition keeps: sigmoid(clip(raw, +-100)) >= min_score."""
    rng = np.random.default_rng(11)
    classifiers = rng.normal(0, 30, (2254, 1)).astype(np.float32)
    classifiers[:6, 0] = [np.nan, 250, -250, 0, 37, 31]
    if 0 < min_score < 1:  # raw values around the threshold's logit, a float32 step apart
        logit = np.float32(math.log(min_score / (1 - min_score)))
        steps = np.arange(-10, 10) * np.spacing(logit)
        classifiers[10:30, 0] = np.nextafter(logit, np.float32(np.inf)) + steps
    regressors = rng.normal(0, 5, (2254, 12)).astype(np.float32)
    with np.errstate(invalid="ignore"):
        scores = 1 / (1 + np.exp(-np.clip(classifiers[:, 0].astype(np.float64), -100, 100)))
        expected = np.nonzero(scores >= min_score)[0]
    found = decode_detections(regressors, classifiers, min_score)
    np.testing.assert_array_equal(found.scores, scores[expected])
    values = regressors[expected].astype(np.float64)
    corners = values[:, :2] - values[:, 2:4] / 2 + ANCHORS[expected] * 224
    np.testing.assert_allclose(found.boxes[:, :2], corners)


def test_decoding_all_regions_at_once_matches_region_by_region():
    rng = np.random.default_rng(3)
    regressors = rng.normal(0, 20, (3, 2254, 12)).astype(np.float32)
    classifiers = rng.normal(-4, 3, (3, 2254, 1)).astype(np.float32)
    classifiers[1] = -20.0  # a region without detections
    letterboxes = [region_letterbox(640, 480, region) for region in detection_regions(640, 480, (0.6,))[:3]]
    together = decode_regions(regressors, classifiers, letterboxes, min_score=0.5)
    parts = [
        to_image_pixels(decode_detections(regressors[i], classifiers[i], 0.5), letterbox)
        for i, letterbox in enumerate(letterboxes)
    ]
    assert len(together) == sum(len(part) for part in parts) > 0
    np.testing.assert_array_equal(together.boxes, np.concatenate([part.boxes for part in parts]))
    np.testing.assert_array_equal(together.keypoints, np.concatenate([part.keypoints for part in parts]))
    np.testing.assert_array_equal(together.scores, np.concatenate([part.scores for part in parts]))

def test_weighted_nms_averages_overlapping_detections_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=float)
    keypoints = np.stack([np.full((4, 2), v) for v in (0.0, 4.0, 100.0)])
    kept = weighted_nms(PersonDetections(boxes, keypoints, np.array([0.9, 0.3, 0.8])))
    assert len(kept) == 2
    np.testing.assert_allclose(kept.boxes[0], [0.25, 0, 10.25, 10])
    np.testing.assert_allclose(kept.keypoints[0], 1.0)  # 0.75 * 0 + 0.25 * 4
    np.testing.assert_allclose(kept.scores, [0.9, 0.8])  # the top detection keeps its own score


@pytest.mark.parametrize(("width", "height"), [(640, 480), (480, 640), (1280, 720), (500, 500)])
def test_tiles_cover_the_image_at_every_scale(width, height):
    regions = detection_regions(width, height, (1.0, 0.6), overlap=0.1)
    sides = regions[:, 2] - regions[:, 0]
    np.testing.assert_allclose(regions[:, 3] - regions[:, 1], sides)  # squares: no whole-image pass
    for fraction in (1.0, 0.6):
        level = regions[np.isclose(sides, min(width, height) * fraction)]
        covered = np.zeros((height, width), dtype=bool)
        for x0, y0, x1, y1 in level.round().astype(int):
            covered[y0:y1, x0:x1] = True
        assert covered.all()
        assert (
            level[:, :2].min() >= 0
            and (level[:, 2] <= width + 1e-9).all()
            and (level[:, 3] <= height + 1e-9).all()
        )
    full = regions[np.isclose(sides, min(width, height))]
    steps = np.diff(np.sort(full[:, 0 if width >= height else 1]))  # along the longer side
    assert (steps <= 2 / 3 * min(width, height) + 1e-9).all()  # side-1 tiles overlap by a third
    aspect = max(width, height) / min(width, height)
    assert len(full) == (1 if aspect == 1 else 2 if aspect < 5 / 3 else 3)


def test_the_whole_image_is_a_region_without_tiles_of_side_one():
    whole = [0, 0, 640, 480]
    np.testing.assert_array_equal(detection_regions(640, 480, ()), [whole])
    regions = detection_regions(640, 480, (0.6,), overlap=0.1)
    np.testing.assert_array_equal(regions[0], whole)
    assert len(regions) == 7  # whole image + 3 x 2 tiles of 288 pixels


def test_letterbox_maps_input_pixels_back_to_the_region():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[40:60, 150:170] = 255
    tensor, letterbox = detector_input(image, np.array([100.0, 0.0, 200.0, 100.0]))
    assert tensor.shape == (224, 224, 3) and tensor.min() == -1.0
    bright = np.argwhere(tensor[..., 0] > 0.9)
    centre_in_image = letterbox.to_image(bright.mean(axis=0)[::-1])
    np.testing.assert_allclose(centre_in_image, [160, 50], atol=1.0)
    whole = Letterbox.fit(200, 100)
    np.testing.assert_allclose(whole.to_image(np.array([0.0, 56.0])), [0, 0])  # top padding of 56 px


def test_roi_of_an_upright_and_of_a_lying_person():
    upright = PersonRoi.from_points(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert upright.rotation == pytest.approx(0.0)
    assert upright.size == pytest.approx(2 * 80 * 1.25)
    lying = PersonRoi.from_points(np.array([100.0, 200.0]), np.array([180.0, 200.0]))  # head to the right
    assert lying.rotation == pytest.approx(math.pi / 2)
    # the crop's top (the head end) lies towards +x in the image
    np.testing.assert_allclose(lying.to_image(np.array([0.5, 0.0])), [100 + lying.size / 2, 200], atol=1e-9)


def test_crop_matrix_and_to_image_agree():
    roi = PersonRoi(np.array([320.0, 240.0]), 180.0, 0.7)
    matrix = roi.crop_matrix(256)
    crop_points = np.array([[0.0, 0.0], [256.0, 0.0], [128.0, 128.0], [17.0, 203.0]])
    np.testing.assert_allclose(crop_points @ matrix[:, :2].T + matrix[:, 2], roi.to_image(crop_points / 256))


def test_rois_of_one_person_seen_at_two_scales_are_merged():
    keypoints = np.array(
        [
            [[100, 200], [100, 120], [0, 0], [0, 0]],
            [[102, 198], [101, 125], [0, 0], [0, 0]],
            [[400, 200], [400, 150], [0, 0], [0, 0]],
        ],
        dtype=float,
    )
    rois = rois_of_detections(PersonDetections(np.zeros((3, 4)), keypoints, np.array([0.9, 0.8, 0.7])))
    assert len(rois) == 2 and rois[0].centre[0] == 100 and rois[1].centre[0] == 400


def test_refinement_moves_a_landmark_to_its_heatmap_peak():
    from hpe_ros.pipelines.rgb.blazepose import refine_from_heatmaps

    heatmaps = np.full((1, 64, 64, 2), -20.0, dtype=np.float32)
    heatmaps[0, 30, 20, 0] = 20.0  # a confident peak near landmark 0
    heatmaps[0, 10, 10, 1] = -1.0  # landmark 1: nothing above 0.5 confidence
    landmarks = np.array([[[22 / 64, 31 / 64], [10 / 64, 10 / 64]]])
    refined = refine_from_heatmaps(landmarks, heatmaps)
    np.testing.assert_allclose(refined[0, 0], [20 / 64, 30 / 64], atol=1e-6)
    np.testing.assert_array_equal(refined[0, 1], landmarks[0, 1])
