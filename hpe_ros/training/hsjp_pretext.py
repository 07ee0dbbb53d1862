"""HSJP self-supervised pretraining: jigsaw shuffling, heatmap labels, decoding and a training loop.

Paper: Zhang et al., "Learning Heatmap-Style Jigsaw Puzzles Provides Good Pretraining for 2D Human
Pose Estimation" (arXiv 2012.07101). There is no official code; this follows the paper's
description: person crops are cut into a ``rows x cols`` grid, the patches are shuffled, and the
label has one heatmap per *original* patch with a Gaussian at the centre of the cell where that
patch lies in the shuffled image (the same encoding as keypoint heatmaps). The network is trained
with the pose MSE loss and its backbone is kept for pose training.

Conventions: ``permutation[b, slot] = patch`` means cell ``slot`` (row-major) of the shuffled image
shows the patch from original cell ``patch``.

Choices not fixed by the text available to us (documented defaults, all parameters): grid 4 x 4
(integer 64 x 48 patches on the 256 x 192 top-down crop), Gaussian sigma 2 heatmap pixels on the
stride-4 output (the pose setting), Adam with lr 1e-3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.nn import functional

from hpe_ros.models.hsjp import HSJPNet, backbone_features, hsjp_loss

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PILLOW_SUFFIXES = (".jpg", ".jpeg", ".png")


class PillowMissingError(ImportError):
    """jpg/png crops need Pillow, which is not installed in this environment."""


def _check_grid(height: int, width: int, grid: tuple[int, int], what: str) -> None:
    if height % grid[0] or width % grid[1]:
        raise ValueError(f"{what} size {height}x{width} is not divisible by the {grid[0]}x{grid[1]} grid")


def random_permutations(
    batch: int, num_patches: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(batch, num_patches) independent uniform permutations."""
    return torch.argsort(torch.rand(batch, num_patches, generator=generator), dim=1)


def inverse_permutations(permutations: torch.Tensor) -> torch.Tensor:
    """``inverse[b, patch] = slot`` for ``permutations[b, slot] = patch``."""
    return torch.argsort(permutations, dim=1)


def shuffle_patches(images: torch.Tensor, permutations: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Rearrange the ``grid`` patches of (B, C, H, W) images: slot ``s`` gets patch ``permutations[:, s]``."""
    batch, channels, height, width = images.shape
    rows, cols = grid
    _check_grid(height, width, grid, "image")
    ph, pw = height // rows, width // cols
    patches = images.reshape(batch, channels, rows, ph, cols, pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(batch, rows * cols, channels, ph, pw)
    index = permutations.to(images.device)[:, :, None, None, None].expand(-1, -1, channels, ph, pw)
    moved = torch.gather(patches, 1, index)
    moved = moved.reshape(batch, rows, cols, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)
    return moved.reshape(batch, channels, height, width)


def unshuffle_patches(
    images: torch.Tensor, permutations: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Undo :func:`shuffle_patches`."""
    return shuffle_patches(images, inverse_permutations(permutations), grid)


def patch_heatmaps(
    permutations: torch.Tensor, grid: tuple[int, int], heatmap_size: tuple[int, int], sigma: float = 2.0
) -> torch.Tensor:
    """HSJP labels (B, rows * cols, h, w): channel ``p`` peaks at the centre of the cell that shows
    patch ``p``."""
    rows, cols = grid
    height, width = heatmap_size
    slots = inverse_permutations(permutations).float()  # (B, N) where each patch lies now
    row = torch.div(slots, cols, rounding_mode="floor")
    col = slots - row * cols
    centre_y = (row + 0.5) * height / rows - 0.5
    centre_x = (col + 0.5) * width / cols - 0.5
    ys = torch.arange(height, dtype=torch.float32).view(1, 1, height, 1)
    xs = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width)
    squared = (ys - centre_y[..., None, None]) ** 2 + (xs - centre_x[..., None, None]) ** 2
    return torch.exp(-squared / (2 * sigma**2))


def decode_permutations(heatmaps: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Recover ``permutations`` from (B, N, h, w) patch heatmaps.

    Each patch's score for a cell is its heatmap's maximum inside that cell; the Hungarian
    assignment then gives every patch a different cell.
    """
    batch, num_patches, height, width = heatmaps.shape
    rows, cols = grid
    _check_grid(height, width, grid, "heatmap")
    cells = heatmaps.detach().float().reshape(batch, num_patches, rows, height // rows, cols, width // cols)
    score = cells.amax(dim=(3, 5)).reshape(batch, num_patches, rows * cols).cpu().numpy()
    permutations = np.empty((batch, num_patches), dtype=np.int64)
    for b in range(batch):
        patch, slot = linear_sum_assignment(score[b], maximize=True)
        permutations[b, slot] = patch
    return torch.from_numpy(permutations)


@dataclass
class JigsawBatch:
    """A batch of shuffled crops with their labels."""

    images: torch.Tensor  # (B, 3, H, W) shuffled, normalised
    permutations: torch.Tensor  # (B, N)
    heatmaps: torch.Tensor  # (B, N, h, w)


def make_jigsaw_batch(
    crops: torch.Tensor,
    grid: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float = 2.0,
    generator: torch.Generator | None = None,
    flip: bool = True,
) -> JigsawBatch:
    """Shuffle each crop with its own random permutation (and a random horizontal flip first)."""
    if flip:
        mirror = torch.rand(len(crops), generator=generator) < 0.5
        crops = torch.where(mirror[:, None, None, None], torch.flip(crops, [3]), crops)
    permutations = random_permutations(len(crops), grid[0] * grid[1], generator)
    labels = patch_heatmaps(permutations, grid, heatmap_size, sigma)
    return JigsawBatch(shuffle_patches(crops, permutations, grid), permutations, labels)


def _read_image(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
    else:
        try:
            from PIL import Image
        except ImportError:
            raise PillowMissingError(
                f"cannot read {path.name}: reading jpg/png crops needs Pillow, which is not installed "
                "(pip install pillow), or save the crops as (H, W, 3) uint8 .npy files"
            ) from None
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{path.name}: expected an (H, W, 3) image, got shape {array.shape}")
    return array


def load_person_crops(folder: str | os.PathLike[str], size: tuple[int, int]) -> torch.Tensor:
    """All jpg/png (Pillow) and .npy (H, W, 3 uint8 RGB) crops of ``folder``, resized to
    ``size`` (h, w) and ImageNet-normalised: (N, 3, h, w)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"crop folder not found: {root}")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (*_PILLOW_SUFFIXES, ".npy"))
    if not files:
        raise ValueError(f"no .jpg/.jpeg/.png/.npy crops in {root}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    crops = []
    for path in files:
        pixels = (
            torch.from_numpy(np.ascontiguousarray(_read_image(path))).permute(2, 0, 1).float()[None] / 255.0
        )
        resized = functional.interpolate(
            pixels, size=size, mode="bilinear", align_corners=False, antialias=True
        )[0]
        crops.append((resized - mean) / std)
    return torch.stack(crops)


@dataclass
class HSJPPretrainResult:
    """The trained pretext network (its ``backbone`` is what pose training reuses) and its history."""

    model: HSJPNet
    losses: list[float] = field(default_factory=list)
    patch_accuracy: float = 0.0  # fraction of patches placed right on the last batch


def probe_backbone(
    backbone: nn.Module, crop_size: tuple[int, int], feature_method: str | None = None
) -> tuple[int, tuple[int, int]]:
    """Feature channels and (h, w) of the backbone's output for one crop."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        device = next(backbone.parameters()).device
        features = backbone_features(backbone, torch.zeros(1, 3, *crop_size, device=device), feature_method)
    backbone.train(was_training)
    return features.shape[1], (features.shape[2], features.shape[3])


def train_hsjp(
    model: HSJPNet,
    crops: torch.Tensor,
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 1e-3,
    sigma: float = 2.0,
    seed: int = 0,
    flip: bool = True,
) -> HSJPPretrainResult:
    """Run ``steps`` Adam steps of the jigsaw pretext task on normalised (N, 3, H, W) crops."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    _, heatmap_size = probe_backbone(model.backbone, (crops.shape[2], crops.shape[3]), model.feature_method)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses: list[float] = []
    accuracy = 0.0
    for _ in range(steps):
        pick = torch.randint(len(crops), (min(batch_size, len(crops)),), generator=generator)
        batch = make_jigsaw_batch(crops[pick], model.grid, heatmap_size, sigma, generator, flip)
        prediction = model(batch.images.to(device))
        loss = hsjp_loss(prediction, batch.heatmaps.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        accuracy = float((decode_permutations(prediction, model.grid) == batch.permutations).float().mean())
    return HSJPPretrainResult(model, losses, accuracy)


def pretrain_hsjp(
    backbone: nn.Module,
    image_folder: str | os.PathLike[str],
    steps: int,
    *,
    grid: tuple[int, int] = (4, 4),
    crop_size: tuple[int, int] = (256, 192),
    batch_size: int = 16,
    lr: float = 1e-3,
    sigma: float = 2.0,
    feature_method: str | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> HSJPPretrainResult:
    """Pretrain ``backbone`` with HSJP on the person crops in ``image_folder``.

    ``backbone`` maps (B, 3, H, W) images to a feature map (or a list, highest resolution
    first); ``feature_method`` names another method to call instead of ``forward``. The output
    grid must be divisible by ``grid`` (e.g. 64 x 48 for 256 x 192 crops at stride 4).
    """
    _check_grid(*crop_size, grid, "crop")
    backbone = backbone.to(device)
    channels, feature_size = probe_backbone(backbone, crop_size, feature_method)
    _check_grid(*feature_size, grid, "backbone output")
    crops = load_person_crops(image_folder, crop_size)
    model = HSJPNet(backbone, channels, grid, feature_method).to(device)
    return train_hsjp(model, crops, steps, batch_size=batch_size, lr=lr, sigma=sigma, seed=seed)
