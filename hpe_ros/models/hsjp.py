"""HSJP pretext network: heatmap-style jigsaw puzzles on top of a pose backbone.

Paper: Zhang et al., "Learning Heatmap-Style Jigsaw Puzzles Provides Good Pretraining for 2D Human
Pose Estimation" (arXiv 2012.07101, ACM MM 2021). A person crop is cut into a grid of patches
which are shuffled; the network predicts, like keypoint heatmaps, one heatmap per patch of the
*original* grid with a Gaussian peak where that patch now lies in the shuffled image. The loss
is the mean squared error used for pose heatmaps, so the backbone and a 1x1 head are trained
exactly as a pose network would be, and the backbone is then reused for pose estimation.

No official code was published; this module builds what the paper's text describes (the
label/shuffling codec lives in :mod:`hpe_ros.training.hsjp_pretext`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class HSJPHead(nn.Module):
    """1x1 convolution from backbone features to one heatmap per patch (like a pose final layer)."""

    def __init__(self, in_channels: int, num_patches: int):
        super().__init__()
        self.final_layer = nn.Conv2d(in_channels, num_patches, 1)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        assert self.final_layer.bias is not None  # Conv2d has a bias by default
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(features)


def backbone_features(
    backbone: nn.Module, images: torch.Tensor, feature_method: str | None = None
) -> torch.Tensor:
    """The backbone's highest-resolution feature map; backbones may return a map or a list of
    maps (highest resolution first), from ``forward`` or from the method ``feature_method``."""
    extract = getattr(backbone, feature_method) if feature_method else backbone
    features: torch.Tensor | Sequence[torch.Tensor] = extract(images)
    return features if isinstance(features, torch.Tensor) else features[0]


class HSJPNet(nn.Module):
    """Backbone + :class:`HSJPHead`; ``forward`` returns (B, rows * cols, h, w) patch heatmaps.

    ``feature_method`` names the backbone method that returns its features (for networks whose
    ``forward`` returns task outputs, e.g. ``"backbone_features"`` of HigherHRNet); by default the
    backbone's ``forward`` is used.
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_channels: int,
        grid: tuple[int, int],
        feature_method: str | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.grid = (int(grid[0]), int(grid[1]))
        self.feature_method = feature_method
        self.head = HSJPHead(feature_channels, self.grid[0] * self.grid[1])

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return backbone_features(self.backbone, images, self.feature_method)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def hsjp_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and label heatmaps (the pose-heatmap loss)."""
    if predicted.shape != target.shape:
        raise ValueError(f"prediction {tuple(predicted.shape)} and target {tuple(target.shape)} differ")
    return ((predicted - target) ** 2).mean()
