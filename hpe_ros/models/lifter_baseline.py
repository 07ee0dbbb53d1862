"""Context-agnostic 2D-to-3D lifter: CA-PF's transformer on coordinate tokens only.

The CA-PF paper's ablation without image context (arXiv 2311.03312, Sec. 4.3): each joint is one
token embedding its screen-normalised 2D coordinate, plus a learned per-joint position
embedding; transformer blocks mix the joints and a LayerNorm + linear head reads one 3D point per
joint. The official repository has no such model, so this is CA-PF with its context branch
(level tokens, deformable blocks and the per-joint blocks across level tokens, which act on a
single token here) removed. Used for 2D backends that provide no feature maps; its size is
configurable so that a small one can be trained on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hpe_ros.models.capf import TransformerBlock
from hpe_ros.models.registry import register_model


@dataclass(frozen=True)
class BaselineLifterConfig:
    """Sizes of the coordinate-only lifter (defaults: CA-PF's joint transformer width per token)."""

    dim: int = 128
    depth: int = 4
    num_heads: int = 8
    mlp_ratio: float = 2.0
    num_joints: int = 17
    output_scale: float = 1.0  # multiplies the head's output to give metres
    root_index: int = 0


class CoordinateLifter(nn.Module):
    """(B, J, 2) screen-normalised 2D joints -> (B, J, 3) root-relative 3D joints in metres."""

    def __init__(self, config: BaselineLifterConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BaselineLifterConfig()
        if config.dim % config.num_heads:
            raise ValueError(f"dim {config.dim} is not divisible by num_heads {config.num_heads}")
        self.coord_embed = nn.Linear(2, config.dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_joints, config.dim))
        self.joint_blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, config.mlp_ratio) for _ in range(config.depth)
        )
        self.head_norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, 3)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(
        self,
        keypoints_2d: torch.Tensor,
        features: Sequence[torch.Tensor] | None = None,
        keypoints_crop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``features`` and ``keypoints_crop`` are accepted for a common lifter call and ignored."""
        x = self.coord_embed(keypoints_2d) + self.pos_embed
        for block in self.joint_blocks:
            x = block(x)
        out = self.head(self.head_norm(x))
        if self.config.output_scale != 1.0:
            out = out * self.config.output_scale
        return out


@register_model("capf_baseline")
def capf_baseline(**overrides: object) -> CoordinateLifter:
    """Coordinate-only lifter; ``dim``, ``depth``, ``num_heads``, ... override the defaults."""
    return CoordinateLifter(BaselineLifterConfig(**overrides))  # type: ignore[arg-type]
