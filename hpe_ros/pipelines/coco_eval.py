"""COCO keypoint evaluation: object keypoint similarity (OKS), matching and a small AP report.

What is computed (following the definitions of the COCO keypoint challenge):

* OKS of a detection against an annotation uses the official per-keypoint sigmas of the 17
  COCO joints and the annotation's segment ``area`` as the squared object scale:
  ``OKS = mean over labelled keypoints of exp(-d^2 / (2 * area * (2 * sigma)^2))``.
  Only keypoints with visibility flag > 0 count. An annotation without any labelled keypoint is
  compared, as in the COCO evaluation, by the distance of each detected keypoint to its box
  enlarged to three times its size (zero inside), over all 17 keypoints.
* Annotations with ``num_keypoints == 0`` or ``iscrowd`` are *ignored*: detections matched to them
  are neither true nor false positives, and they do not count towards recall.
* :func:`match_by_oks` pairs detections with annotations greedily, highest OKS first (for the
  per-person OKS report). AP uses the COCO procedure instead: detections in decreasing score order
  each take the unmatched annotation of highest OKS above the threshold.
* AP is the 101-point interpolated precision averaged over recall, pooled over all images, at the
  OKS thresholds 0.50, 0.55, ..., 0.95; ``ap`` is their mean, ``ap50`` and ``ap75`` single
  thresholds. There are no area ranges and no per-image detection limit (pass at most 20
  detections per image to match COCO's ``maxDets``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Per-keypoint standard deviations of the COCO keypoint challenge, in COCO-17 order.
COCO_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
) / 10.0

OKS_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)

_EPS = np.spacing(1)  # guards a zero area, as the reference implementation does


@dataclass(frozen=True)
class KeypointAnnotation:
    """One annotated person of a COCO keypoint file."""

    keypoints: np.ndarray  # (17, 2) pixels
    visibility: np.ndarray  # (17,) COCO flags: 0 not labelled, 1 labelled but hidden, 2 visible
    area: float  # segment area in pixels^2 (the OKS scale s^2)
    bbox: np.ndarray  # (4,) x, y, width, height
    ignore: bool = False  # crowd or no labelled keypoint
    annotation_id: int = -1

    @classmethod
    def from_coco(cls, annotation: Mapping[str, Any]) -> KeypointAnnotation:
        """From one entry of a COCO ``annotations`` list."""
        flat = np.asarray(annotation["keypoints"], dtype=np.float64).reshape(17, 3)
        num_labelled = int(annotation.get("num_keypoints", int((flat[:, 2] > 0).sum())))
        return cls(
            keypoints=flat[:, :2],
            visibility=flat[:, 2].astype(np.int64),
            area=float(annotation["area"]),
            bbox=np.asarray(annotation["bbox"], dtype=np.float64),
            ignore=bool(annotation.get("iscrowd", 0)) or num_labelled == 0,
            annotation_id=int(annotation.get("id", -1)),
        )


@dataclass(frozen=True)
class KeypointDetection:
    """One detected person in COCO-17 joints."""

    keypoints: np.ndarray  # (17, 2) pixels; NaN entries count as infinitely far
    score: float  # person score used to rank detections for AP


def oks(detected: np.ndarray, annotation: KeypointAnnotation, sigmas: np.ndarray = COCO_SIGMAS) -> float:
    """Object keypoint similarity of (17, 2) ``detected`` keypoints against one annotation."""
    detected = np.asarray(detected, dtype=np.float64)
    variances = (2.0 * sigmas) ** 2
    labelled = annotation.visibility > 0
    if labelled.any():
        delta = detected - annotation.keypoints
        squared = (delta**2).sum(axis=1)
        keep = labelled
    else:
        x, y, w, h = annotation.bbox
        low = np.array([x - w, y - h])
        high = np.array([x + 2 * w, y + 2 * h])
        outside = np.maximum(0.0, low - detected) + np.maximum(0.0, detected - high)
        squared = (outside**2).sum(axis=1)
        keep = np.ones(len(sigmas), dtype=bool)
    squared = np.where(np.isnan(squared), np.inf, squared)
    exponent = squared / variances / (annotation.area + _EPS) / 2.0
    return float(np.exp(-exponent[keep]).mean())


def oks_matrix(
    detections: Sequence[KeypointDetection], annotations: Sequence[KeypointAnnotation]
) -> np.ndarray:
    """(num_detections, num_annotations) OKS of every pair."""
    return np.array(
        [[oks(d.keypoints, a) for a in annotations] for d in detections], dtype=np.float64
    ).reshape(len(detections), len(annotations))


@dataclass(frozen=True)
class Match:
    detection: int  # index into the image's detections
    annotation: int  # index into the image's annotations
    oks: float


def match_by_oks(similarity: np.ndarray, min_oks: float = 0.0) -> list[Match]:
    """Greedy one-to-one matching, highest OKS pair first; pairs at or below ``min_oks`` stay apart."""
    similarity = np.array(similarity, dtype=np.float64, copy=True)
    matches: list[Match] = []
    while similarity.size and similarity.max() > min_oks:
        d, a = np.unravel_index(np.argmax(similarity), similarity.shape)
        matches.append(Match(int(d), int(a), float(similarity[d, a])))
        similarity[d, :] = -np.inf
        similarity[:, a] = -np.inf
    return matches


@dataclass(frozen=True)
class ImageReport:
    """OKS of one image's annotated (not ignored) people after :func:`match_by_oks`."""

    image_id: int
    num_people: int  # annotated people that count (not ignored)
    num_detections: int
    person_oks: np.ndarray  # (num_people,) OKS of each counted person, 0 where unmatched
    matched: np.ndarray  # (num_people,) bool

    @property
    def mean_oks(self) -> float:
        """Mean over the image's counted people, missed people counting 0 (NaN without people)."""
        return float(self.person_oks.mean()) if self.num_people else float("nan")


@dataclass(frozen=True)
class EvaluationReport:
    images: list[ImageReport]
    ap_per_threshold: dict[float, float] = field(default_factory=dict)  # OKS threshold -> AP

    @property
    def num_people(self) -> int:
        return sum(image.num_people for image in self.images)

    @property
    def num_matched(self) -> int:
        return int(sum(image.matched.sum() for image in self.images))

    @property
    def mean_oks(self) -> float:
        """Mean OKS over all counted people, missed people counting 0."""
        values = np.concatenate([image.person_oks for image in self.images])
        return float(values.mean()) if values.size else float("nan")

    @property
    def mean_matched_oks(self) -> float:
        """Mean OKS over the people that were matched to a detection."""
        values = np.concatenate([image.person_oks[image.matched] for image in self.images])
        return float(values.mean()) if values.size else float("nan")

    @property
    def ap(self) -> float:
        """AP averaged over OKS 0.50:0.05:0.95."""
        return float(np.mean(list(self.ap_per_threshold.values())))

    @property
    def ap50(self) -> float:
        return self.ap_per_threshold[0.5]

    @property
    def ap75(self) -> float:
        return self.ap_per_threshold[0.75]


def _coco_style_hits(
    similarity: np.ndarray, scores: np.ndarray, ignored: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per detection (in the given order): true positive, and whether it is ignored.

    Detections in decreasing score order each take the unmatched counted annotation of highest
    OKS >= ``threshold``; only if none is left they may take an ignored one, which makes the
    detection ignored (the COCO evaluation's rule).
    """
    order = np.argsort(-scores, kind="stable")
    true_positive = np.zeros(len(scores), dtype=bool)
    detection_ignored = np.zeros(len(scores), dtype=bool)
    taken = np.zeros(similarity.shape[1], dtype=bool)
    for d in order:
        for allowed in (~ignored, ignored):
            candidates = np.where(allowed & ~taken & (similarity[d] >= threshold), similarity[d], -np.inf)
            if candidates.size and np.isfinite(candidates.max()):
                a = int(np.argmax(candidates))
                taken[a] = True
                true_positive[d] = not ignored[a]
                detection_ignored[d] = bool(ignored[a])
                break
    return true_positive, detection_ignored


def average_precision(true_positive: np.ndarray, scores: np.ndarray, num_positives: int) -> float:
    """101-point interpolated AP of detections pooled over images (ignored ones already removed)."""
    if num_positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    hits = true_positive[order].astype(np.float64)
    tp = np.cumsum(hits)
    fp = np.cumsum(1.0 - hits)
    recall = tp / num_positives
    precision = tp / np.maximum(tp + fp, _EPS)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # make it non-increasing in recall
    recall_points = np.linspace(0.0, 1.0, 101)
    index = np.searchsorted(recall, recall_points, side="left")
    sampled = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0.0)
    return float(sampled.mean())


def evaluate(
    detections: Mapping[int, Sequence[KeypointDetection]],
    annotations: Mapping[int, Sequence[KeypointAnnotation]],
    thresholds: Sequence[float] = tuple(OKS_THRESHOLDS),
) -> EvaluationReport:
    """Per-image OKS report and AP over the images of ``annotations`` (image id -> people)."""
    images: list[ImageReport] = []
    pooled: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {float(t): [] for t in thresholds}
    num_positives = 0
    for image_id, people in annotations.items():
        found = list(detections.get(image_id, ()))
        ignored = np.array([person.ignore for person in people], dtype=bool)
        similarity = oks_matrix(found, people)
        counted = np.flatnonzero(~ignored)
        person_oks = np.zeros(len(counted))
        matched = np.zeros(len(counted), dtype=bool)
        for match in match_by_oks(similarity[:, counted]):
            person_oks[match.annotation] = match.oks
            matched[match.annotation] = True
        images.append(ImageReport(image_id, len(counted), len(found), person_oks, matched))

        num_positives += len(counted)
        scores = np.array([d.score for d in found], dtype=np.float64)
        for threshold in pooled:
            hits, skip = _coco_style_hits(similarity, scores, ignored, threshold)
            pooled[threshold].append((hits[~skip], scores[~skip]))

    ap_per_threshold = {}
    for threshold, parts in pooled.items():
        hits = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=bool)
        scores = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        ap_per_threshold[threshold] = average_precision(hits, scores, num_positives)
    return EvaluationReport(images, ap_per_threshold)


def load_coco_keypoints(
    coco: Mapping[str, Any],
) -> tuple[dict[int, dict[str, Any]], dict[int, list[KeypointAnnotation]]]:
    """Images (id -> image entry) and person annotations (image id -> people) of a parsed COCO file."""
    images = {int(image["id"]): dict(image) for image in coco["images"]}
    people: dict[int, list[KeypointAnnotation]] = {image_id: [] for image_id in images}
    person_category = {c["id"] for c in coco.get("categories", []) if c.get("name") == "person"}
    for annotation in coco["annotations"]:
        if person_category and annotation.get("category_id") not in person_category:
            continue
        people.setdefault(int(annotation["image_id"]), []).append(KeypointAnnotation.from_coco(annotation))
    return images, people
