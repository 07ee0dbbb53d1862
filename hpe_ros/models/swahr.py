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

from hpe_ros.models.registry import register_model

BN_MOMENTUM = 0.1


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (expansion 1)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block (expansion 4), used by the stem's ``layer1``."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(channels, channels * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


def _residual_stack(
    block: type[BasicBlock] | type[Bottleneck], in_channels: int, channels: int, num_blocks: int
) -> nn.Sequential:
    """``num_blocks`` blocks; the first projects the input with a 1x1 conv when widths differ."""
    downsample = None
    if in_channels != channels * block.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, channels * block.expansion, 1, bias=False),
            nn.BatchNorm2d(channels * block.expansion, momentum=BN_MOMENTUM),
        )
    layers = [block(in_channels, channels, 1, downsample)]
    layers += [block(channels * block.expansion, channels) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


def _fuse_path(channels: list[int], source: int, target: int) -> nn.Module:
    """Module bringing branch ``source`` to the resolution and width of branch ``target``."""
    if source == target:
        return nn.Identity()
    if source > target:  # lower resolution: 1x1 conv then nearest upsampling
        return nn.Sequential(
            nn.Conv2d(channels[source], channels[target], 1, 1, 0, bias=False),
            nn.BatchNorm2d(channels[target]),
            nn.Upsample(scale_factor=2 ** (source - target), mode="nearest"),
        )
    steps = []  # higher resolution: strided 3x3 convs, ReLU between them but not after the last
    for step in range(target - source):
        last = step == target - source - 1
        out_channels = channels[target] if last else channels[source]
        layers: list[nn.Module] = [
            nn.Conv2d(channels[source], out_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if not last:
            layers.append(nn.ReLU(inplace=True))
        steps.append(nn.Sequential(*layers))
    return nn.Sequential(*steps)


class HighResolutionModule(nn.Module):
    """Parallel branches of basic blocks followed by an all-to-all exchange (sum fusion)."""

    def __init__(self, channels: list[int], num_blocks: int, multi_scale_output: bool = True):
        super().__init__()
        self.branches = nn.ModuleList(_residual_stack(BasicBlock, c, c, num_blocks) for c in channels)
        num_outputs = len(channels) if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_path(channels, source, target) for source in range(len(channels)))
            for target in range(num_outputs)
        )
        self.relu = nn.ReLU(inplace=False)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        features = [branch(x) for branch, x in zip(self.branches, inputs, strict=True)]
        fused = []
        for paths in self.fuse_layers:
            total = paths[0](features[0])
            for path, x in zip(paths[1:], features[1:], strict=True):
                total = total + path(x)
            fused.append(self.relu(total))
        return fused


def _transition(previous: list[int], current: list[int]) -> nn.ModuleList:
    """Adapters from the previous stage's branches to the next stage's (one new, lower branch)."""
    layers: list[nn.Module] = []
    for index, out_channels in enumerate(current):
        if index < len(previous):
            if previous[index] == out_channels:
                layers.append(nn.Identity())
            else:
                layers.append(
                    nn.Sequential(
                        nn.Conv2d(previous[index], out_channels, 3, 1, 1, bias=False),
                        nn.BatchNorm2d(out_channels),
                        nn.ReLU(inplace=True),
                    )
                )
        else:
            steps = []
            for step in range(index + 1 - len(previous)):
                in_channels = previous[-1]
                width = out_channels if step == index - len(previous) else in_channels
                steps.append(
                    nn.Sequential(
                        nn.Conv2d(in_channels, width, 3, 2, 1, bias=False),
                        nn.BatchNorm2d(width),
                        nn.ReLU(inplace=True),
                    )
                )
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


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


class HigherHRNet(nn.Module):
    """HRNet backbone + multi-resolution heatmap/tag head (+ SWAHR scale maps).

    ``forward`` returns a tuple with one tensor per resolution (ONNX- and TorchScript-friendly);
    :meth:`split_outputs` names its channels.
    """

    def __init__(self, config: HigherHRNetConfig | None = None):
        super().__init__()
        self.config = config = config or HigherHRNetConfig()
        width = config.width
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _residual_stack(Bottleneck, 64, 64, config.stem_blocks)

        widths = [width * 2**i for i in range(4)]
        self.transition1 = _transition([64 * Bottleneck.expansion], widths[:2])
        self.stage2 = self._stage(widths[:2], config.stage_modules[0], True)
        self.transition2 = _transition(widths[:2], widths[:3])
        self.stage3 = self._stage(widths[:3], config.stage_modules[1], True)
        self.transition3 = _transition(widths[:3], widths)
        self.stage4 = self._stage(widths, config.stage_modules[2], False)

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

    def _stage(self, channels: list[int], num_modules: int, multi_scale_output: bool) -> nn.Sequential:
        return nn.Sequential(
            *(
                HighResolutionModule(channels, self.config.blocks, multi_scale_output or i < num_modules - 1)
                for i in range(num_modules)
            )
        )

    def backbone_features(self, x: torch.Tensor) -> torch.Tensor:
        """The HRNet output: highest-resolution branch after stage 4, (B, width, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        branches = [t(x) for t in self.transition1]
        branches = self.stage2(branches)
        branches = self._apply_transition(self.transition2, branches)
        branches = self.stage3(branches)
        branches = self._apply_transition(self.transition3, branches)
        return self.stage4(branches)[0]

    @staticmethod
    def _apply_transition(transition: nn.ModuleList, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        # existing branches pass (through identity); a new branch is made from the lowest one
        return [t(branches[i] if i < len(branches) else branches[-1]) for i, t in enumerate(transition)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
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
