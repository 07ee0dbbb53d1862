"""HEMlets' test-time pre- and post-processing, as the official code does it (protocol ``hemlets_h36m``).

Facts read from the official inference code (redrock303/HEMlets, ``inference/``):

* Crops. The test set holds ready-made 256 x 256 crops and, per crop, ``trans = (x0, y0, s)``:
  a crop pixel ``c`` is the image pixel ``c / s + (x0, y0)`` (an axis-aligned scale and shift,
  no rotation). How the authors chose the boxes is not published; :class:`HemletsCrop`
  reproduces the mapping and :func:`crop_image` cuts a crop with it (bilinear, black outside).
* Input: the stored crop is BGR; it becomes RGB, ``(pixel - mean) / std`` per channel
  (ImageNet statistics), channels first. The flip test feeds the same tensor mirrored left-right.
* Output (18 joints, each axis in [-0.5, 0.5]): crop pixels ``(v + 0.5) * 256`` for x and y; z
  stays normalised. The mirrored prediction is mapped back with ``x -> 255 - x`` and its
  left/right joints swapped (Human3.6M pairs), then both predictions are averaged (z too).
* Camera space: crop -> image pixels with ``trans``; relative depth ``z * 2000`` mm; the root
  depth is not predicted but searched: with a fixed camera (focal 1150 px, centre (500, 500)),
  joints are back-projected for root depths ``1150 * s`` and the ``s`` whose 15 bone lengths
  are closest (mean absolute difference) to the Human3.6M mean bone lengths wins; ``s`` is
  searched over 2.0, 2.5, ..., 8.0, then over ``s +/- 0.1 k`` (k = -5..4) around the best.
  ``X = (u - 500) (z_rel / 1150 + s)``, ``Y`` likewise, ``Z = z_rel + 1150 s`` (mm).

The metric on these joints is :mod:`hpe_ros.evaluation.hemlets_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hpe_ros.core.joints import H36M_17
from hpe_ros.models.hemlets import IMAGE_MEAN, IMAGE_STD, INPUT_SIZE

#: HEMlets' 18 joints: the 17 Human3.6M joints, then the thorax (mean of the shoulders)
NUM_JOINTS = 18
THORAX_INDEX = 17
#: Human3.6M's 32 mocap joints -> the 17 of :data:`~hpe_ros.core.joints.H36M_17`
H36M32_TO_H36M17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
#: the left/right pairs swapped by the flip test (the thorax has no partner)
FLIP_PAIRS = H36M_17.flip_pairs

RELATIVE_DEPTH_MM = 2000.0  # a normalised z of 1 is 2 m
FOCAL_PX = 1150.0  # the official evaluation's fixed camera (not the H36M calibration)
CENTRE_PX = (500.0, 500.0)
COARSE_SCALES = tuple(2.0 + 0.5 * k for k in range(13))  # root depth / focal: 2.0 .. 8.0
FINE_STEPS = tuple(0.1 * k for k in range(-5, 5))

#: (child, parent) of the bones the root search compares, in H36M_17 indices (spine-thorax is not one)
SEARCH_BONES = (
    (1, 0), (4, 0), (7, 0), (2, 1), (3, 2), (5, 4), (6, 5), (14, 8),
    (11, 8), (9, 8), (10, 9), (15, 14), (16, 15), (12, 11), (13, 12),
)
#: the official evaluation's mean Human3.6M length of each of SEARCH_BONES, millimetres
MEAN_BONE_LENGTHS_MM = (
    132.94859077417854, 132.94882565107528, 233.47061306301964, 442.8946124486049,
    454.2064471493663, 442.89441332923815, 454.20659046567124, 151.03143697339942,
    151.03422571006854, 121.13493767282833, 115.00222708021806, 278.89292359255,
    251.72868026287756, 278.88277282953516, 251.73345095358297,
)


@dataclass(frozen=True)
class HemletsCrop:
    """The official ``trans``: crop pixel ``c`` is image pixel ``c / scale + offset``."""

    offset_x: float
    offset_y: float
    scale: float
    size: int = INPUT_SIZE

    @classmethod
    def from_trans(cls, trans: np.ndarray, size: int = INPUT_SIZE) -> HemletsCrop:
        x0, y0, scale = (float(v) for v in np.asarray(trans, dtype=np.float64).reshape(-1)[:3])
        if scale <= 0:
            raise ValueError(f"crop scale must be positive, got {scale}")
        return cls(x0, y0, scale, size)

    @classmethod
    def around(cls, centre_x: float, centre_y: float, side: float, size: int = INPUT_SIZE) -> HemletsCrop:
        """A square crop of ``side`` image pixels centred on a point (our choice of box, not the authors')."""
        if side <= 0:
            raise ValueError(f"crop side must be positive, got {side}")
        return cls(centre_x - side / 2.0, centre_y - side / 2.0, size / side, size)

    def matrix(self) -> np.ndarray:
        """(2, 3) affine map image -> crop pixels."""
        s = self.scale
        return np.array([[s, 0.0, -s * self.offset_x], [0.0, s, -s * self.offset_y]])

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixels -> image pixels."""
        return np.asarray(xy, dtype=np.float64) / self.scale + (self.offset_x, self.offset_y)

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) image pixels -> crop pixels."""
        return (np.asarray(xy, dtype=np.float64) - (self.offset_x, self.offset_y)) * self.scale


def crop_image(image: np.ndarray, crop: HemletsCrop) -> np.ndarray:
    """The ``size`` x ``size`` crop of an image (any channel order, uint8), bilinear, black outside."""
    return cv2.warpAffine(image, crop.matrix(), (crop.size, crop.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def normalise_crop(crop_bgr: np.ndarray) -> np.ndarray:
    """(S, S, 3) BGR uint8 crop -> (3, S, S) float32 network input (RGB, ImageNet mean and std)."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3:
        raise ValueError(f"expected an (S, S, 3) BGR crop, got {crop_bgr.shape}")
    rgb = crop_bgr[:, :, ::-1].astype(np.float64)
    normalised = (rgb - np.asarray(IMAGE_MEAN)) / np.asarray(IMAGE_STD)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def flip_input(tensor: np.ndarray) -> np.ndarray:
    """The flip-test input: (..., H, W) mirrored left-right."""
    return np.ascontiguousarray(tensor[..., ::-1])


def to_crop_space(output: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(..., J, 3) network output -> x, y in crop pixels, z still normalised."""
    joints = np.array(output, dtype=np.float64)
    joints[..., :2] = (joints[..., :2] + 0.5) * size
    return joints


def merge_flip(output: np.ndarray, output_flipped: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(..., 18, 3) outputs of a crop and of its mirror -> their average in crop space."""
    joints = to_crop_space(output, size)
    mirrored = to_crop_space(output_flipped, size)
    mirrored[..., 0] = size - mirrored[..., 0] - 1
    left, right = (list(side) for side in zip(*FLIP_PAIRS, strict=True))
    mirrored[..., left + right, :] = mirrored[..., right + left, :]
    return (joints + mirrored) * 0.5


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., J, 3) -> (..., 15) lengths of :data:`SEARCH_BONES`."""
    child, parent = (list(end) for end in zip(*SEARCH_BONES, strict=True))
    return np.linalg.norm(joints[..., child, :] - joints[..., parent, :], axis=-1)


def back_project(image_xy: np.ndarray, relative_depth_mm: np.ndarray, scale: np.ndarray,
                 focal: float = FOCAL_PX, centre: tuple[float, float] = CENTRE_PX) -> np.ndarray:
    """(J, 2) image pixels, (J,) relative depths, (K,) root scales -> (K, J, 3) camera mm."""
    scale = np.asarray(scale, dtype=np.float64)[:, None]
    factor = relative_depth_mm[None, :] / focal + scale  # = Z / focal
    x = (image_xy[None, :, 0] - centre[0]) * factor
    y = (image_xy[None, :, 1] - centre[1]) * factor
    z = relative_depth_mm[None, :] + scale * focal
    return np.stack([x, y, z], axis=-1)


@dataclass(frozen=True)
class RootSearch:
    """The camera-space joints of the best root depth."""

    joints_mm: np.ndarray  # (J, 3) camera frame, millimetres
    scale: float  # root depth / focal length
    root_depth_mm: float
    bone_error_mm: float  # mean |bone length - mean bone length| at that depth


def search_root_depth(image_xy: np.ndarray, relative_depth_mm: np.ndarray, focal: float = FOCAL_PX,
                      centre: tuple[float, float] = CENTRE_PX) -> RootSearch:
    """The official coarse-then-fine search of the root depth by bone lengths (module docstring)."""
    image_xy = np.asarray(image_xy, dtype=np.float64)
    relative_depth_mm = np.asarray(relative_depth_mm, dtype=np.float64)
    target = np.asarray(MEAN_BONE_LENGTHS_MM)

    def errors(scales: np.ndarray) -> np.ndarray:
        joints = back_project(image_xy, relative_depth_mm, scales, focal, centre)
        return np.abs(bone_lengths(joints) - target).mean(axis=-1)

    coarse = np.asarray(COARSE_SCALES)
    coarse_errors = errors(coarse)
    best = int(np.argmin(coarse_errors))  # the first of equal errors, as the official loop keeps it
    # the fine candidates only replace the coarse best when strictly better: it goes first
    fine = np.concatenate([[coarse[best]], [coarse[best] + step for step in FINE_STEPS]])
    fine_errors = np.concatenate([[coarse_errors[best]], errors(fine[1:])])
    pick = int(np.argmin(fine_errors))
    scale = float(fine[pick])
    joints = back_project(image_xy, relative_depth_mm, np.array([scale]), focal, centre)[0]
    return RootSearch(joints, scale, scale * focal, float(fine_errors[pick]))


@dataclass(frozen=True)
class HemletsDecoded:
    """One crop's prediction after the official post-processing."""

    crop_joints: np.ndarray  # (18, 3) x, y crop pixels; z normalised (flip-merged)
    image_joints: np.ndarray  # (18, 2) image pixels
    relative_depth_mm: np.ndarray  # (18,) depth relative to the root
    camera: RootSearch  # camera-space joints (mm) from the root search


def decode(output: np.ndarray, output_flipped: np.ndarray | None, crop: HemletsCrop) -> HemletsDecoded:
    """(18, 3) network outputs of a crop and (optionally) its mirror -> image and camera joints."""
    output = np.asarray(output, dtype=np.float64)
    if output.shape != (NUM_JOINTS, 3):
        raise ValueError(f"expected ({NUM_JOINTS}, 3) HEMlets joints, got {output.shape}")
    joints = to_crop_space(output, crop.size) if output_flipped is None else merge_flip(
        output, np.asarray(output_flipped, dtype=np.float64), crop.size)
    image_xy = crop.to_image(joints[:, :2])
    depth = joints[:, 2] * RELATIVE_DEPTH_MM
    return HemletsDecoded(joints, image_xy, depth, search_root_depth(image_xy, depth))
