"""HigherHRNet with SWAHR's scale-adaptive heatmaps, for bottom-up multi-person 2D pose.

Papers: Cheng et al., "HigherHRNet: Scale-Aware Representation Learning for Bottom-Up Human Pose
Estimation" (CVPR 2020) and Luo et al., "Rethinking the Heatmap Regression for Bottom-up Human Pose
Estimation" (SWAHR, CVPR 2021). Parameter names and shapes follow the SWAHR release
(github:greatlog/SWAHR-HumanPose, ``lib/models/pose_higher_hrnet.py``), so its checkpoints load
after removing a ``module.`` prefix (see :mod:`hpe_ros.models.convert_swahr`).

Network: an HRNet backbone (stem -> 4 stages, output at stride 4), then per output resolution
a 1x1 "final layer" predicting ``J`` heatmaps plus ``J`` associative-embedding tags (only where
``with_ae[i]``), and ``num_deconvs`` transposed-convolution stages that double the resolution
(stride 2 for the single deconv of the COCO configs). The input of each deconv stage is the
features concatenated with the previous final-layer output (``cat_output``).

SWAHR adds ``conv_scale_layers``: per resolution a 1x1 conv -> BN -> ReLU -> depthwise 9x9 conv
predicting one "scale map" per joint. During training the scale map ``s`` turns each
ground-truth Gaussian ``g`` into ``g ** (1 + s)`` (taken to second order) so the heatmap width
adapts to each person's size; at inference the scale maps are simply dropped. In every output
tensor the channels are ordered ``[scale maps (J, SWAHR only), heatmaps (J), tags (J or 0)]``,
exactly as the official forward concatenates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from hpe_ros.models.hrnet import BN_MOMENTUM, BasicBlock, HRNet
from hpe_ros.models.registry import register_model


@dataclass(frozen=True)
class HigherHRNetConfig:
    """Architecture of HigherHRNet (``scale_aware=False``) or HigherHRNet + SWAHR.

    Defaults are the COCO ``w32_512_adam_lr1e-3`` experiment of the SWAHR release. ``blocks``
    and ``stage_modules`` exist to build small networks for tests; published checkpoints use
    4 blocks per branch and (1, 4, 3) modules in stages 2-4.
    """

    width: int = 32
    num_joints: int = 17
    tag_per_joint: bool = True
    with_ae: tuple[bool, ...] = (True, False)  # per output resolution (LOSS.WITH_AE_LOSS)
    num_deconvs: int = 1
    deconv_channels: tuple[int, ...] = ()  # empty: (width,) * num_deconvs
    deconv_kernel: int = 4
    num_basic_blocks: int = 4
    cat_output: tuple[bool, ...] = (True,)
    final_conv_kernel: int = 1
    scale_aware: bool = True
    blocks: int = 4
    stage_modules: tuple[int, int, int] = (1, 4, 3)
    stem_blocks: int = 4

    def __post_init__(self) -> None:
        if len(self.with_ae) != self.num_deconvs + 1:
            raise ValueError(f"with_ae needs {self.num_deconvs + 1} entries, got {self.with_ae}")
        if len(self.cat_output) != self.num_deconvs:
            raise ValueError(f"cat_output needs {self.num_deconvs} entries, got {self.cat_output}")
        if self.deconv_kernel not in (2, 3, 4):
            raise ValueError(f"deconv kernel must be 2, 3 or 4, got {self.deconv_kernel}")

    @property
    def tag_dim(self) -> int:
        return self.num_joints if self.tag_per_joint else 1

    @property
    def resolved_deconv_channels(self) -> tuple[int, ...]:
        return self.deconv_channels or (self.width,) * self.num_deconvs

    def head_channels(self, resolution: int) -> int:
        """Channels of the final layer at ``resolution`` (0 = stride 4): heatmaps (+ tags)."""
        return self.num_joints + (self.tag_dim if self.with_ae[resolution] else 0)


@dataclass
class HigherHRNetOutputs:
    """The raw output tuple split by meaning; index 0 is the lowest resolution (stride 4)."""

    heatmaps: list[torch.Tensor]  # (B, J, H_i, W_i)
    tags: list[torch.Tensor | None]  # (B, tag_dim, H_i, W_i) or None where the resolution has no AE
    scale_maps: list[torch.Tensor | None] = field(default_factory=list)  # SWAHR only, else None


class HigherHRNet(HRNet):
    """HRNet backbone + multi-resolution heatmap/tag head (+ SWAHR scale maps).

    The backbone is :class:`~hpe_ros.models.hrnet.HRNet` itself (its parameters keep the top-level
    names of the official checkpoints: ``conv1``, ``layer1``, ``stage2`` ...). ``forward``
    returns a tuple with one tensor per resolution (ONNX- and TorchScript-friendly);
    :meth:`split_outputs` names its channels.
    """

    def __init__(self, config: HigherHRNetConfig | None = None):
        config = config or HigherHRNetConfig()
        super().__init__(width=config.width, blocks_per_branch=config.blocks,
                         modules_per_stage=config.stage_modules, layer1_blocks=config.stem_blocks)
        self.config = config
        width = config.width

        joints = config.num_joints
        deconv_channels = config.resolved_deconv_channels
        kernel = config.final_conv_kernel
        head_inputs = [width, *deconv_channels]
        self.final_layers = nn.ModuleList(
            nn.Conv2d(c, config.head_channels(i), kernel, 1, 1 if kernel == 3 else 0)
            for i, c in enumerate(head_inputs)
        )
        padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[config.deconv_kernel]
        deconvs = []
        in_channels = width
        for i, out_channels in enumerate(deconv_channels):
            if config.cat_output[i]:
                in_channels += config.head_channels(i)
            layers: list[nn.Module] = [
                nn.Sequential(
                    nn.ConvTranspose2d(
                        in_channels,
                        out_channels,
                        config.deconv_kernel,
                        2,
                        padding,
                        output_padding,
                        bias=False,
                    ),
                    nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
                    nn.ReLU(inplace=True),
                )
            ]
            layers += [
                nn.Sequential(BasicBlock(out_channels, out_channels)) for _ in range(config.num_basic_blocks)
            ]
            deconvs.append(nn.Sequential(*layers))
            in_channels = out_channels
        self.deconv_layers = nn.ModuleList(deconvs)
        if config.scale_aware:
            self.conv_scale_layers = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(c, joints, 1, 1, 0),
                    nn.BatchNorm2d(joints),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(joints, joints, 9, 1, 4, groups=joints),
                )
                for c in head_inputs
            )

    def backbone_features(self, x: torch.Tensor) -> torch.Tensor:
        """The HRNet output: highest-resolution branch after stage 4, (B, width, H/4, W/4)."""
        return HRNet.forward(self, x)

    # the heads replace HRNet's output; subclassing keeps the official top-level parameter names
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        features = self.backbone_features(x)
        outputs = []
        head = self.final_layers[0](features)
        outputs.append(self._with_scale(0, features, head))
        for i, deconv in enumerate(self.deconv_layers):
            if self.config.cat_output[i]:
                features = torch.cat((features, head), 1)
            features = deconv(features)
            head = self.final_layers[i + 1](features)
            outputs.append(self._with_scale(i + 1, features, head))
        return tuple(outputs)

    def _with_scale(self, index: int, features: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        if not self.config.scale_aware:
            return head
        return torch.cat((self.conv_scale_layers[index](features), head), 1)

    def split_outputs(self, outputs: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> HigherHRNetOutputs:
        """Name the channels of :meth:`forward`'s tuple."""
        joints = self.config.num_joints
        offset = joints if self.config.scale_aware else 0
        heatmaps, tags, scales = [], [], []
        for i, out in enumerate(outputs):
            scales.append(out[:, :joints] if self.config.scale_aware else None)
            heatmaps.append(out[:, offset : offset + joints])
            tags.append(out[:, offset + joints :] if self.config.with_ae[i] else None)
        return HigherHRNetOutputs(heatmaps, tags, scales)


@register_model("swahr_w32")
def swahr_w32(num_joints: int = 17, **overrides: object) -> HigherHRNet:
    """HigherHRNet-W32 + SWAHR (COCO 512 config; CrowdPose: ``num_joints=14``)."""
    return HigherHRNet(HigherHRNetConfig(width=32, num_joints=num_joints, **overrides))  # type: ignore[arg-type]


@register_model("swahr_w48")
def swahr_w48(num_joints: int = 17, **overrides: object) -> HigherHRNet:
    """HigherHRNet-W48 + SWAHR (COCO / CrowdPose 640 configs)."""
    return HigherHRNet(HigherHRNetConfig(width=48, num_joints=num_joints, **overrides))  # type: ignore[arg-type]


@register_model("higher_hrnet_w32")
def higher_hrnet_w32(num_joints: int = 17, **overrides: object) -> HigherHRNet:
    """Plain HigherHRNet-W32 (no scale maps): official HigherHRNet and mmpose AE checkpoints."""
    return HigherHRNet(HigherHRNetConfig(width=32, num_joints=num_joints, scale_aware=False, **overrides))  # type: ignore[arg-type]


@register_model("higher_hrnet_w48")
def higher_hrnet_w48(num_joints: int = 17, **overrides: object) -> HigherHRNet:
    """Plain HigherHRNet-W48 (no scale maps)."""
    return HigherHRNet(HigherHRNetConfig(width=48, num_joints=num_joints, scale_aware=False, **overrides))  # type: ignore[arg-type]
