"""Top-down HRNet pose networks: the heatmap head and the SimDR / SA-SimDR heads.

* Heatmap (HRNet paper): a 1x1 conv ``final_layer`` turns the 1/4-resolution map into one
  heatmap per joint.
* SimDR and SA-SimDR (Li et al., "SimCC", ECCV 2022): the same ``final_layer`` output of each
  joint is flattened and two linear layers ``mlp_head_x`` / ``mlp_head_y`` classify its x and
  y coordinate into ``split_ratio`` bins per input pixel. Both share the architecture; they
  differ in training labels and in how flip-test logits are merged and scored (see
  :class:`hpe_ros.pipelines.rgb.codecs.SimDRCodec`), so the head type is kept on the network.

The networks subclass :class:`HRNet` so that every parameter keeps its official name
(``final_layer.weight``, ``mlp_head_x.weight``, ...) and official checkpoints load directly.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from hpe_ros.models.hrnet import HRNet
from hpe_ros.models.registry import register_model

SIMDR_HEAD_TYPES = ("simdr", "sa-simdr")
#: the heatmap / final_layer map is 1/4 of the input crop in each direction
OUTPUT_STRIDE = 4


class SimDRLogits(NamedTuple):
    """Per-joint classification logits along each axis (a named tuple so ``x, y = net(img)``)."""

    x: Tensor  # (N, J, int(W * split_ratio))
    y: Tensor  # (N, J, int(H * split_ratio))


def _final_layer(in_channels: int, num_joints: int, kernel_size: int) -> nn.Conv2d:
    if kernel_size not in (1, 3):
        raise ValueError(f"final_conv_kernel must be 1 or 3, got {kernel_size}")
    return nn.Conv2d(in_channels, num_joints, kernel_size, 1, kernel_size // 2)


def _check_input_size(input_size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in input_size)
    if width % 32 or height % 32:
        raise ValueError(f"input_size (w, h) must be multiples of 32 for HRNet, got {input_size}")
    return width, height


class HRNetHeatmap(HRNet):
    """HRNet + 1x1 conv: crops (N, 3, H, W) -> heatmaps (N, J, H/4, W/4)."""

    def __init__(self, width: int = 32, num_joints: int = 17, final_conv_kernel: int = 1) -> None:
        super().__init__(width)
        self.num_joints = num_joints
        self.final_layer = _final_layer(self.channels[0], num_joints, final_conv_kernel)

    def forward(self, x: Tensor) -> Tensor:
        return self.final_layer(super().forward(x))


class HRNetSimDR(HRNet):
    """HRNet + SimDR head: crops (N, 3, H, W) -> :class:`SimDRLogits` over x and y bins.

    ``input_size`` is (width, height) of the crop, as in the official configs
    (``IMAGE_SIZE: [192, 256]``); ``split_ratio`` is the paper's k (bins per pixel).
    """

    def __init__(
        self,
        width: int = 32,
        num_joints: int = 17,
        input_size: tuple[int, int] = (192, 256),
        split_ratio: float = 2.0,
        head_type: str = "simdr",
    ) -> None:
        super().__init__(width)
        if head_type not in SIMDR_HEAD_TYPES:
            raise ValueError(f"head_type must be one of {SIMDR_HEAD_TYPES}, got {head_type!r}")
        crop_w, crop_h = _check_input_size(input_size)
        self.num_joints = num_joints
        self.input_size = (crop_w, crop_h)
        self.split_ratio = float(split_ratio)
        self.head_type = head_type
        flat_size = (crop_w // OUTPUT_STRIDE) * (crop_h // OUTPUT_STRIDE)
        self.final_layer = _final_layer(self.channels[0], num_joints, 1)
        self.mlp_head_x = nn.Linear(flat_size, int(crop_w * self.split_ratio))
        self.mlp_head_y = nn.Linear(flat_size, int(crop_h * self.split_ratio))

    # the head replaces HRNet's output; subclassing keeps the official top-level parameter names
    def forward(self, x: Tensor) -> SimDRLogits:  # type: ignore[override]
        maps = self.final_layer(super().forward(x))
        flat = maps.flatten(2)  # (N, J, h*w), row-major like the official rearrange
        return SimDRLogits(self.mlp_head_x(flat), self.mlp_head_y(flat))


@register_model("hrnet_w32_heatmap")
def hrnet_w32_heatmap(num_joints: int = 17, final_conv_kernel: int = 1) -> HRNetHeatmap:
    return HRNetHeatmap(32, num_joints, final_conv_kernel)


@register_model("hrnet_w48_heatmap")
def hrnet_w48_heatmap(num_joints: int = 17, final_conv_kernel: int = 1) -> HRNetHeatmap:
    return HRNetHeatmap(48, num_joints, final_conv_kernel)


@register_model("hrnet_w32_simdr")
def hrnet_w32_simdr(
    num_joints: int = 17,
    input_size: tuple[int, int] = (192, 256),
    split_ratio: float = 2.0,
    head_type: str = "simdr",
) -> HRNetSimDR:
    return HRNetSimDR(32, num_joints, input_size, split_ratio, head_type)


@register_model("hrnet_w48_simdr")
def hrnet_w48_simdr(
    num_joints: int = 17,
    input_size: tuple[int, int] = (192, 256),
    split_ratio: float = 2.0,
    head_type: str = "simdr",
) -> HRNetSimDR:
    return HRNetSimDR(48, num_joints, input_size, split_ratio, head_type)


__all__ = [
    "HRNetHeatmap",
    "HRNetSimDR",
    "SIMDR_HEAD_TYPES",
    "SimDRLogits",
    "hrnet_w32_heatmap",
    "hrnet_w32_simdr",
    "hrnet_w48_heatmap",
    "hrnet_w48_simdr",
]
