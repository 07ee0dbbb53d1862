"""Person boxes as numpy arrays (N, 5: x_min, y_min, x_max, y_max, score): checks, clipping,
selection, boxes around keypoints, intersection over union (and over the smaller box)."""

from __future__ import annotations

import numpy as np


def as_boxes(boxes: np.ndarray | None) -> np.ndarray:
    """(N, 4 or 5) -> (N, 5) float64, score 1 where none is given; None -> (0, 5)."""
    if boxes is None:
        return np.zeros((0, 5))
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 5))
    boxes = np.atleast_2d(boxes)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f"person boxes must be (N, 4) or (N, 5), got {boxes.shape}")
    if boxes.shape[1] == 4:
        boxes = np.concatenate([boxes, np.ones((len(boxes), 1))], axis=1)
    return boxes


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes (N, 5) clipped to the image; corners reordered so that min <= max."""
    boxes = as_boxes(boxes).copy()
    lo = np.minimum(boxes[:, :2], boxes[:, 2:4])
    hi = np.maximum(boxes[:, :2], boxes[:, 2:4])
    limit = np.array([width, height], dtype=np.float64)
    boxes[:, :2] = np.clip(lo, 0.0, limit)
    boxes[:, 2:4] = np.clip(hi, 0.0, limit)
    return boxes


def select_boxes(boxes: np.ndarray, min_score: float = 0.0, max_people: int = 0, min_size_px: float = 2.0
                 ) -> np.ndarray:
    """Boxes scoring at least ``min_score`` and at least ``min_size_px`` wide and high, best first,
    at most ``max_people`` of them (0: all)."""
    boxes = as_boxes(boxes)
    size = boxes[:, 2:4] - boxes[:, :2]
    keep = (boxes[:, 4] >= min_score) & (size >= min_size_px).all(axis=1) & np.isfinite(boxes).all(axis=1)
    boxes = boxes[keep]
    boxes = boxes[np.argsort(-boxes[:, 4], kind="stable")]
    return boxes[:max_people] if max_people > 0 else boxes


def boxes_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, min_score: float = 0.3,
                         expand: float = 0.15) -> np.ndarray:
    """(N, 5) boxes around each person's keypoints scoring at least ``min_score``.

    ``keypoints`` (N, J, 2) pixels, ``scores`` (N, J). Each box is enlarged by ``expand`` times
    its width and height on every side; its score is the mean score of the joints that span it.
    People with fewer than two such joints get an all-NaN box.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if keypoints.size == 0:
        return np.zeros((0, 5))
    confident = (scores >= min_score) & np.isfinite(keypoints).all(axis=-1)
    lo = np.where(confident[..., None], keypoints, np.inf).min(axis=1)
    hi = np.where(confident[..., None], keypoints, -np.inf).max(axis=1)
    count = confident.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # people without confident joints become NaN
        margin = (hi - lo) * expand
        score = np.where(confident, scores, 0.0).sum(axis=1) / count
    boxes = np.concatenate([lo - margin, hi + margin, score[:, None]], axis=1)
    boxes[count < 2] = np.nan
    return boxes


def _intersections_and_areas(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, M) intersections of boxes ``a`` (N, >=4) and ``b`` (M, >=4), with their (N, 1) and (M,) areas.

    Coordinate by coordinate: on the few boxes of a frame numpy's per-call cost is the whole cost."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, np.shape(a)[-1])
    b = np.asarray(b, dtype=np.float64).reshape(-1, np.shape(b)[-1])
    a_x0, a_y0, a_x1, a_y1 = (a[:, i, None] for i in range(4))
    b_x0, b_y0, b_x1, b_y1 = (b[:, i] for i in range(4))
    inter = np.maximum(np.minimum(a_x1, b_x1) - np.maximum(a_x0, b_x0), 0.0) * np.maximum(
        np.minimum(a_y1, b_y1) - np.maximum(a_y0, b_y0), 0.0
    )
    area_a = np.maximum(a_x1 - a_x0, 0.0) * np.maximum(a_y1 - a_y0, 0.0)
    area_b = np.maximum(b_x1 - b_x0, 0.0) * np.maximum(b_y1 - b_y0, 0.0)
    return inter, area_a, area_b


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of boxes ``a`` (N, >=4) and ``b`` (M, >=4); 0 where the union is 0."""
    inter, area_a, area_b = _intersections_and_areas(a, b)
    union = area_a + area_b - inter
    iou: np.ndarray = np.divide(inter, union, out=np.zeros(union.shape), where=union > 0)
    return iou


def box_overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over the smaller box's area (0 where that area is 0)."""
    inter, area_a, area_b = _intersections_and_areas(a, b)
    smaller = np.minimum(area_a, area_b)
    overlap: np.ndarray = np.divide(inter, smaller, out=np.zeros(smaller.shape), where=smaller > 0)
    return overlap
