"""Top-down crops: person boxes -> normalised network inputs, and keypoints back to the image.

Conventions of the HRNet / SimDR test code:

* a box becomes a centre and a ``scale`` in units of ``pixel_std`` = 200 px; the box is
  widened or heightened to the input's aspect ratio (w / h) and then enlarged by 1.25;
* the crop is the similarity transform that maps the centre to the middle of the input
  (``(w/2, h/2)``) and ``scale_w * 200`` image pixels onto the input width, optionally
  rotated; pixel ``i`` is centred at coordinate ``i`` (OpenCV's convention);
* pixels are RGB, scaled to [0, 1] and normalised with the ImageNet mean and std.

Two ways to warp, chosen by ``method`` (the pipeline's ``topdown.protocol``):

* ``"official"``: the official test protocol bit for bit. The box's centre and scale are rounded
  to float32 as the official dataset stores them; the matrices come from three float32 points
  through ``cv2.getAffineTransform`` (``get_affine_transform``); the crop is ``cv2.warpAffine``
  (``INTER_LINEAR``, zero border) of the uint8 image, so it is uint8 too; normalisation is
  ``ToTensor`` + ``Normalize``. Keypoints go back through the official inverse matrices
  (:func:`official_affine_matrices` with ``inverse=True``; for heatmaps, those of the heatmap size).
  OpenCV interpolates in fixed point (1/32 pixel positions, 15-bit weights) and rounds to uint8.
* ``"float"``: float64 matrices, bilinear ``torch.nn.functional.grid_sample`` with zero
  padding and no rounding, on the device of the image tensor (all people of a frame in one call);
  keypoints go back through the float64 inverse.

Both agree within one grey level and 1e-4 px of keypoint mapping (measured in docs/models.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import grid_sample

PIXEL_STD = 200.0
BOX_PADDING = 1.25
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: (width, height) of the crops used by the published models
INPUT_SIZE_256x192 = (192, 256)
INPUT_SIZE_384x288 = (288, 384)
#: crop methods: the official cv2 protocol, or float grid_sample (see the module docstring)
CROP_METHODS = ("official", "float")


@dataclass(frozen=True)
class CropBoxes:
    """Crop regions in the official centre/scale form."""

    center: np.ndarray  # (N, 2) float64, pixels
    scale: np.ndarray  # (N, 2) float64, box width/height in units of pixel_std


@dataclass(frozen=True)
class CropBatch:
    """Network inputs for the people of one frame and the transforms that made them."""

    images: Tensor  # (N, 3, h, w) float32, normalised
    boxes: CropBoxes
    image_to_crop: np.ndarray  # (N, 2, 3) float64 affine matrices
    crop_to_image: np.ndarray  # (N, 2, 3) float64, their inverses
    input_size: tuple[int, int]  # (w, h)
    method: str = "float"  # one of CROP_METHODS
    rotation_deg: np.ndarray | float = 0.0  # (N,) or one angle for all


def boxes_to_center_scale(
    boxes: np.ndarray,
    input_size: tuple[int, int] = INPUT_SIZE_256x192,
    padding: float = BOX_PADDING,
    pixel_std: float = PIXEL_STD,
    *,
    box_format: str = "xyxy",
    official: bool = False,
) -> CropBoxes:
    """Boxes (N, >=4) -> centre and aspect-corrected scale.

    ``box_format`` "xyxy" (``x_min, y_min, x_max, y_max``) or "xywh" (COCO's ``x, y, w, h``).
    ``official`` rounds centre and scale to float32 the way the official dataset does (the
    padding multiplies the float32 scale); the arrays stay float64 holding those values.
    """
    boxes = np.atleast_2d(np.asarray(boxes, np.float64))
    if box_format not in ("xyxy", "xywh"):
        raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    x0, y0 = boxes[:, 0], boxes[:, 1]
    if box_format == "xywh":
        width, height = boxes[:, 2].copy(), boxes[:, 3].copy()
    else:
        width, height = boxes[:, 2] - x0, boxes[:, 3] - y0
    center = np.stack([x0 + width * 0.5, y0 + height * 0.5], axis=1)
    aspect = input_size[0] / input_size[1]
    wider = width > aspect * height
    taller = width < aspect * height
    height = np.where(wider, width / aspect, height)
    width = np.where(taller, height * aspect, width)
    if official:
        unpadded = (np.stack([width, height], axis=1) / pixel_std).astype(np.float32)
        scale32 = unpadded * np.float32(padding)
        center32 = center.astype(np.float32).astype(np.float64)
        return CropBoxes(center=center32, scale=scale32.astype(np.float64))
    scale = np.stack([width, height], axis=1) / pixel_std * padding
    return CropBoxes(center=center, scale=scale)


def affine_matrices(
    center: np.ndarray,
    scale: np.ndarray,
    output_size: tuple[int, int],
    rotation_deg: float | np.ndarray = 0.0,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """(N, 2, 3) image -> crop matrices: ``q = s * R(-rot) (p - center) + output_size / 2``.

    ``s = output_w / (scale_w * pixel_std)``; only the scale's width counts (the box already
    has the output's aspect ratio). With a positive rotation, image content right of the centre
    moves up in the crop (counter-clockwise on screen), as in the official ``get_affine_transform``.
    """
    center = np.asarray(center, np.float64).reshape(-1, 2)
    scale = np.asarray(scale, np.float64).reshape(-1, 2)
    count = len(center)
    factor = output_size[0] / (scale[:, 0] * pixel_std)
    angle = np.broadcast_to(np.deg2rad(np.asarray(rotation_deg, np.float64)), (count,))
    cos, sin = np.cos(angle) * factor, np.sin(angle) * factor
    linear = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], axis=1)  # (N, 2, 2)
    offset = np.array([output_size[0] * 0.5, output_size[1] * 0.5]) - np.einsum("nij,nj->ni", linear, center)
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def official_affine_matrices(
    center: np.ndarray,
    scale: np.ndarray,
    output_size: tuple[int, int],
    rotation_deg: float | np.ndarray = 0.0,
    *,
    inverse: bool = False,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """(N, 2, 3) matrices as the official test code builds them (image -> crop, or crop -> image).

    Three point pairs in float32: the centre and the middle of the output, a point half the box
    width above each (turned by the rotation in the image), and a third point at a right angle,
    solved by ``cv2.getAffineTransform``. The same map as :func:`affine_matrices` up to float32
    rounding of the points, which this reproduces exactly.
    """
    center32 = np.asarray(center, np.float64).reshape(-1, 2).astype(np.float32)
    width32 = np.asarray(scale, np.float64).reshape(-1, 2).astype(np.float32)[:, 0] * np.float32(pixel_std)
    count = len(center32)
    angle = np.broadcast_to(np.pi * np.asarray(rotation_deg, np.float64) / 180, (count,))
    half = (width32 * np.float32(-0.5)).astype(np.float64)  # the "up" vector (0, -w/2), turned by the angle
    up = np.stack([-half * np.sin(angle), half * np.cos(angle)], axis=1)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    middle = np.array([out_w * 0.5, out_h * 0.5])
    src = np.zeros((count, 3, 2), np.float32)
    dst = np.zeros((count, 3, 2), np.float32)
    src[:, 0] = center32
    src[:, 1] = center32.astype(np.float64) + up
    dst[:, 0] = middle
    dst[:, 1] = middle + np.array([0.0, out_w * -0.5], np.float32)
    for points in (src, dst):
        delta = points[:, 0] - points[:, 1]  # float32, as the points
        points[:, 2] = points[:, 1] + np.stack([-delta[:, 1], delta[:, 0]], axis=1)
    pairs = zip(dst, src, strict=True) if inverse else zip(src, dst, strict=True)
    if count == 0:
        return np.zeros((0, 2, 3))
    return np.stack([cv2.getAffineTransform(a, b) for a, b in pairs]).reshape(count, 2, 3)


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """Inverse of (N, 2, 3) affine matrices."""
    linear = np.linalg.inv(matrices[:, :, :2])
    offset = -np.einsum("nij,nj->ni", linear, matrices[:, :, 2])
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def transform_points(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Apply per-crop (N, 2, 3) matrices to points (N, J, 2)."""
    points = np.asarray(points, np.float64)
    return np.einsum("nij,nkj->nki", matrices[:, :, :2], points) + matrices[:, None, :, 2]


def crop_to_image(points: np.ndarray, crops: CropBatch) -> np.ndarray:
    """Keypoints (N, J, 2) in crop-input pixels -> image pixels.

    With "official" crops the result is rounded to float32, as the official predictions are stored.
    """
    mapped = transform_points(points, crops.crop_to_image)
    return mapped.astype(np.float32).astype(np.float64) if crops.method == "official" else mapped


def heatmap_to_image(points: np.ndarray, crops: CropBatch, heatmap_size: tuple[int, int]) -> np.ndarray:
    """Keypoints (N, J, 2) in heatmap pixels -> image pixels.

    "official" crops map through the official matrices built for the heatmap size (as
    ``get_final_preds`` does); "float" crops scale by the stride and use the exact inverse.
    """
    points = np.asarray(points, np.float64)
    if crops.method == "official":
        boxes = crops.boxes
        rotation = crops.rotation_deg
        matrices = official_affine_matrices(boxes.center, boxes.scale, heatmap_size, rotation, inverse=True)
        return transform_points(points, matrices).astype(np.float32).astype(np.float64)
    stride = np.array(crops.input_size, np.float64) / np.array(heatmap_size, np.float64)
    return transform_points(points * stride, crops.crop_to_image)


def image_to_tensor(image: np.ndarray | Tensor) -> Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [0, 255]."""
    if isinstance(image, np.ndarray):
        # read-only arrays (e.g. from PIL or message buffers) are only read here
        data = torch.from_numpy(np.ascontiguousarray(image) if image.flags.writeable else image.copy())
    else:
        data = image
    if data.ndim != 3 or data.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {tuple(data.shape)}")
    return data.permute(2, 0, 1).unsqueeze(0).float()


def warp_crops(image: Tensor, crop_to_image_matrices: np.ndarray, output_size: tuple[int, int]) -> Tensor:
    """Bilinear crops (N, C, h, w) of a (1, C, H, W) image; pixels outside the image are 0.

    Output pixel (u, v) samples the image at ``crop_to_image @ (u, v, 1)``.
    """
    count = len(crop_to_image_matrices)
    out_w, out_h = output_size
    in_h, in_w = image.shape[-2:]
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)[None].repeat(count, axis=0)  # (N, h*w, 2)
    source = transform_points(pixels, crop_to_image_matrices)
    # grid_sample (align_corners=False) puts pixel i at normalised (2 i + 1) / size - 1
    grid = (2.0 * source + 1.0) / np.array([in_w, in_h]) - 1.0
    grid_t = torch.from_numpy(grid.astype(np.float32)).reshape(count, out_h, out_w, 2).to(image.device)
    return grid_sample(
        image.expand(count, -1, -1, -1), grid_t, mode="bilinear", padding_mode="zeros", align_corners=False
    )


def warp_crops_cv2(
    image: np.ndarray, image_to_crop_matrices: np.ndarray, output_size: tuple[int, int]
) -> np.ndarray:
    """uint8 crops (N, h, w, C) of an (H, W, C) uint8 image by ``cv2.warpAffine`` (INTER_LINEAR, 0 border)."""
    source = np.ascontiguousarray(image)
    size = (int(output_size[0]), int(output_size[1]))
    out = np.empty((len(image_to_crop_matrices), size[1], size[0], source.shape[2]), source.dtype)
    for crop, matrix in zip(out, image_to_crop_matrices, strict=True):
        cv2.warpAffine(source, matrix, size, dst=crop, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0)
    return out


def normalize_uint8_crops(
    crops: np.ndarray, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> Tensor:
    """(N, h, w, 3) uint8 -> (N, 3, h, w) float32 as ``ToTensor`` then ``Normalize`` compute it."""
    data = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous().float().div(255)
    mean_t = torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
    return data.sub_(mean_t).div_(std_t)


def normalize_crops(
    crops: Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> Tensor:
    """[0, 255] RGB -> (x / 255 - mean) / std per channel (in place on ``crops``)."""
    gain = torch.tensor([1.0 / (255.0 * s) for s in std], device=crops.device).reshape(1, -1, 1, 1)
    bias = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], device=crops.device)
    bias = bias.reshape(1, -1, 1, 1)
    return crops.mul_(gain).add_(bias)


def crop_people(
    image: np.ndarray | Tensor,
    boxes: np.ndarray,
    input_size: tuple[int, int] = INPUT_SIZE_256x192,
    *,
    padding: float = BOX_PADDING,
    rotation_deg: float | np.ndarray = 0.0,
    normalize: bool = True,
    channels_last: bool = False,
    method: str = "official",
    box_format: str = "xyxy",
    device: str | torch.device = "cpu",
) -> CropBatch:
    """Crop every person box of an RGB frame into one normalised batch (N, 3, h, w).

    ``boxes`` are (N, >=4) in pixels, ``x_min, y_min, x_max, y_max`` (or COCO's ``x, y, w, h``
    with ``box_format="xywh"``); extra columns such as scores are ignored. ``input_size`` is the
    network's (width, height); ``method`` one of :data:`CROP_METHODS` (see the module docstring).
    Without ``normalize`` the crops hold grey levels 0..255 (rounded with "official").
    ``device`` is where "float" warps (a CUDA image batch); "official" warps on the CPU.
    """
    if method not in CROP_METHODS:
        raise ValueError(f"crop method must be one of {CROP_METHODS}, got {method!r}")
    official = method == "official"
    regions = boxes_to_center_scale(boxes, input_size, padding, box_format=box_format, official=official)
    if official:
        forward = official_affine_matrices(regions.center, regions.scale, input_size, rotation_deg)
        inverse = official_affine_matrices(
            regions.center, regions.scale, input_size, rotation_deg, inverse=True
        )
    else:
        forward = affine_matrices(regions.center, regions.scale, input_size, rotation_deg)
        inverse = invert_affine(forward)
    count = len(forward)
    if count == 0:
        images = torch.zeros(0, 3, input_size[1], input_size[0])
    elif official:
        pixels = image.cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
        if pixels.dtype != np.uint8:
            raise ValueError(f"the official crops take a uint8 image, got {pixels.dtype}")
        warped = warp_crops_cv2(pixels, forward, input_size)
        if normalize:
            images = normalize_uint8_crops(warped)
        else:
            images = torch.from_numpy(warped).permute(0, 3, 1, 2).float()
    else:
        images = warp_crops(image_to_tensor(image).to(device), inverse, input_size)
        if normalize:
            images = normalize_crops(images)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    rotation = np.broadcast_to(np.asarray(rotation_deg, np.float64), (count,)).copy()
    size = (int(input_size[0]), int(input_size[1]))
    return CropBatch(images, regions, forward, inverse, size, method, rotation)


__all__ = [
    "BOX_PADDING",
    "CROP_METHODS",
    "CropBatch",
    "CropBoxes",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INPUT_SIZE_256x192",
    "INPUT_SIZE_384x288",
    "PIXEL_STD",
    "affine_matrices",
    "boxes_to_center_scale",
    "crop_people",
    "crop_to_image",
    "heatmap_to_image",
    "image_to_tensor",
    "invert_affine",
    "normalize_crops",
    "normalize_uint8_crops",
    "official_affine_matrices",
    "transform_points",
    "warp_crops",
    "warp_crops_cv2",
]
