"""The bottom-up (HigherHRNet / SWAHR) test protocols, selectable by name (``bottom_up.protocol``).

* ``"official"``: the test code of github:greatlog/SWAHR-HumanPose (HigherHRNet's lineage) step
  for step. The image is resized by ``cv2.warpAffine`` of the uint8 image with the official
  matrix (three float32 points through ``cv2.getAffineTransform``, centre and scale in 200-pixel
  units as ``get_multi_scale_size`` computes them), then ``ToTensor`` + ``Normalize``; each
  joint's candidates are assigned to people with the ``munkres`` package (the solver the official
  code calls: where several assignments cost the same, which is common because the cost is an
  integer multiple of 100 minus a per-row value, the solver decides who gets which joint);
  people are kept in a dict keyed by the first tag value of their first joint, as officially
  (a new person whose key equals an existing one's overwrites that person's joint); keypoints
  go back to the image through the official inverse matrix of the heatmap size and are stored
  in float32.
* ``"float"``: the same steps with float ``grid_sample`` resizing on the pipeline's device, SciPy's
  ``linear_sum_assignment`` (same optimum, its own choice among equal-cost ones) and float64
  back-projection. Measured against "official" in docs/models.md.
"""

from __future__ import annotations

import cv2
import numpy as np
from torch import Tensor

from hpe_ros.pipelines.rgb.crops import PIXEL_STD, normalize_uint8_crops, warp_crops_cv2

PROTOCOLS = ("official", "float")


def official_center_scale(
    image_height: int, image_width: int, resized: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Centre (integer pixels) and scale (2,) in 200-pixel units of a resize to ``resized`` (w, h),
    as ``get_multi_scale_size`` returns them (the scale's width is what the matrices use)."""
    center = np.array([int(image_width / 2.0 + 0.5), int(image_height / 2.0 + 0.5)])
    out_w, out_h = resized
    if image_width < image_height:
        scale = np.array([image_width / PIXEL_STD, out_h / out_w * image_width / PIXEL_STD])
    else:
        scale = np.array([out_w / out_h * image_height / PIXEL_STD, image_height / PIXEL_STD])
    return center, scale


def official_affine(
    center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], inverse: bool = False
) -> np.ndarray:
    """(2, 3) image -> output matrix (or output -> image) of ``get_affine_transform`` without rotation.

    The width ``scale[0] * 200`` (float64) maps onto the output width; the three point pairs are
    rounded to float32 before ``cv2.getAffineTransform`` solves them, as officially.
    """
    src_w = float(np.asarray(scale, np.float64)[0]) * PIXEL_STD
    out_w, out_h = output_size
    center64 = np.asarray(center, np.float64)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center64
    src[1] = center64 + np.array([0.0, src_w * -0.5])
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = np.array([out_w * 0.5, out_h * 0.5]) + np.array([0, out_w * -0.5], np.float32)
    for points in (src, dst):
        delta = points[0] - points[1]  # float32, as the points
        points[2] = points[1] + np.array([-delta[1], delta[0]], np.float32)
    return cv2.getAffineTransform(dst, src) if inverse else cv2.getAffineTransform(src, dst)


def resize_official(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, size: tuple[int, int]
) -> Tensor:
    """(H, W, 3) uint8 RGB -> normalised (3, h, w) float32 network input of ``size`` (w, h)."""
    matrix = official_affine(center, scale, size)
    resized = warp_crops_cv2(image, matrix[None], size)
    return normalize_uint8_crops(resized)[0]


def official_to_image(
    points: np.ndarray, center: np.ndarray, scale: np.ndarray, heatmap_size: tuple[int, int]
) -> np.ndarray:
    """Points (..., 2) on the final heatmap grid (w, h) -> image pixels, float32 (``get_final_preds``)."""
    matrix = official_affine(center, scale, heatmap_size, inverse=True)
    flat = np.asarray(points, np.float32).reshape(-1, 2)
    # one matrix-vector product per point, the official arithmetic (a batched matmul may round differently)
    mapped = [np.dot(matrix, np.array([x, y, 1.0])) for x, y in flat]
    return np.array(mapped, np.float32).reshape(np.shape(points))


#: the assignment solver of each protocol (:func:`~hpe_ros.pipelines.rgb.ae_grouping.assign`)
SOLVERS = {"official": "munkres", "float": "scipy"}

__all__ = [
    "PIXEL_STD",
    "PROTOCOLS",
    "SOLVERS",
    "official_affine",
    "official_center_scale",
    "official_to_image",
    "resize_official",
]
