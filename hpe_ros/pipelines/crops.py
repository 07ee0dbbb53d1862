"""Top-down crops: person boxes -> normalised network inputs, and keypoints back to the image.

Conventions of the HRNet / SimDR test code:

* a box becomes a centre and a ``scale`` in units of ``pixel_std`` = 200 px; the box is
  widened or heightened to the input's aspect ratio (w / h) and then enlarged by 1.25;
* the crop is the similarity transform that maps the centre to the middle of the input
  (``(w/2, h/2)``) and ``scale_w * 200`` image pixels onto the input width, optionally
  rotated; pixel ``i`` is centred at coordinate ``i`` (OpenCV's convention);
* pixels are RGB, scaled to [0, 1] and normalised with the ImageNet mean and std.

The warp is bilinear with zero padding, done for all people of a frame at once with
``torch.nn.functional.grid_sample``; the inverse transform maps keypoints in crop pixels
back to image pixels exactly (same matrices, inverted in float64).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def boxes_to_center_scale(
    boxes: np.ndarray,
    input_size: tuple[int, int] = INPUT_SIZE_256x192,
    padding: float = BOX_PADDING,
    pixel_std: float = PIXEL_STD,
) -> CropBoxes:
    """Boxes (N, >=4) as ``x_min, y_min, x_max, y_max`` -> centre and aspect-corrected scale."""
    boxes = np.atleast_2d(np.asarray(boxes, np.float64))
    x0, y0 = boxes[:, 0], boxes[:, 1]
    width, height = boxes[:, 2] - x0, boxes[:, 3] - y0
    center = np.stack([x0 + width * 0.5, y0 + height * 0.5], axis=1)
    aspect = input_size[0] / input_size[1]
    wider = width > aspect * height
    taller = width < aspect * height
    height = np.where(wider, width / aspect, height)
    width = np.where(taller, height * aspect, width)
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
    """Keypoints (N, J, 2) in crop-input pixels -> image pixels."""
    return transform_points(points, crops.crop_to_image)


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
    grid_t = torch.from_numpy(grid.astype(np.float32)).reshape(count, out_h, out_w, 2)
    return grid_sample(
        image.expand(count, -1, -1, -1), grid_t, mode="bilinear", padding_mode="zeros", align_corners=False
    )


def normalize_crops(
    crops: Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> Tensor:
    """[0, 255] RGB -> (x / 255 - mean) / std per channel (in place on ``crops``)."""
    gain = torch.tensor([1.0 / (255.0 * s) for s in std]).reshape(1, -1, 1, 1)
    bias = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)]).reshape(1, -1, 1, 1)
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
) -> CropBatch:
    """Crop every person box of an RGB frame into one normalised batch (N, 3, h, w).

    ``boxes`` are (N, >=4) ``x_min, y_min, x_max, y_max`` in pixels (extra columns such
    as scores are ignored); ``input_size`` is the network's (width, height).
    """
    regions = boxes_to_center_scale(boxes, input_size, padding)
    forward = affine_matrices(regions.center, regions.scale, input_size, rotation_deg)
    inverse = invert_affine(forward)
    count = len(forward)
    if count == 0:
        images = torch.zeros(0, 3, input_size[1], input_size[0])
    else:
        images = warp_crops(image_to_tensor(image), inverse, input_size)
        if normalize:
            images = normalize_crops(images)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return CropBatch(images, regions, forward, inverse, (int(input_size[0]), int(input_size[1])))


__all__ = [
    "BOX_PADDING",
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
    "image_to_tensor",
    "invert_affine",
    "normalize_crops",
    "transform_points",
    "warp_crops",
]
