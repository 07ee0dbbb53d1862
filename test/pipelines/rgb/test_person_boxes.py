"""Person box sources and IoU track ids."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.core.boxes import box_iou, box_overlap_of_smaller, boxes_from_keypoints, clip_boxes, select_boxes
from hpe_ros.pipelines.base import ImageFrame
from hpe_ros.pipelines.rgb.person_boxes import (
    KeypointTrackedBoxes,
    UpstreamBoxes,
    WholeImageBoxes,
)


def _frame(boxes: np.ndarray | None = None, width: int = 200, height: int = 100) -> ImageFrame:
    return ImageFrame(np.zeros((height, width, 3), np.uint8), 0, "cam", boxes=boxes)


def test_overlap_of_the_smaller_box_sees_containment() -> None:
    outer, inner = np.array([[0, 0, 100, 100]], float), np.array([[10, 10, 30, 50]], float)
    assert box_overlap_of_smaller(outer, inner)[0, 0] == pytest.approx(1.0)


def test_box_iou_matches_hand_computed_values() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[0, 1] == 0.0
    assert iou[0, 2] == pytest.approx(1.0)
    assert iou[1, 2] == pytest.approx(4 / 100)


def test_boxes_from_keypoints_uses_confident_joints_and_expands() -> None:
    keypoints = np.array([[[10, 20], [30, 60], [500, 500]], [[0, 0], [1, 1], [2, 2]]], float)
    scores = np.array([[0.9, 0.7, 0.1], [0.9, 0.1, 0.1]])
    boxes = boxes_from_keypoints(keypoints, scores, min_score=0.3, expand=0.5)
    np.testing.assert_allclose(boxes[0], [0, 0, 40, 80, 0.8])
    assert np.isnan(boxes[1]).all()  # one confident joint cannot span a box


def test_select_and_clip() -> None:
    boxes = np.array([[-10, -5, 50, 40, 0.5], [10, 10, 11, 80, 0.9], [0, 0, 30, 30, 0.95],
                      [0, 0, 30, 30, 0.1]])
    clipped = clip_boxes(boxes, 40, 30)
    np.testing.assert_allclose(clipped[0], [0, 0, 40, 30, 0.5])
    chosen = select_boxes(boxes, min_score=0.3, max_people=2)
    np.testing.assert_allclose(chosen[:, 4], [0.95, 0.5])  # the 1 px wide box is dropped


def test_upstream_boxes_fall_back_only_without_a_detector_message() -> None:
    source = UpstreamBoxes(WholeImageBoxes())
    np.testing.assert_allclose(source.boxes(_frame()), [[0, 0, 200, 100, 1]])
    assert source.boxes(_frame(np.zeros((0, 5)))).shape == (0, 5)
    four_columns = source.boxes(_frame(np.array([[10, 10, 250, 90]], float)))
    np.testing.assert_allclose(four_columns, [[10, 10, 200, 90, 1]])


def test_tracked_boxes_follow_keypoints_and_redetect() -> None:
    source = KeypointTrackedBoxes(WholeImageBoxes(), expand=0.0, min_score=0.3, redetect_every=3)
    frame = _frame()
    np.testing.assert_allclose(source.boxes(frame), [[0, 0, 200, 100, 1]])  # nothing tracked: detector
    keypoints = np.array([[[20, 10], [60, 90]]], float)
    source.observe(keypoints, np.ones((1, 2)))
    np.testing.assert_allclose(source.boxes(frame), [[20, 10, 60, 90, 1]])
    source.observe(keypoints + 5, np.ones((1, 2)))
    np.testing.assert_allclose(source.boxes(frame), [[25, 15, 65, 95, 1]])
    assert source.boxes(frame)[0, 2] == 200  # third frame since detection: detector again
    source.observe(keypoints, np.zeros((1, 2)))  # nobody confident: back to the detector
    assert source.boxes(frame)[0, 2] == 200
