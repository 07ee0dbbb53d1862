"""Keypoint codecs of top-down 2D pose networks: training targets in, keypoints out.

Each codec pairs ``encode`` (keypoints in crop pixels -> the network's training target) with
``decode`` (network output -> keypoints in crop pixels + scores) and ``merge_flip``
(combine the outputs of a crop and its horizontal mirror), after the official HRNet and
SimDR test code:

* :class:`HeatmapCodec`: unnormalised Gaussian heatmaps at 1/4 resolution; decoding takes the
  argmax and moves it a quarter pixel toward the higher neighbour (``get_final_preds`` with
  ``POST_PROCESS``); no DARK refinement. Flipped heatmaps are mirrored back, left/right joints
  swapped and shifted one column right (``SHIFT_HEATMAP``) before averaging.
* :class:`SimDRCodec`: 1-D classification over ``split_ratio`` bins per crop pixel; decoding
  is argmax / split_ratio on the softmax. "simdr" averages the two softmaxes and scores a
  joint by the larger of its x/y maxima; "sa-simdr" takes the softmax of the averaged logits
  and scores by the smaller maximum. Flipped x vectors are reversed and shifted one bin left.

Coordinates are in crop-input pixels (pixel ``i`` centred at ``i``); map them to the image
with :func:`hpe_ros.pipelines.rgb.crops.crop_to_image`. Heatmap coordinates are multiplied by the
stride (input / heatmap size), which equals the official mapping through the heatmap-sized
affine transform exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import softmax

FlipPairs = Sequence[tuple[int, int]]

#: left/right joint pairs of the COCO-17 order
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
)


@dataclass(frozen=True)
class DecodedKeypoints:
    """Keypoints of a batch of crops."""

    coords: np.ndarray  # (N, J, 2) float32, x/y in crop-input pixels
    scores: np.ndarray  # (N, J) float32


@dataclass(frozen=True)
class HeatmapTarget:
    """Training target of :class:`HeatmapCodec` for one crop."""

    heatmaps: np.ndarray  # (J, h, w) float32
    weights: np.ndarray  # (J,) float32; 0 where the Gaussian lies outside the map


@dataclass(frozen=True)
class SimDRTarget:
    """Training target of :class:`SimDRCodec` for one crop.

    "simdr" (label-smoothed classification) uses ``labels``; "sa-simdr" (KL to Gaussians)
    uses ``x`` and ``y``.
    """

    weights: np.ndarray  # (J,) float32
    labels: np.ndarray | None = None  # (J, 2) int64 bin indices, clipped into range
    x: np.ndarray | None = None  # (J, W * k) float32 Gaussian labels
    y: np.ndarray | None = None  # (J, H * k) float32


def _as_tensor(data: Tensor | np.ndarray) -> Tensor:
    return data.detach() if isinstance(data, Tensor) else torch.from_numpy(np.asarray(data))


def swap_flip_pairs(data: Tensor, flip_pairs: FlipPairs, joint_dim: int = 1) -> Tensor:
    """Exchange left and right joints along ``joint_dim`` (a copy)."""
    order = list(range(data.shape[joint_dim]))
    for left, right in flip_pairs:
        order[left], order[right] = right, left
    return data.index_select(joint_dim, torch.as_tensor(order, device=data.device))


def _visibility_weights(num_joints: int, visible: np.ndarray | None) -> np.ndarray:
    if visible is None:
        return np.ones(num_joints, np.float32)
    return np.asarray(visible, np.float32).reshape(num_joints)


class HeatmapCodec:
    """Gaussian heatmaps with the official HRNet quarter-pixel decoding.

    ``input_size`` and ``heatmap_size`` are (width, height); ``sigma`` in heatmap pixels.
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (192, 256),
        heatmap_size: tuple[int, int] = (48, 64),
        sigma: float = 2.0,
        shift_flipped: bool = True,
        subpixel_refine: bool = True,
    ) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.stride = np.array(self.input_size, np.float64) / np.array(self.heatmap_size, np.float64)
        self.sigma = float(sigma)
        self.shift_flipped = shift_flipped
        self.subpixel_refine = subpixel_refine

    def encode(self, keypoints: np.ndarray, visible: np.ndarray | None = None) -> HeatmapTarget:
        """Keypoints (J, 2) in crop pixels -> Gaussians centred on the nearest heatmap pixel."""
        keypoints = np.asarray(keypoints, np.float64).reshape(-1, 2)
        num_joints = len(keypoints)
        weights = _visibility_weights(num_joints, visible).copy()
        width, height = self.heatmap_size
        radius = self.sigma * 3
        # int() of the official code truncates toward zero
        centre = np.trunc(keypoints / self.stride + 0.5)
        upper_left = np.trunc(centre - radius)
        bottom_right = np.trunc(centre + radius + 1)
        outside = (
            (upper_left[:, 0] >= width)
            | (upper_left[:, 1] >= height)
            | (bottom_right[:, 0] < 0)
            | (bottom_right[:, 1] < 0)
        )
        weights[outside] = 0.0
        # The official patch is a (2r+1)^2 Gaussian pasted with its centre at index r // 1.
        patch_centre = np.floor((2 * radius + 1) / 2)
        xs = np.arange(width, dtype=np.float64)
        ys = np.arange(height, dtype=np.float64)
        dx = xs[None, :] - upper_left[:, :1] - patch_centre  # (J, w)
        dy = ys[None, :] - upper_left[:, 1:] - patch_centre  # (J, h)
        in_x = (xs[None, :] >= upper_left[:, :1]) & (xs[None, :] < bottom_right[:, :1])
        in_y = (ys[None, :] >= upper_left[:, 1:]) & (ys[None, :] < bottom_right[:, 1:])
        gx = np.where(in_x, np.exp(-(dx**2) / (2 * self.sigma**2)), 0.0)
        gy = np.where(in_y, np.exp(-(dy**2) / (2 * self.sigma**2)), 0.0)
        heatmaps = gy[:, :, None] * gx[:, None, :]
        drawn = (weights > 0.5) & ~outside
        heatmaps[~drawn] = 0.0
        return HeatmapTarget(heatmaps.astype(np.float32), weights)

    def merge_flip(self, heatmaps: Tensor, flipped_heatmaps: Tensor, flip_pairs: FlipPairs) -> Tensor:
        """Average (N, J, h, w) heatmaps with those of the mirrored crop."""
        back = swap_flip_pairs(flipped_heatmaps.flip(-1), flip_pairs)
        if self.shift_flipped:
            back = torch.cat([back[..., :1], back[..., :-1]], dim=-1)
        return (heatmaps + back) * 0.5

    def decode(self, heatmaps: Tensor | np.ndarray, *, heatmap_pixels: bool = False) -> DecodedKeypoints:
        """(N, J, h, w) heatmaps -> keypoints in crop pixels and the peak values as scores.

        ``heatmap_pixels`` leaves the keypoints in heatmap pixels (for
        :func:`~hpe_ros.pipelines.rgb.crops.heatmap_to_image`, the official back-mapping).
        """
        maps = _as_tensor(heatmaps).float()
        batch, joints, height, width = maps.shape
        flat = maps.reshape(batch, joints, -1)
        index = flat.argmax(dim=-1)  # first maximum, like np.argmax in the official code
        scores = flat.gather(-1, index.unsqueeze(-1)).squeeze(-1)
        x = (index % width).float()
        y = torch.div(index, width, rounding_mode="floor").float()
        if self.subpixel_refine:
            # quarter-pixel step toward the higher neighbour; the official test is strict (1 < p < size - 1)
            px, py = index % width, torch.div(index, width, rounding_mode="floor")
            inner = (px > 1) & (px < width - 1) & (py > 1) & (py < height - 1)
            pxc, pyc = px.clamp(1, width - 2), py.clamp(1, height - 2)

            def at(ix: Tensor, iy: Tensor) -> Tensor:
                return flat.gather(-1, (iy * width + ix).unsqueeze(-1)).squeeze(-1)

            step_x = torch.sign(at(pxc + 1, pyc) - at(pxc - 1, pyc)) * 0.25
            step_y = torch.sign(at(pxc, pyc + 1) - at(pxc, pyc - 1)) * 0.25
            x = x + torch.where(inner, step_x, torch.zeros_like(step_x))
            y = y + torch.where(inner, step_y, torch.zeros_like(step_y))
        coords = torch.stack([x, y], dim=-1)
        # the official get_max_preds zeroes joints whose maximum is not positive
        coords = torch.where((scores > 0).unsqueeze(-1), coords, torch.zeros_like(coords))
        if not heatmap_pixels:
            coords = coords.double() * torch.from_numpy(self.stride).to(coords.device)
        return DecodedKeypoints(coords.float().cpu().numpy(), scores.cpu().numpy().astype(np.float32))


class SimDRCodec:
    """SimDR ("simdr") and SA-SimDR ("sa-simdr") 1-D coordinate classification.

    ``input_size`` is (width, height) of the crop; ``split_ratio`` the paper's k;
    ``sigma`` (in bins) of the SA-SimDR Gaussian labels.
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (192, 256),
        split_ratio: float = 2.0,
        head_type: str = "simdr",
        sigma: float = 6.0,
        shift_flipped: bool = True,
    ) -> None:
        if head_type not in ("simdr", "sa-simdr"):
            raise ValueError(f"head_type must be 'simdr' or 'sa-simdr', got {head_type!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.split_ratio = float(split_ratio)
        self.head_type = head_type
        self.sigma = float(sigma)
        self.shift_flipped = shift_flipped
        self.num_bins = (
            int(self.input_size[0] * self.split_ratio),
            int(self.input_size[1] * self.split_ratio),
        )

    def encode(self, keypoints: np.ndarray, visible: np.ndarray | None = None) -> SimDRTarget:
        """Keypoints (J, 2) in crop pixels -> bin labels (simdr) or Gaussian labels (sa-simdr)."""
        keypoints = np.asarray(keypoints, np.float64).reshape(-1, 2)
        weights = _visibility_weights(len(keypoints), visible).copy()
        if self.head_type == "simdr":
            labels = np.around(keypoints * self.split_ratio).astype(np.int64)
            limits = np.array(self.num_bins)
            outside = ((labels < 0) | (labels >= limits)).any(axis=1)
            weights[outside] = 0.0
            return SimDRTarget(weights, labels=np.clip(labels, 0, limits - 1))
        radius = self.sigma * 3
        upper_left = np.trunc(keypoints - radius)
        bottom_right = np.trunc(keypoints + radius + 1)
        crop_w, crop_h = self.input_size
        outside = (
            (upper_left[:, 0] >= crop_w)
            | (upper_left[:, 1] >= crop_h)
            | (bottom_right[:, 0] < 0)
            | (bottom_right[:, 1] < 0)
        )
        weights[outside] = 0.0
        norm = 1.0 / (self.sigma * np.sqrt(2 * np.pi))
        mu = keypoints * self.split_ratio
        bins_x = np.arange(self.num_bins[0], dtype=np.float32)
        bins_y = np.arange(self.num_bins[1], dtype=np.float32)
        gauss_x = np.exp(-((bins_x[None] - mu[:, :1]) ** 2) / (2 * self.sigma**2)) * norm
        gauss_y = np.exp(-((bins_y[None] - mu[:, 1:]) ** 2) / (2 * self.sigma**2)) * norm
        drawn = (weights > 0.5)[:, None]
        return SimDRTarget(
            weights,
            x=np.where(drawn, gauss_x, 0.0).astype(np.float32),
            y=np.where(drawn, gauss_y, 0.0).astype(np.float32),
        )

    def _flip_back(
        self, flipped_x: Tensor, flipped_y: Tensor, flip_pairs: FlipPairs
    ) -> tuple[Tensor, Tensor]:
        back_x = swap_flip_pairs(flipped_x.flip(-1), flip_pairs)
        back_y = swap_flip_pairs(flipped_y, flip_pairs)
        if self.shift_flipped:
            back_x = torch.cat([back_x[..., 1:], back_x[..., -1:]], dim=-1)
        return back_x, back_y

    def probabilities(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Softmax over the bins of (N, J, bins) logits."""
        return softmax(x.float(), dim=-1), softmax(y.float(), dim=-1)

    def merge_flip(
        self, x: Tensor, y: Tensor, flipped_x: Tensor, flipped_y: Tensor, flip_pairs: FlipPairs
    ) -> tuple[Tensor, Tensor]:
        """Combine logits of a crop and its mirror into per-bin probabilities (N, J, bins)."""
        back_x, back_y = self._flip_back(flipped_x, flipped_y, flip_pairs)
        if self.head_type == "sa-simdr":
            return self.probabilities((x + back_x) * 0.5, (y + back_y) * 0.5)
        px, py = self.probabilities(x, y)
        fx, fy = self.probabilities(back_x, back_y)
        return (px + fx) * 0.5, (py + fy) * 0.5

    def decode(
        self, x: Tensor | np.ndarray, y: Tensor | np.ndarray, *, are_probabilities: bool = False
    ) -> DecodedKeypoints:
        """(N, J, bins) logits (or probabilities from :meth:`merge_flip`) -> keypoints and scores."""
        px, py = _as_tensor(x).float(), _as_tensor(y).float()
        if not are_probabilities:
            px, py = self.probabilities(px, py)
        score_x, bin_x = px.max(dim=-1)
        score_y, bin_y = py.max(dim=-1)
        scores = (
            torch.maximum(score_x, score_y) if self.head_type == "simdr" else torch.minimum(score_x, score_y)
        )
        # bin / k in float32, as the official ``true_divide`` of the argmax indices
        coords = torch.stack([bin_x, bin_y], dim=-1).float() / self.split_ratio
        return DecodedKeypoints(coords.float().cpu().numpy(), scores.cpu().numpy().astype(np.float32))


__all__ = [
    "COCO_FLIP_PAIRS",
    "DecodedKeypoints",
    "HeatmapCodec",
    "HeatmapTarget",
    "SimDRCodec",
    "SimDRTarget",
    "swap_flip_pairs",
]
