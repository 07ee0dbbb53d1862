"""A light 2D-to-3D lifter: residual MLP in the style of Martinez et al. 2017.

"A simple yet effective baseline for 3d human pose estimation" (ICCV 2017): one linear layer up to
a hidden width, residual blocks of two (linear, batch norm, ReLU, dropout) layers, a linear layer
out. Here the input is J joints x C features (normalised x, y and a confidence score by default)
and the output is J x 3 coordinates; any centring is done by the caller.
"""

from __future__ import annotations

import torch
from torch import nn

from hpe_ros.models.registry import register_model


class _DenseBlock(nn.Sequential):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout)
        )


class ResidualBlock(nn.Module):
    """x + two dense layers of x."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(_DenseBlock(width, dropout), _DenseBlock(width, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class SimpleLifter(nn.Module):
    """(B, J, C) 2D features -> (B, J, 3) 3D joints."""

    def __init__(
        self,
        num_joints: int = 17,
        in_features: int = 3,
        hidden: int = 512,
        num_blocks: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.in_features = in_features
        self.input = nn.Sequential(
            nn.Linear(num_joints * in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(hidden, dropout) for _ in range(num_blocks)))
        self.output = nn.Linear(hidden, num_joints * 3)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        if keypoints.shape[-2:] != (self.num_joints, self.in_features):
            raise ValueError(
                f"expected (B, {self.num_joints}, {self.in_features}) inputs, got {tuple(keypoints.shape)}"
            )
        features = self.blocks(self.input(keypoints.flatten(1)))
        return self.output(features).view(-1, self.num_joints, 3)


@register_model("simple_lifter")
def simple_lifter(**kwargs: object) -> SimpleLifter:
    return SimpleLifter(**kwargs)  # type: ignore[arg-type]
