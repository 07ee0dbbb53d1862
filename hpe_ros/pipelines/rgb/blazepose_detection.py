"""BlazePose's person detector (``pose_detection.tflite``): anchors, decoding, NMS and person ROIs.

The detector is an SSD on a 224x224 letterboxed image. Each of its 2254 anchors predicts a box
around the face and four keypoints: the mid-hip centre, a point whose distance from it gives
the size of the whole body and whose direction gives its rotation, and the same pair for the
upper body. The constants below are the options of MediaPipe's ``pose_detection`` graph in the
mediapipe 0.10.21 wheel (read from its expanded graph config):

* anchors: 5 layers, strides 8, 16, 32, 32, 32, offset 0.5, one aspect ratio plus the
  interpolated scale (2 anchors per layer and cell), fixed anchor size;
* decoding: values in 224-pixel units, ``(x, y, w, h)`` order, 4 keypoints, sigmoid scores with
  raw values clipped to +-100, minimum score 0.5;
* weighted non-maximum suppression at IoU 0.3;
* person ROI: centred on keypoint 0, side 2 x |keypoint 1 - keypoint 0| x 1.25, rotated so
  that keypoint 1 is straight above keypoint 0.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from hpe_ros.core.boxes import box_iou

INPUT_SIZE = 224
_STRIDES = (8, 16, 32, 32, 32)
_ANCHORS_PER_LAYER = 2  # aspect ratio 1 plus the interpolated scale
_SCORE_CLIP = 100.0
NMS_IOU = 0.3
ROI_SCALE = 1.25
FULL_TILE_OVERLAP = 1.0 / 3.0  # least overlap of the tiles that replace the whole image


def ssd_anchor_centres(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = _STRIDES) -> np.ndarray:
    """(A, 2) anchor centres (x, y) in [0, 1]; layers sharing a stride share their grid cells."""
    centres = []
    layer = 0
    while layer < len(strides):
        same = 1
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        cells = math.ceil(input_size / strides[layer])
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, same * _ANCHORS_PER_LAYER, axis=0))
        layer += same
    return np.concatenate(centres)


ANCHORS = ssd_anchor_centres()
@dataclass(frozen=True)
class Letterbox:
    """How an (H, W) image sits in the square detector input: ``pixel = input * scale - offset``."""

    scale: float  # image pixels per input pixel
    offset: np.ndarray  # (2,) image pixels

    @classmethod
    def fit(cls, width: float, height: float, size: int = INPUT_SIZE) -> Letterbox:
        side = max(width, height)
        return cls(side / size, np.array([(side - width) / 2, (side - height) / 2]))

    def matrix(self) -> np.ndarray:
        """(2, 3) affine map from image pixels to input pixels (for ``cv2.warpAffine``)."""
        inverse = 1.0 / self.scale
        return np.array([[inverse, 0.0, self.offset[0] * inverse], [0.0, inverse, self.offset[1] * inverse]])

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Input pixels (..., 2) -> image pixels."""
        return points * self.scale - self.offset


def detector_input(image_rgb: np.ndarray, region: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
    """(224, 224, 3) float32 in [-1, 1] of the letterboxed image or ``region`` (x0, y0, x1, y1) of it.

    The border is zero (-1 after scaling), as in MediaPipe; the letterbox maps input pixels back
    to pixels of the whole image.
    """
    height, width = image_rgb.shape[:2]
    letterbox = region_letterbox(width, height, region)
    return warp_letterboxed(image_rgb, letterbox).astype(np.float32) / 127.5 - 1.0, letterbox


def region_letterbox(width: int, height: int, region: np.ndarray | None = None) -> Letterbox:
    """The letterbox of ``region`` (x0, y0, x1, y1; None: the whole W x H image), to whole-image pixels."""
    x0, y0, x1, y1 = (0.0, 0.0, float(width), float(height)) if region is None else map(float, region)
    letterbox = Letterbox.fit(x1 - x0, y1 - y0)
    return Letterbox(letterbox.scale, letterbox.offset - [x0, y0])


def warp_letterboxed(
    image_rgb: np.ndarray, letterbox: Letterbox, out: np.ndarray | None = None
) -> np.ndarray:
    """(224, 224, 3) uint8 detector pixels of ``image_rgb`` under ``letterbox``, into ``out`` when given."""
    return cv2.warpAffine(
        image_rgb,
        letterbox.matrix(),
        (INPUT_SIZE, INPUT_SIZE),
        dst=out,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def detection_regions(
    width: int, height: int, tile_sides: tuple[float, ...], overlap: float = 0.25
) -> np.ndarray:
    """(R, 4) regions the detector looks at: the whole image, then a tiling for each tile side.

    A tile side is a fraction of ``min(W, H)``; its squares cover the image overlapping by at
    least ``overlap`` of a side, so that people too small for the whole-image pass (the detector
    sees 224 x 224 pixels) are seen at a larger scale. A tiling of side 1 replaces the whole
    image: its squares overlap by at least a third of a side (:data:`FULL_TILE_OVERLAP`), so
    everyone narrower than that lies whole in one of them, seen larger than in the letterboxed
    image (for a square image it is the whole image, which was otherwise looked at twice).
    """
    full_tiles = any(math.isclose(fraction, 1.0) for fraction in tile_sides)
    regions = [] if full_tiles else [np.array([0.0, 0.0, width, height])]
    for fraction in tile_sides:
        side = min(width, height) * fraction
        step = (1.0 - (max(overlap, FULL_TILE_OVERLAP) if math.isclose(fraction, 1.0) else overlap)) * side
        columns = max(1, math.ceil((width - side) / step - 1e-9) + 1)
        rows = max(1, math.ceil((height - side) / step - 1e-9) + 1)
        xs = np.linspace(0, width - side, columns)
        ys = np.linspace(0, height - side, rows)
        regions.extend(np.array([x, y, x + side, y + side]) for y in ys for x in xs)
    return np.stack(regions)


@dataclass(frozen=True)
class PersonDetections:
    """Detections of one image, in image pixels, best first."""

    boxes: np.ndarray  # (N, 4) face box x_min, y_min, x_max, y_max
    keypoints: np.ndarray  # (N, 4, 2): mid-hip, full-body size point, mid-shoulder, upper-body size point
    scores: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.scores)


def decode_detections(regressors: np.ndarray, classifiers: np.ndarray, min_score: float) -> PersonDetections:
    """Raw outputs (A, 12) and (A, 1) -> detections above ``min_score``, in input pixels, unsuppressed."""
    _, detections = _decode(regressors[None], classifiers[None], min_score)
    return detections


def decode_regions(
    regressors: np.ndarray, classifiers: np.ndarray, letterboxes: list[Letterbox], min_score: float
) -> PersonDetections:
    """Raw outputs (R, A, 12) and (R, A, 1) of the R regions seen through ``letterboxes`` ->
    detections above ``min_score`` in image pixels, region by region, unsuppressed (what
    :func:`decode_detections` and :func:`to_image_pixels` give region by region, in one pass)."""
    region, detections = _decode(regressors, classifiers, min_score)
    scale = np.array([letterbox.scale for letterbox in letterboxes])[region, None, None]
    offset = np.array([letterbox.offset for letterbox in letterboxes])[region, None, :]
    boxes = (detections.boxes.reshape(-1, 2, 2) * scale - offset).reshape(-1, 4)
    return PersonDetections(boxes, detections.keypoints * scale - offset, detections.scores)


def _decode(
    regressors: np.ndarray, classifiers: np.ndarray, min_score: float
) -> tuple[np.ndarray, PersonDetections]:
    """The region of each detection above ``min_score`` in (R, A, ...) outputs, and the detections."""
    count = len(classifiers)
    raw = classifiers.reshape(count, -1)
    # the few anchors near the threshold's logit first; the scores of those, as MediaPipe computes them
    region, anchor = np.nonzero(raw >= _logit_floor(min_score))
    clipped = np.minimum(np.maximum(raw[region, anchor].astype(np.float64), -_SCORE_CLIP), _SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-clipped))
    above = scores >= min_score
    region, anchor, scores = region[above], anchor[above], scores[above]
    values = regressors.reshape(count, -1, 12)[region, anchor].astype(np.float64)
    anchors = ANCHORS[anchor] * INPUT_SIZE
    centre = values[:, 0:2] + anchors
    half = values[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = values[:, 4:12].reshape(-1, 4, 2) + anchors[:, None]
    return region, PersonDetections(boxes, keypoints, scores)


@functools.lru_cache(maxsize=16)
def _logit_floor(min_score: float) -> np.float64:
    """A raw value below every raw value whose score reaches ``min_score`` (a margin below its logit)."""
    logit = math.log(min_score / (1.0 - min_score)) if 0.0 < min_score < 1.0 else math.copysign(
        math.inf, min_score - 0.5
    )
    if logit <= -_SCORE_CLIP:  # raw values are clipped to -100 first: every one of them passes
        return np.float64(-np.inf)
    # a margin far wider than the rounding of the scores; scores of 1 (rounded) need a raw 30 or more
    return np.float64(min(logit, 30.0) - 0.01)


def weighted_nms(detections: PersonDetections, iou_threshold: float = NMS_IOU) -> PersonDetections:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of those it suppresses."""
    order = np.argsort(-detections.scores, kind="stable")
    remaining = list(order)
    boxes, keypoints, scores = [], [], []
    iou = box_iou(detections.boxes, detections.boxes)
    while remaining:
        top = remaining[0]
        overlapping = [i for i in remaining if iou[top, i] > iou_threshold or i == top]
        weights = detections.scores[overlapping]
        weights = weights / weights.sum()
        boxes.append(weights @ detections.boxes[overlapping])
        chosen = detections.keypoints[overlapping]  # np.tensordot(weights, chosen, axes=1), its dot product
        keypoints.append(np.dot(weights[None], chosen.reshape(len(chosen), -1)).reshape(chosen.shape[1:]))
        scores.append(detections.scores[top])
        remaining = [i for i in remaining if i not in overlapping]
    if not scores:
        return concatenate([])
    return PersonDetections(np.array(boxes), np.array(keypoints), np.array(scores))


def to_image_pixels(detections: PersonDetections, letterbox: Letterbox) -> PersonDetections:
    boxes = letterbox.to_image(detections.boxes.reshape(-1, 2, 2)).reshape(-1, 4)
    return PersonDetections(boxes, letterbox.to_image(detections.keypoints), detections.scores)


def concatenate(parts: list[PersonDetections]) -> PersonDetections:
    if not parts:
        return PersonDetections(np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0))
    return PersonDetections(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.keypoints for p in parts]),
        np.concatenate([p.scores for p in parts]),
    )


@dataclass(frozen=True)
class PersonRoi:
    """A square, rotated region around one person, in image pixels."""

    centre: np.ndarray  # (2,)
    size: float  # side length
    rotation: float  # radians; rotating the crop by this turns the person upright

    @classmethod
    def from_points(cls, centre: np.ndarray, size_point: np.ndarray, scale: float = ROI_SCALE) -> PersonRoi:
        """The ROI of a centre and a size point (the body's direction points from centre to size point)."""
        delta = np.asarray(size_point, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
        angle = math.pi / 2 - math.atan2(-delta[1], delta[0])
        rotation = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
        return cls(np.asarray(centre, dtype=np.float64), 2.0 * float(np.hypot(*delta)) * scale, rotation)

    def crop_matrix(self, output_size: int) -> np.ndarray:
        """(2, 3) affine map from crop pixels (0..output_size) to image pixels."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        unit = self.size / output_size
        linear = np.array([[cos, -sin], [sin, cos]]) * unit
        offset = self.centre - linear @ np.array([output_size / 2, output_size / 2])
        return np.concatenate([linear, offset[:, None]], axis=1)

    def to_image(self, normalised: np.ndarray) -> np.ndarray:
        """Crop coordinates in [0, 1] (..., 2) -> image pixels."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        local = (np.asarray(normalised) - 0.5) * self.size
        return (
            np.stack(
                [cos * local[..., 0] - sin * local[..., 1], sin * local[..., 0] + cos * local[..., 1]],
                axis=-1,
            )
            + self.centre
        )

    def corner_box(self) -> np.ndarray:
        """(4,) axis-aligned box around the rotated square."""
        corners = self.to_image(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
        return np.concatenate([corners.min(axis=0), corners.max(axis=0)])


def rois_of_detections(detections: PersonDetections, duplicate_iou: float = 0.5) -> list[PersonRoi]:
    """The ROI of every detection (best first), without ROIs that mostly repeat a better one.

    The face boxes that NMS compares differ between tiles of different scale, while the ROIs of
    one person (from the body keypoints) agree; this second suppression saves landmark runs.
    """
    rois = [PersonRoi.from_points(k[0], k[1]) for k in detections.keypoints]
    if not rois:
        return []
    iou = box_iou(*(np.stack([roi.corner_box() for roi in rois]),) * 2)
    kept: list[int] = []
    for i in range(len(rois)):
        if all(iou[i, k] <= duplicate_iou for k in kept):
            kept.append(i)
    return [rois[i] for i in kept]
