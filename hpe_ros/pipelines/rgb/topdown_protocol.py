"""The top-down 2D test protocols, selectable by name (``topdown.protocol``).

* ``"official"``: the HRNet / SimDR / SA-SimDR COCO test protocol of the official code, step for
  step: box -> float32 centre/scale (aspect ratio, x 1.25), ``cv2.warpAffine`` uint8 crops
  (:mod:`~hpe_ros.pipelines.rgb.crops`), flip test on the mirrored input with the official shifts,
  decoding (heatmap argmax + quarter pixel, SimDR argmax / k) (:mod:`~hpe_ros.pipelines.rgb.codecs`),
  back to the image through the official matrices (for heatmaps, those of the heatmap size);
  for a COCO evaluation, :func:`rescore_and_oks_nms` (the person score times the mean of the
  joint scores above ``in_vis_thre``, then greedy OKS NMS per image).
* ``"float"``: the same decoding, but float64 matrices and float ``grid_sample`` crops on the
  pipeline's device (one call for all people; no uint8 rounding). Within one grey level and
  1e-4 px of "official" (docs/models.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from hpe_ros.pipelines.rgb.codecs import COCO_FLIP_PAIRS, FlipPairs, HeatmapCodec, SimDRCodec
from hpe_ros.pipelines.rgb.crops import CropBatch, crop_to_image, heatmap_to_image

PROTOCOLS = ("official", "float")
#: the official COCO test settings (TEST.IN_VIS_THRE, TEST.OKS_THRE of the experiment files)
IN_VIS_THRE = 0.2
OKS_THRE = 0.9
#: the per-keypoint OKS sigmas of the official NMS (COCO's, COCO-17 order)
NMS_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87,
                       0.87, 0.89, 0.89]) / 10.0


@dataclass(frozen=True)
class Decoded2D:
    """Keypoints of a batch of crops, in the image and in the crop."""

    image: np.ndarray  # (N, J, 2) float64 image pixels
    crop: np.ndarray  # (N, J, 2) float64 crop-input pixels
    scores: np.ndarray  # (N, J) float32


def decode_2d(
    codec: HeatmapCodec | SimDRCodec,
    heads: Sequence[Tensor],
    crops: CropBatch,
    flip_test: bool,
    flip_pairs: FlipPairs = COCO_FLIP_PAIRS,
) -> Decoded2D:
    """Head outputs of a batch (the crops, then with ``flip_test`` their mirrors) -> keypoints.

    ``heads`` is ``(heatmaps,)`` or ``(x, y)`` SimDR logits with 2N rows when flipped.
    """
    count = len(crops.images)
    if isinstance(codec, HeatmapCodec):
        heatmaps = heads[0]
        if flip_test:
            heatmaps = codec.merge_flip(heatmaps[:count], heatmaps[count:], flip_pairs)
        decoded = codec.decode(heatmaps[:count], heatmap_pixels=True)
        image = heatmap_to_image(decoded.coords, crops, codec.heatmap_size)
        crop = decoded.coords.astype(np.float64) * codec.stride
        return Decoded2D(image, crop, decoded.scores)
    x, y = heads
    if flip_test:
        px, py = codec.merge_flip(x[:count], y[:count], x[count:], y[count:], flip_pairs)
        decoded = codec.decode(px, py, are_probabilities=True)
    else:
        decoded = codec.decode(x[:count], y[:count])
    crop = decoded.coords.astype(np.float64)
    return Decoded2D(crop_to_image(crop, crops), crop, decoded.scores)


def rescore(joint_scores: np.ndarray, box_scores: np.ndarray, in_vis_thre: float = IN_VIS_THRE) -> np.ndarray:
    """(N,) person scores: box score x the mean of the joint scores above ``in_vis_thre`` (0 if none).

    The joint scores are summed in float32 in joint order, as the official loop does.
    """
    scores32 = np.asarray(joint_scores, np.float32)
    kept = np.where(scores32 > in_vis_thre, scores32, np.float32(0))
    total = np.add.accumulate(kept, axis=1)[:, -1] if kept.shape[1] else np.zeros(len(kept), np.float32)
    valid = (scores32 > in_vis_thre).sum(axis=1)
    mean = total / np.maximum(valid, 1).astype(np.float32)
    mean = np.where(valid > 0, mean, np.float32(0)).astype(np.float32)
    return mean.astype(np.float64) * np.asarray(box_scores, np.float64)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, threshold: float = OKS_THRE,
            sigmas: np.ndarray = NMS_SIGMAS) -> list[int]:
    """Greedy NMS on keypoint similarity: indices kept, best score first.

    ``keypoints`` (N, J, 2) image pixels (float32, as the official predictions); ``areas`` (N,)
    the crops' ``w * h`` in pixels. A person is dropped when its OKS to a kept one exceeds
    ``threshold``; the OKS scale is the mean of the two areas, every joint counts.
    """
    points = np.asarray(keypoints, np.float32)
    areas = np.asarray(areas, np.float64)
    variances = (np.asarray(sigmas, np.float64) * 2) ** 2
    order = np.argsort(np.asarray(scores, np.float64))[::-1]
    keep: list[int] = []
    while order.size > 0:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        delta = points[rest] - points[best]  # float32 differences, float64 from here on
        squared = (delta[..., 0] ** 2 + delta[..., 1] ** 2).astype(np.float64)
        scale = (areas[best] + areas[rest]) / 2 + np.spacing(1)
        energy = squared / variances / scale[:, None] / 2
        similarity = np.exp(-energy).sum(axis=1) / points.shape[1]
        order = rest[similarity <= threshold]
    return keep


@dataclass(frozen=True)
class PersonResult:
    """One person of a COCO result file after rescoring and NMS."""

    image_id: int
    keypoints: np.ndarray  # (J, 2) image pixels
    joint_scores: np.ndarray  # (J,)
    score: float  # rescored


def rescore_and_oks_nms(
    image_ids: Sequence[int],
    keypoints: np.ndarray,
    joint_scores: np.ndarray,
    box_scores: np.ndarray,
    scales: np.ndarray,
    in_vis_thre: float = IN_VIS_THRE,
    oks_thre: float = OKS_THRE,
    pixel_std: float = 200.0,
) -> list[PersonResult]:
    """The official COCO evaluation's post-processing of all crops of a data set.

    Per crop: its image id, keypoints (N, J, 2), joint scores (N, J), detector box score (N,)
    and crop scale (N, 2) (:class:`~hpe_ros.pipelines.rgb.crops.CropBoxes`; area ``w * h * 200^2``
    in float32). Rescores every person, then OKS-NMS per image (images in first-seen order,
    people in NMS order), as the result file the official code writes.
    """
    keypoints32 = np.asarray(keypoints, np.float32)
    scores = rescore(joint_scores, box_scores, in_vis_thre)
    areas = np.prod(np.asarray(scales, np.float32) * np.float32(pixel_std), axis=1).astype(np.float64)
    ids = np.asarray(image_ids)
    results: list[PersonResult] = []
    for image_id in dict.fromkeys(ids.tolist()):
        members = np.flatnonzero(ids == image_id)
        kept = oks_nms(keypoints32[members], scores[members], areas[members], oks_thre)
        results.extend(
            PersonResult(int(image_id), keypoints32[members[k]].astype(np.float64),
                         np.asarray(joint_scores, np.float32)[members[k]], float(scores[members[k]]))
            for k in kept
        )
    return results


__all__ = [
    "Decoded2D",
    "IN_VIS_THRE",
    "NMS_SIGMAS",
    "OKS_THRE",
    "PROTOCOLS",
    "PersonResult",
    "decode_2d",
    "oks_nms",
    "rescore",
    "rescore_and_oks_nms",
]
