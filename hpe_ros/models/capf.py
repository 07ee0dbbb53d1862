"""Context-Aware PoseFormer (CA-PF), a single-frame 2D-to-3D lifter that also reads image features.

Zhao et al., "A Single 2D Pose with Context is Worth Hundreds for 3D Human Pose Estimation"
(NeurIPS 2023, arXiv 2311.03312). Every joint becomes ``1 + levels`` tokens: one embeds its 2D
coordinate, the others embed the backbone's feature map of each level sampled at the joint.
Deformable context blocks refine the level tokens by sampling each level around the joint at
learned offsets; transformer blocks then mix the tokens of one joint across levels and finally
all joints, and a linear head reads one 3D point per joint.

Inputs, as the official pipeline prepares them:

* ``keypoints_2d`` (B, J, 2): 2D joints in full-image pixels, screen-normalised with
  :func:`normalize_screen_coordinates` (``x / w * 2 - [1, h / w]``).
* ``features``: the backbone's multi-scale maps, highest resolution first (HRNet: 4 maps of
  ``c, 2c, 4c, 8c`` channels at 1/4 .. 1/32 of the 256x192 crop; CPN: 4 maps of 256 channels
  all at 1/4).
* ``keypoints_crop`` (B, J, 2): the same joints in pixels of the 192x256 (w x h) backbone crop;
  the model maps them to grid coordinates with :func:`crop_pixels_to_grid`.

Output (B, J, 3): Human3.6M configurations predict camera-frame coordinates relative to the pelvis
(joint 0) in metres; the network does not force the pelvis to zero. The MPI-INF-3DHP variant was
trained in millimetres with the pelvis at joint 14; its output is scaled by ``output_scale`` to
metres here.

Two execution paths give the same numbers (up to float rounding). The reference path
(``use_fast_path = False``) is the paper's literal form: ``grid_sample`` on each level, then the
per-sample embedding. The fast path (the default) embeds every level once for all context blocks,
gathers the four bilinear corners of all samples from the embedded maps with the softmax weights
folded in, gathers the initial tokens' zero-padded samples the same way, and splits q, k and v
with one transpose. At batch 1 it takes far fewer operations; above
:data:`EMBEDDED_SAMPLING_MAX_BATCH` people, embedding whole maps costs more arithmetic than it
saves, and the fast path samples the context the paper's way. Every size but the batch is a
Python int (:func:`static_size`), so a graph exported from either path computes no shapes at run
time. Exported to ONNX Runtime, the fast path is the quickest way to run the lifter on a CPU
(``benchmarks/bench_lifter.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from hpe_ros.models.registry import register_model

# Channels of the backbone's output levels, highest resolution first.
LEVEL_CHANNELS: dict[str, tuple[int, ...]] = {
    "hrnet_32": (32, 64, 128, 256),
    "hrnet_48": (48, 96, 192, 384),
    "cpn": (256, 256, 256, 256),
}
# The backbone crop (width, height) the crop keypoints refer to.
CROP_SIZE: tuple[int, int] = (192, 256)
# Largest batch for which the fast path samples pre-embedded maps (see the module docstring).
EMBEDDED_SAMPLING_MAX_BATCH = 8


@dataclass(frozen=True)
class CapfConfig:
    """Sizes of a CA-PF lifter (defaults: the Human3.6M HRNet-32 model)."""

    level_channels: tuple[int, ...] = LEVEL_CHANNELS["hrnet_32"]
    token_dim: int = 128  # the paper's ``embed_dim_ratio``: width of one joint/level token
    depth: int = 4  # blocks of each kind
    num_heads: int = 8
    mlp_ratio: float = 2.0
    context_blocks: bool = True  # deformable context blocks (absent in the MPI-INF-3DHP model)
    context_heads: int = 4
    context_samples: int = 4
    num_joints: int = 17
    crop_size: tuple[int, int] = CROP_SIZE
    output_scale: float = 1.0  # multiplies the head's output to give metres
    root_index: int = 0  # the joint the 3D output is relative to

    @property
    def levels(self) -> int:
        return len(self.level_channels)

    @property
    def joint_dim(self) -> int:
        return self.token_dim * (self.levels + 1)


def capf_config(backbone: str = "hrnet_32", **overrides: object) -> CapfConfig:
    """The official Human3.6M configuration for ``backbone`` (``hrnet_32``, ``hrnet_48``, ``cpn``)."""
    if backbone not in LEVEL_CHANNELS:
        raise ValueError(f"unknown CA-PF backbone {backbone!r}; known: {sorted(LEVEL_CHANNELS)}")
    config = CapfConfig(level_channels=LEVEL_CHANNELS[backbone])
    return replace(config, **overrides)  # type: ignore[arg-type]


def capf_mpi_config(backbone: str = "hrnet_48", **overrides: object) -> CapfConfig:
    """The official MPI-INF-3DHP configuration: no context blocks, millimetre output, root 14."""
    token_dims = {"hrnet_48": 96, "hrnet_32": 64}
    if backbone not in token_dims:
        raise ValueError(f"unknown CA-PF MPI backbone {backbone!r}; known: {sorted(token_dims)}")
    config = CapfConfig(
        level_channels=LEVEL_CHANNELS[backbone],
        token_dim=token_dims[backbone],
        context_blocks=False,
        output_scale=1e-3,
        root_index=14,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Coordinate conventions


def normalize_screen_coordinates(points: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """Map pixels so that ``[0, width]`` becomes ``[-1, 1]``, keeping the aspect ratio."""
    offset = points.new_tensor([1.0, height / width])
    return points / width * 2.0 - offset


def static_size(x: torch.Tensor, dim: int) -> int:
    """A size that does not vary with the batch, as a plain int.

    An exported graph then holds it as a constant instead of computing it from the input's shape
    at every call; the batch is always left to ``-1``.
    """
    return int(x.shape[dim])


def crop_pixels_to_grid(keypoints_crop: torch.Tensor, crop_size: tuple[int, int] = CROP_SIZE) -> torch.Tensor:
    """Crop pixels -> ``grid_sample`` coordinates the way the official model does.

    The official code divides by half the crop size (integer halves) and subtracts one; with
    ``align_corners=True`` this places the crop's last pixel slightly inside ``+1``.
    """
    half = keypoints_crop.new_tensor([crop_size[0] // 2, crop_size[1] // 2])
    return keypoints_crop / half - 1.0


def sample_bilinear(
    feature: torch.Tensor, grid: torch.Tensor, padding_mode: str = "border"
) -> torch.Tensor:
    """Bilinear samples of ``feature`` (B, C, H, W) at ``grid`` (B, N, M, 2) in [-1, 1] -> (B, N, M, C).

    ``align_corners=True``: -1 and +1 are the centres of the first and last pixels.
    """
    sampled = F.grid_sample(feature, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
    return sampled.permute(0, 2, 3, 1)


# ----------------------------------------------------------------------------------------------
# Pre-embedded levels and gathered bilinear taps (the fast path)


# The four bilinear corners in (x, y) pixel steps. Their weights (1 - fx)(1 - fy), fx (1 - fy),
# (1 - fx) fy and fx fy are linear in (fx, fy, fx fy): weights = [fx, fy, fx fy] @ A + b.
_CORNER_STEPS = ((0, 0), (1, 0), (0, 1), (1, 1))
_CORNER_WEIGHT_MATRIX = ((-1.0, 1.0, 0.0, 0.0), (-1.0, 0.0, 1.0, 0.0), (1.0, -1.0, -1.0, 1.0))
_CORNER_WEIGHT_OFFSET = (1.0, 0.0, 0.0, 0.0)


def _nan_to_zero(x: torch.Tensor) -> torch.Tensor:
    """NaN -> 0, so that a broken input gives garbage numbers instead of an out-of-range gather."""
    return torch.where(torch.isnan(x), torch.zeros((), dtype=x.dtype, device=x.device), x)


def _corner_weights(frac: torch.Tensor) -> torch.Tensor:
    """Bilinear weights (..., 4) of the corners in :data:`_CORNER_STEPS` order, from ``frac`` (..., 2)."""
    terms = torch.cat([frac, frac.prod(-1, keepdim=True)], dim=-1)
    return terms @ frac.new_tensor(_CORNER_WEIGHT_MATRIX) + frac.new_tensor(_CORNER_WEIGHT_OFFSET)


@dataclass(frozen=True)
class EmbeddedLevels:
    """Every level of a batch projected by every context block's embedding, ready to gather.

    Sampling and the (linear) embedding commute, and with border padding the bilinear weights and
    the softmax weights each sum to one, so embedding the maps once and sampling the embedded maps
    gives the paper's ``embed(sample(level))`` exactly (up to float rounding). Row
    ``(pixel_row * blocks + block)`` of ``rows`` holds one block's ``head_dim`` values of one pixel;
    pixel rows run over the batch, then the levels, then y and x. Geometry tensors are shaped to
    broadcast against points (B, L, N, 2); row steps are already multiplied by ``blocks``.
    """

    rows: torch.Tensor  # (B * pixels * blocks, head_dim)
    half_extent: torch.Tensor  # (1, L, 1, 2): grid units -> pixels
    extent: torch.Tensor  # (1, L, 1, 2): (width - 1, height - 1)
    last_cell: torch.Tensor  # (1, L, 1, 2): the highest top-left corner, (width - 2, height - 2)
    row_steps: torch.Tensor  # (1, L, 1, 2) int64: rows per pixel step in x and in y
    # (B, L, 1, 4) int64: block 0's rows of each image's level origin's four corners
    corner_rows: torch.Tensor


def embed_levels(
    features: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], blocks: int
) -> EmbeddedLevels:
    """Project every level (B, C_l, H_l, W_l) by ``weights[l]`` (blocks * head_dim, C_l), without bias."""
    reference = features[0]
    batch = reference.shape[0]
    sizes = [(static_size(feature, 3), static_size(feature, 2)) for feature in features]
    projected = [
        F.linear(feature.reshape(-1, static_size(feature, 1), w * h).transpose(1, 2), weight)
        for feature, weight, (w, h) in zip(features, weights, sizes, strict=True)
    ]
    table = torch.cat(projected, dim=1)  # (B, pixels, blocks * head_dim)
    pixels = sum(w * h for w, h in sizes)
    extent = reference.new_tensor([[w - 1.0, h - 1.0] for w, h in sizes]).view(1, -1, 1, 2)
    origins, offset = [], 0
    for width, height in sizes:
        if width < 2 or height < 2:
            raise ValueError(
                f"context sampling needs feature maps of at least 2x2 pixels, got {width}x{height}"
            )
        origins.append([offset + dx + dy * width for dx, dy in _CORNER_STEPS])
        offset += width * height
    device = reference.device
    image_starts = torch.arange(batch, device=device).view(-1, 1, 1, 1) * pixels
    corner_pixels = torch.tensor(origins, device=device).view(1, -1, 1, 4) + image_starts
    return EmbeddedLevels(
        rows=table.reshape(-1, static_size(table, 2) // blocks),
        half_extent=extent * 0.5,
        extent=extent,
        last_cell=extent - 1.0,
        row_steps=torch.tensor([[blocks, w * blocks] for w, _ in sizes], device=device).view(1, -1, 1, 2),
        corner_rows=corner_pixels * blocks,
    )


def border_taps(points: torch.Tensor, levels: EmbeddedLevels) -> tuple[torch.Tensor, torch.Tensor]:
    """Block 0's rows (B, L, N, 4) and weights (B, L, N, 4) of ``grid_sample(align_corners=True, border)``.

    ``points`` (B, L, N, 2) are grid coordinates in [-1, 1] (outside is clamped to the border; NaN
    is read as 0). Block ``k``'s rows are these plus ``k``. The top-left corner is kept one pixel
    inside the last row and column, so all four corners are real pixels; on the border itself the
    far corner then takes the whole weight.
    """
    pixel = torch.minimum(((_nan_to_zero(points) + 1.0) * levels.half_extent).clamp(min=0.0), levels.extent)
    low = torch.minimum(pixel.floor(), levels.last_cell)
    rows = (low.long() * levels.row_steps).sum(-1, keepdim=True) + levels.corner_rows
    return rows, _corner_weights(pixel - low)


def sample_zero_padded(features: Sequence[torch.Tensor], grid: torch.Tensor) -> list[torch.Tensor]:
    """``grid_sample(align_corners=True, zeros)`` of every level at one point per joint -> [(B, J, C_l)].

    ``grid`` (B, J, 2) holds the same grid coordinates for every level. The same numbers as
    :func:`sample_bilinear` with zero padding, in gathers that an exported graph runs cheaply.
    """
    sizes = [(static_size(feature, 3), static_size(feature, 2)) for feature in features]
    joints = static_size(grid, 1)
    extent = grid.new_tensor([[w - 1.0, h - 1.0] for w, h in sizes]).view(1, -1, 1, 2)
    pixel = (_nan_to_zero(grid).unsqueeze(1) + 1.0) * (extent * 0.5)  # (B, L, J, 2)
    low = pixel.floor()
    corners = low.unsqueeze(-2) + grid.new_tensor(_CORNER_STEPS)  # (B, L, J, 4, 2)
    inside = ((corners >= 0.0) & (corners <= extent.unsqueeze(-2))).to(grid.dtype).prod(-1)
    weights = _corner_weights(pixel - low) * inside
    row_steps = grid.new_tensor([[1.0, w] for w, _ in sizes]).view(1, -1, 1, 1, 2)
    # (B, L, J, 4)
    index = (torch.minimum(corners.clamp(min=0.0), extent.unsqueeze(-2)) * row_steps).sum(-1).long()
    sampled = []
    for level, (feature, (width, height)) in enumerate(zip(features, sizes, strict=True)):
        channels = static_size(feature, 1)
        flat = feature.reshape(-1, channels, width * height)
        taps = flat.gather(2, index[:, level].reshape(-1, 1, joints * 4).expand(-1, channels, -1))
        values = (taps.view(-1, channels, joints, 4) * weights[:, level].unsqueeze(1)).sum(-1)
        sampled.append(values.transpose(1, 2))
    return sampled


# ----------------------------------------------------------------------------------------------
# Blocks


class Mlp(nn.Module):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with one merged qkv projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, fused: bool = True) -> torch.Tensor:
        tokens, dim = static_size(x, 1), static_size(x, 2)
        # (B, T, 3 * heads, head_dim) -> (B, 3 * heads, T, head_dim): one transpose for q, k and v
        qkv = self.qkv(x).view(-1, tokens, 3 * self.num_heads, dim // self.num_heads).transpose(1, 2)
        q, k, v = qkv.split(self.num_heads, dim=1)
        if fused:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        else:
            out = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(-1, tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6 as in the official model)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, fused: bool = True) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), fused)
        return x + self.mlp(self.norm2(x))


class DeformableContextBlock(nn.Module):
    """Refine each level token with features sampled around its joint on its own level.

    Per level token: ``heads x samples`` offsets (tanh, in grid units) around the joint, softmax
    weights over the samples of a head, each level sampled with border padding and projected to
    ``token_dim / heads`` channels, summed per head and concatenated over heads. The coordinate
    token (index 0) is added to the level tokens before the norm but is not updated.
    """

    def __init__(
        self,
        level_channels: Sequence[int],
        dim: int,
        num_heads: int,
        num_samples: int,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_samples = num_samples
        self.head_dim = dim // num_heads
        self.norm1 = nn.LayerNorm(dim)  # eps 1e-5 here, unlike the transformer blocks
        self.attention_weights = nn.Linear(dim, num_heads * num_samples)
        self.sampling_offsets = nn.Linear(dim, 2 * num_heads * num_samples)
        self.embed_proj = nn.ModuleList(nn.Linear(channels, self.head_dim) for channels in level_channels)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's start: zero weights, offsets on a circle of rings, uniform attention."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        directions = torch.stack([angles.cos(), angles.sin()], -1)
        directions = directions / directions.abs().max(-1, keepdim=True).values
        rings = torch.arange(1, self.num_samples + 1, dtype=torch.float32).view(1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_((0.01 * directions[:, None, :] * rings).reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)

    def _weights_and_points(
        self, x: torch.Tensor, ref: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        joint_token, level_tokens = x[:, :1], x[:, 1:]
        levels, joints = static_size(level_tokens, 1), static_size(level_tokens, 2)
        h = self.norm1(level_tokens + joint_token)
        weights = (
            self.attention_weights(h).view(-1, levels, joints, self.num_heads, self.num_samples).softmax(-1)
        )
        offsets = (
            self.sampling_offsets(h).view(-1, levels, joints, self.num_heads * self.num_samples, 2).tanh()
        )
        points = offsets + ref.view(-1, 1, joints, 1, 2)
        return weights, points, level_tokens

    def _finish(self, x: torch.Tensor, level_tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        level_tokens = level_tokens + context
        level_tokens = level_tokens + self.mlp(self.norm2(level_tokens))
        return torch.cat([x[:, :1], level_tokens], dim=1)

    def forward(self, x: torch.Tensor, ref: torch.Tensor, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Reference path: ``x`` (B, 1 + L, J, D), ``ref`` (B, J, 2) grid coordinates."""
        weights, points, level_tokens = self._weights_and_points(x, ref)
        levels, joints = static_size(level_tokens, 1), static_size(level_tokens, 2)
        sampled = torch.stack(
            [
                embed(sample_bilinear(feature, points[:, idx]))
                for idx, (feature, embed) in enumerate(zip(features, self.embed_proj, strict=True))
            ],
            dim=1,
        )  # (B, L, J, heads * samples, head_dim)
        sampled = sampled.view(-1, levels, joints, self.num_heads, self.num_samples, self.head_dim)
        context = (weights.unsqueeze(-1) * sampled).sum(dim=-2)
        context = context.reshape(-1, levels, joints, self.num_heads * self.head_dim)
        return self._finish(x, level_tokens, context)

    def forward_embedded(
        self, x: torch.Tensor, ref: torch.Tensor, levels: EmbeddedLevels, index: int
    ) -> torch.Tensor:
        """Fast path: sample ``levels``, embedded beforehand by all blocks; this block is ``index``.

        The softmax weights are folded into the bilinear weights, so each head's ``samples x 4``
        corners are summed in one batched product.
        """
        weights, points, level_tokens = self._weights_and_points(x, ref)
        num_levels, joints = static_size(level_tokens, 1), static_size(level_tokens, 2)
        samples = joints * self.num_heads * self.num_samples
        rows, corner_weights = border_taps(points.view(-1, num_levels, samples, 2), levels)
        taps = self.num_samples * 4
        merged = corner_weights.view(
            -1, num_levels, joints * self.num_heads, self.num_samples, 4
        ) * weights.view(-1, num_levels, joints * self.num_heads, self.num_samples, 1)
        gathered = levels.rows.index_select(0, (rows + index).view(-1)).view(-1, taps, self.head_dim)
        context = torch.bmm(merged.view(-1, 1, taps), gathered)
        context = context.view(-1, num_levels, joints, self.num_heads * self.head_dim)
        # (L, heads * head_dim)
        biases: list[torch.Tensor] = [cast(nn.Linear, embed).bias for embed in self.embed_proj]
        bias = torch.stack(biases).repeat(1, self.num_heads)
        return self._finish(x, level_tokens, context + bias.unsqueeze(1))


# ----------------------------------------------------------------------------------------------
# The lifter


class ContextAwarePoseFormer(nn.Module):
    """CA-PF lifter: (2D joints, backbone feature maps, crop joints) -> (B, J, 3) in metres."""

    def __init__(self, config: CapfConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CapfConfig()
        dim, levels = config.token_dim, config.levels
        self.coord_embed = nn.Linear(2, dim)
        self.feat_embed = nn.ModuleList(nn.Linear(channels, dim) for channels in config.level_channels)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + levels, config.num_joints, dim))
        if config.context_blocks:
            self.context_blocks = nn.ModuleList(
                DeformableContextBlock(
                    config.level_channels, dim, config.context_heads, config.context_samples
                )
                for _ in range(config.depth)
            )
        else:
            self.context_blocks = nn.ModuleList()
        # Per joint, across its 1 + L tokens (the official ``res_blocks``).
        self.level_blocks = nn.ModuleList(
            TransformerBlock(dim, config.num_heads, config.mlp_ratio) for _ in range(config.depth)
        )
        # Across the joints, each joint being its concatenated tokens.
        self.joint_blocks = nn.ModuleList(
            TransformerBlock(config.joint_dim, config.num_heads, config.mlp_ratio)
            for _ in range(config.depth)
        )
        self.head_norm = nn.LayerNorm(config.joint_dim)
        self.head = nn.Linear(config.joint_dim, 3)
        # The pre-embedded gather path (exact up to float rounding); False runs the paper's literal form.
        self.use_fast_path = True

    def forward(
        self, keypoints_2d: torch.Tensor, features: Sequence[torch.Tensor], keypoints_crop: torch.Tensor
    ) -> torch.Tensor:
        """``keypoints_2d`` (B, J, 2) screen-normalised, ``features`` the backbone's levels,
        ``keypoints_crop`` (B, J, 2) in crop pixels -> (B, J, 3) root-relative metres."""
        if len(features) != self.config.levels:
            raise ValueError(f"expected {self.config.levels} feature maps, got {len(features)}")
        ref = crop_pixels_to_grid(keypoints_crop, self.config.crop_size)
        fast = self.use_fast_path
        x = self._initial_tokens(keypoints_2d, features, ref, fast)
        if fast and keypoints_2d.shape[0] <= EMBEDDED_SAMPLING_MAX_BATCH:
            x = self._context_embedded(x, features, ref)
        else:
            for block in self.context_blocks:
                x = block(x, ref, features)
        return self._lift(x, fused=fast)

    # -- token construction and context blocks --------------------------------------------------

    def _initial_tokens(
        self, keypoints_2d: torch.Tensor, features: Sequence[torch.Tensor], ref: torch.Tensor, fast: bool
    ) -> torch.Tensor:
        if fast:
            sampled = sample_zero_padded(features, ref)
        else:
            sampled = [sample_bilinear(f, ref.unsqueeze(-2), "zeros").squeeze(-2) for f in features]
        level_tokens = [embed(values) for values, embed in zip(sampled, self.feat_embed, strict=True)]
        return torch.stack([self.coord_embed(keypoints_2d), *level_tokens], dim=1) + self.pos_embed

    def _context_embedded(
        self, x: torch.Tensor, features: Sequence[torch.Tensor], ref: torch.Tensor
    ) -> torch.Tensor:
        if len(self.context_blocks) == 0:
            return x
        blocks = cast(list[DeformableContextBlock], list(self.context_blocks))
        weights = [
            torch.cat([cast(nn.Linear, block.embed_proj[level]).weight for block in blocks])
            for level in range(self.config.levels)
        ]
        levels = embed_levels(features, weights, len(blocks))
        for index, block in enumerate(blocks):
            x = block.forward_embedded(x, ref, levels, index)
        return x

    # -- transformer and head ------------------------------------------------------------------

    def _lift(self, x: torch.Tensor, fused: bool) -> torch.Tensor:
        tokens, joints, dim = static_size(x, 1), static_size(x, 2), static_size(x, 3)
        x = x.transpose(1, 2).reshape(-1, tokens, dim)
        for block in self.level_blocks:
            x = block(x, fused)
        x = x.reshape(-1, joints, tokens * dim)
        for block in self.joint_blocks:
            x = block(x, fused)
        out = self.head(self.head_norm(x))
        if self.config.output_scale != 1.0:
            out = out * self.config.output_scale
        return out


@register_model("capf_hrnet32")
def capf_hrnet32(**overrides: object) -> ContextAwarePoseFormer:
    """CA-PF on HRNet-W32 features (Human3.6M)."""
    return ContextAwarePoseFormer(capf_config("hrnet_32", **overrides))


@register_model("capf_hrnet48")
def capf_hrnet48(**overrides: object) -> ContextAwarePoseFormer:
    """CA-PF on HRNet-W48 features (Human3.6M)."""
    return ContextAwarePoseFormer(capf_config("hrnet_48", **overrides))


@register_model("capf_cpn")
def capf_cpn(**overrides: object) -> ContextAwarePoseFormer:
    """CA-PF on CPN (ResNet-50 FPN) features (Human3.6M)."""
    return ContextAwarePoseFormer(capf_config("cpn", **overrides))


@register_model("capf_mpi")
def capf_mpi(backbone: str = "hrnet_48", **overrides: object) -> ContextAwarePoseFormer:
    """CA-PF for MPI-INF-3DHP (no deformable context blocks); ``backbone`` ``hrnet_48`` or ``hrnet_32``."""
    return ContextAwarePoseFormer(capf_mpi_config(backbone, **overrides))
