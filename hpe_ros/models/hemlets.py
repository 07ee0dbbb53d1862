"""HEMlets Pose: part-centric heatmap triplets and volumetric soft-argmax (arXiv 2003.04894).

Zhou et al., ICCV 2019 / TPAMI 2021. A ResNet-50 encodes a 256x256 crop (stride 32); two
deconvolution branches (3 x [4x4 transposed conv stride 2, BN, ReLU], then a 3x3 conv) bring it to
64x64: one gives 1024 high-level feature channels, the other the HEMlets maps, 14 body parts x 3
polarity heatmaps (the part's child joint nearer, level with, or farther from the camera than its
parent) plus 18 2D joint heatmaps. The HEMlets maps are re-encoded to 256 channels,
concatenated after the features, and two 1x1 convolutions give an 18 x 64 x 64 x 64 volume per
joint (channels ordered joint-major, depth-minor). A softmax over each joint's volume and the
expectation of each axis (soft-argmax) give the joint's (x, y, z).

Input: RGB crops, (pixel - mean) / std with mean (123.675, 116.28, 103.53) and std
(58.395, 57.12, 57.375). Output (B, 18, 3) in [-0.5, 0.5]: ``(x + 0.5) * 256`` and
``(y + 0.5) * 256`` are crop pixels; ``z * 2`` is depth in metres relative to the pelvis (the
official evaluation multiplies by 2000 mm). Joints: the 17 Human3.6M joints (pelvis first) and
the thorax (mean of the shoulders) last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from hpe_ros.models.registry import register_model
from hpe_ros.models.resnet import resnet50

IMAGE_MEAN = (123.675, 116.28, 103.53)
IMAGE_STD = (58.395, 57.12, 57.375)
INPUT_SIZE = 256


@dataclass(frozen=True)
class HemletsConfig:
    """Sizes of the official model."""

    num_joints: int = 18
    num_parts: int = 14
    depth_bins: int = 64  # volume resolution along each axis
    backbone_channels: int = 2048
    branch_channels: int = 256
    feature_channels: int = 1024
    hemlet_code_channels: int = 256
    volume_hidden: int = 1024

    @property
    def hemlet_channels(self) -> int:
        return 3 * self.num_parts + self.num_joints


@dataclass(frozen=True)
class HemletsOutput:
    """Joints and the intermediate maps."""

    joints: torch.Tensor  # (B, J, 3) normalised to [-0.5, 0.5]
    hemlets: torch.Tensor  # (B, 3 * parts + J, 64, 64): part triplets then 2D joint heatmaps
    volume: torch.Tensor  # (B, J * D, 64, 64) logits


class DeconvBranch(nn.Module):
    """Three stride-2 transposed convolutions (x8 resolution), then a 3x3 output convolution."""

    def __init__(self, in_channels: int, channels: int, out_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(3):
            layers += [
                nn.ConvTranspose2d(
                    in_channels if index == 0 else channels, channels, 4, stride=2, padding=1, bias=False
                ),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
        self.deconv = nn.Sequential(*layers)
        self.out = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.deconv(x))


def soft_argmax_3d(volume: torch.Tensor, num_joints: int) -> torch.Tensor:
    """(B, J * D, H, W) logits -> (B, J, 3) expected (x, y, z), each axis mapped to [-0.5, 0.5].

    Each joint's D x H x W logits share one softmax; a voxel's coordinates are its indices
    divided by (size - 1).
    """
    batch, _, height, width = volume.shape
    probs = F.softmax(volume.reshape(batch, num_joints, -1), dim=-1)
    probs = probs.view(batch, num_joints, -1, height, width)
    depth = probs.shape[2]

    def expectation(marginal: torch.Tensor, size: int) -> torch.Tensor:
        bins = torch.linspace(0.0, 1.0, size, dtype=marginal.dtype, device=marginal.device)
        return marginal @ bins

    x = expectation(probs.sum(dim=(2, 3)), width)
    y = expectation(probs.sum(dim=(2, 4)), height)
    z = expectation(probs.sum(dim=(3, 4)), depth)
    return torch.stack([x, y, z], dim=-1) - 0.5


class Hemlets(nn.Module):
    """HEMlets pose network: (B, 3, 256, 256) normalised RGB crops -> (B, 18, 3)."""

    def __init__(self, config: HemletsConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or HemletsConfig()
        self.backbone = resnet50(num_classes=None)
        self.feature_branch = DeconvBranch(
            config.backbone_channels, config.branch_channels, config.feature_channels
        )
        self.hemlet_branch = DeconvBranch(
            config.backbone_channels, config.branch_channels, config.hemlet_channels
        )
        self.hemlet_encoder = nn.Sequential(
            nn.Conv2d(config.hemlet_channels, config.hemlet_code_channels, 3, padding=1),
            nn.BatchNorm2d(config.hemlet_code_channels),
            nn.ReLU(inplace=True),
        )
        self.volume_head = nn.Sequential(
            nn.Conv2d(config.feature_channels + config.hemlet_code_channels, config.volume_hidden, 1),
            nn.BatchNorm2d(config.volume_hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.volume_hidden, config.num_joints * config.depth_bins, 1),
        )

    def forward_with_maps(self, image: torch.Tensor) -> HemletsOutput:
        encoded = self.backbone(image)
        features = self.feature_branch(encoded)
        hemlets = self.hemlet_branch(encoded)
        volume = self.volume_head(torch.cat([features, self.hemlet_encoder(hemlets)], dim=1))
        return HemletsOutput(soft_argmax_3d(volume, self.config.num_joints), hemlets, volume)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.forward_with_maps(image).joints


@register_model("hemlets_resnet50")
def hemlets_resnet50(**overrides: object) -> Hemlets:
    """The official HEMlets network (ResNet-50, 18 joints, 64^3 volumes)."""
    return Hemlets(HemletsConfig(**overrides))  # type: ignore[arg-type]
