"""The steps of Context-Aware PoseFormer's official evaluation, as plain functions.

Both of its test sets are prepared the same way (the H36M-Toolbox label script and the
MPI-INF-3DHP test-set scripts of the official repository):

* **box**: the root joint (camera frame, mm) moved by (-1000, -900) and (+1000, +1100) mm in x, y,
  both points projected with the pinhole intrinsics (no distortion): a 2 m wide box, from 0.9 m
  above to 1.1 m below the root. Centre = its middle, scale = its size / 200 px.
* **crop**: 192x256 (w x h), the official "pixel-centred" affine (``(w - 1) / 2`` of the source
  width onto ``(192 - 1) / 2``, centre onto ``((192 - 1) / 2, (256 - 1) / 2)``; no 1.25 padding,
  no aspect correction: the crop's height follows from its width), ``cv2.warpAffine`` bilinear
  with a black border, on the BGR frame. MPI-INF-3DHP crops were then written as JPEG files
  (OpenCV's default quality 95) and read back; :func:`crop_frame` can do the same round trip.
* **2D inputs**: the image keypoints screen-normalised with the frame size
  (``x / w * 2 - [1, h / w]``), and the same keypoints through the crop matrix (float32).
* **image**: BGR -> RGB, ``/ 255``, ImageNet mean / std (HRNet backbones).
* **flip test**: the crop mirrored, the screen keypoints' x negated, the crop keypoints'
  x -> ``192 - x - 1``, left and right joints swapped; the mirrored estimate's x negated and its
  joints swapped back, then the two estimates averaged.
* **targets**: camera-frame joints relative to the root, the root exactly 0. Human3.6M scores the
  network's output as it is; MPI-INF-3DHP sets the predicted root (joint 14) to 0 first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hpe_ros.pipelines.rgb.crops import IMAGENET_MEAN, IMAGENET_STD, PIXEL_STD, normalize_uint8_crops

CROP_SIZE = (192, 256)  # width, height
#: offsets (mm) of the box corners from the root: (left, top), (right, bottom)
BOX_OFFSETS_MM = ((-1000.0, -900.0), (1000.0, 1100.0))
#: OpenCV's default JPEG quality (the official MPI-INF-3DHP crops were saved with cv2.imwrite)
JPEG_QUALITY = 95


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float


def root_box(root_mm: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Centre (2,) and scale (2,) (box size / 200 px) of the 2 m box around one root (3,) in mm."""
    root = np.asarray(root_mm, np.float64)
    corners = np.stack([root, root])
    corners[:, :2] += np.asarray(BOX_OFFSETS_MM)
    focal = np.array([intrinsics.fx, intrinsics.fy])
    principal = np.array([intrinsics.cx, intrinsics.cy])
    projected = corners[:, :2] / corners[:, 2:3] * focal + principal
    (left, top), (right, bottom) = projected
    center = np.array([(left + right) / 2, (top + bottom) / 2])
    scale = np.array([(right - left) / PIXEL_STD, (bottom - top) / PIXEL_STD])
    return center, scale


def crop_matrix(center: np.ndarray, scale: np.ndarray, size: tuple[int, int] = CROP_SIZE,
                inverse: bool = False) -> np.ndarray:
    """(2, 3) float64 affine, image -> crop (or back): three float32 point pairs solved by OpenCV.

    The points: the centre, the point ``(w - 1) / 2`` above it, and that offset turned 90 degrees,
    against the crop's ``((W - 1) / 2, (H - 1) / 2)`` and its own pair; as the official code builds them.
    """
    source_width = float(np.asarray(scale, np.float64)[0]) * PIXEL_STD
    width, height = size
    center64 = np.asarray(center, np.float64)
    # sums in float64, then rounded to float32 once (as the official arrays store them)
    up_source = np.array([0.0, (source_width - 1) * -0.5], np.float32)
    up_crop = np.array([0.0, (width - 1) * -0.5], np.float32)
    crop_center = np.array([(width - 1) * 0.5, (height - 1) * 0.5], np.float32)
    source = np.stack([center64, center64 + up_source]).astype(np.float32)
    target = np.stack([crop_center, crop_center + up_crop]).astype(np.float32)
    source = np.concatenate([source, _turned(source[0], source[1])[None]])
    target = np.concatenate([target, _turned(target[0], target[1])[None]])
    if inverse:
        source, target = target, source
    return cv2.getAffineTransform(source.astype(np.float32), target.astype(np.float32))


def _turned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point b + (a - b) turned by -90 degrees (float32, the third point of the pair)."""
    d = a - b
    return (b + np.array([-d[1], d[0]], np.float32)).astype(np.float32)


def crop_frame(image_bgr: np.ndarray, matrix: np.ndarray, size: tuple[int, int] = CROP_SIZE,
               jpeg_quality: int | None = None) -> np.ndarray:
    """The (H, W, 3) uint8 BGR crop; with ``jpeg_quality`` encoded and decoded as a .jpg file would be."""
    crop = cv2.warpAffine(image_bgr, matrix, size, flags=cv2.INTER_LINEAR)
    if jpeg_quality is None:
        return crop
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise RuntimeError("JPEG encoding of a crop failed")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding of a crop failed")
    return decoded


def to_crop(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., J, 2) image pixels -> crop pixels (float64 product, stored float32 as the labels are)."""
    points = np.asarray(points, np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def normalize_image(crops_bgr: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR -> (N, 3, H, W) float32 RGB, ImageNet-normalised (the HRNet input)."""
    return normalize_uint8_crops(np.ascontiguousarray(np.asarray(crops_bgr)[..., ::-1])).numpy()


def flip_inputs(images: np.ndarray, screen: np.ndarray, crop: np.ndarray, permutation: np.ndarray,
                crop_width: int = CROP_SIZE[0]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mirrored inputs of the flip test: (N, 3, H, W) images, (N, J, 2) screen and crop points."""
    flipped_screen = np.array(screen, np.float32)[:, permutation]
    flipped_screen[..., 0] *= -1
    flipped_crop = np.array(crop, np.float32)[:, permutation]
    flipped_crop[..., 0] = np.float32(crop_width) - flipped_crop[..., 0] - np.float32(1)
    return np.ascontiguousarray(images[..., ::-1]), flipped_screen, flipped_crop


def unflip_output(output: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """A mirrored estimate (N, J, 3) back: x negated, left and right swapped."""
    back = np.array(output)[:, permutation]
    back[..., 0] *= -1
    return back


def root_relative_target(joints: np.ndarray, root: int) -> np.ndarray:
    """(N, J, 3) joints minus their root, the root set to exactly 0."""
    relative = np.asarray(joints, np.float64) - np.asarray(joints, np.float64)[:, root : root + 1]
    relative[:, root] = 0.0
    return relative


__all__ = [
    "BOX_OFFSETS_MM",
    "CROP_SIZE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PIXEL_STD",
    "JPEG_QUALITY",
    "Intrinsics",
    "crop_frame",
    "crop_matrix",
    "flip_inputs",
    "normalize_image",
    "root_box",
    "root_relative_target",
    "to_crop",
    "unflip_output",
]
