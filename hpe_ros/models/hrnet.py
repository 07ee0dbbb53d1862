"""HRNet backbone (Sun et al., CVPR 2019) as used by top-down pose estimators.

The network keeps a high-resolution branch through the whole depth and adds one lower
resolution branch per stage (1/4, 1/8, 1/16, 1/32 of the input); every HRNet module
exchanges information between all its branches. Module and parameter names follow the
official implementation (``conv1``, ``layer1.0.conv1``, ``transition1.0.0``,
``stage2.0.branches.0.0.conv1``, ``stage2.0.fuse_layers.0.1.0``, ...), so its checkpoints
load without renaming (see :mod:`hpe_ros.models.convert_hrnet`).

Input height and width must be multiples of 32 so that the four branches line up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from torch import Tensor, nn

from hpe_ros.models.registry import register_model

BN_MOMENTUM = 0.1
STEM_CHANNELS = 64
LAYER1_PLANES = 64
LAYER1_BLOCKS = 4
BLOCKS_PER_BRANCH = 4
#: HRNet modules in stages 2, 3 and 4 (stage n has n branches)
MODULES_PER_STAGE = (1, 4, 3)
#: downsampling factor of branch 0..3 relative to the input image
BRANCH_STRIDES = (4, 8, 16, 32)


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int, relu: bool) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ ReLU): indices 0 and 1 carry the parameters."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential | None:
    """1x1 projection of a residual shortcut whose width or stride changes; None where the identity fits."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a shortcut; used only in ``layer1``."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _branch(in_channels: int, channels: int, num_blocks: int) -> nn.Sequential:
    blocks = [BasicBlock(in_channels, channels)]
    blocks += [BasicBlock(channels, channels) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def _fuse_path(channels: list[int], source: int, target: int) -> nn.Module:
    """Resample branch ``source`` to the resolution and width of branch ``target``.

    Lower resolution sources: 1x1 conv + BN, then nearest upsampling. Higher resolution
    sources: a chain of stride-2 3x3 convs (ReLU between them, none after the last).
    """
    if source > target:
        return nn.Sequential(
            nn.Conv2d(channels[source], channels[target], 1, bias=False),
            nn.BatchNorm2d(channels[target]),
            nn.Upsample(scale_factor=2 ** (source - target), mode="nearest"),
        )
    steps = target - source
    chain = [_conv_bn(channels[source], channels[source], 3, 2, relu=True) for _ in range(steps - 1)]
    chain.append(_conv_bn(channels[source], channels[target], 3, 2, relu=False))
    return nn.Sequential(*chain)


class HRModule(nn.Module):
    """Parallel residual branches followed by an all-to-all exchange (sum of resampled maps)."""

    def __init__(self, channels: list[int], num_blocks: int, multi_scale_output: bool = True) -> None:
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(_branch(c, c, num_blocks) for c in channels)
        num_outputs = self.num_branches if multi_scale_output else 1
        # Identity placeholders keep the official indices (fuse_layers.i.j) without parameters.
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(
                nn.Identity() if j == i else _fuse_path(channels, j, i) for j in range(self.num_branches)
            )
            for i in range(num_outputs)
        )
        self.relu = nn.ReLU(inplace=True)

    def run_branches(self, inputs: list[Tensor]) -> list[Tensor]:
        """The residual blocks of every branch, before the exchange."""
        return [branch(x) for branch, x in zip(self.branches, inputs, strict=True)]

    def fuse(self, branch_out: list[Tensor]) -> list[Tensor]:
        """Output ``i`` = ReLU(sum over ``j`` of branch ``j`` resampled to branch ``i``)."""
        fused: list[Tensor] = []
        for i, paths in enumerate(self.fuse_layers):
            total = None
            for j, x in enumerate(branch_out):
                term = x if j == i else cast(nn.ModuleList, paths)[j](x)
                total = term if total is None else total + term
            fused.append(self.relu(total))
        return fused

    def forward(self, inputs: list[Tensor]) -> list[Tensor]:
        return self.fuse(self.run_branches(inputs))


def _transition(in_channels: list[int], out_channels: list[int]) -> nn.ModuleList:
    """Adapt the previous stage's outputs to the next stage's branches.

    Existing branches get a 3x3 conv only when their width changes (``None`` otherwise);
    each new branch is made from the lowest-resolution previous output by stride-2 convs.
    """
    layers: list[nn.Module | None] = []
    for i, width in enumerate(out_channels):
        if i < len(in_channels):
            layers.append(None if width == in_channels[i] else _conv_bn(in_channels[i], width, 3, 1, True))
        else:
            steps = i + 1 - len(in_channels)
            last = in_channels[-1]
            chain = [
                _conv_bn(last, width if step == steps - 1 else last, 3, 2, relu=True) for step in range(steps)
            ]
            layers.append(nn.Sequential(*chain))
    # ModuleList keeps None entries (add_module accepts None); its stub asks for Modules only
    return nn.ModuleList(layers)  # type: ignore[arg-type]


@dataclass
class HRNetFeatures:
    """The multi-scale maps that Context-Aware PoseFormer samples from HRNet.

    ``maps`` in order: the final stage-4 branch-0 map (1/4 resolution, C channels), then
    branches 1, 2 and 3 (1/8 with 2C, 1/16 with 4C, 1/32 with 8C) as they leave the residual
    blocks of the first stage-4 module, before its exchange. The official code returns the
    list it passed into stage 4 (stage-3 branches 1-2 and the transition-3 branch 3), but the
    first HRNet module overwrites that list's items in place with its branch outputs, so
    these are the maps the published checkpoints were trained with.
    """

    maps: tuple[Tensor, Tensor, Tensor, Tensor]

    @property
    def strides(self) -> tuple[int, ...]:
        return BRANCH_STRIDES


class HRNet(nn.Module):
    """HRNet-W``width`` backbone: ``forward`` returns the stage-4 branch-0 map (N, C, H/4, W/4).

    The block and module counts default to the published networks' (HigherHRNet / SWAHR build
    on this class with the same counts; tests build smaller ones)."""

    # set by name in __init__ (setattr), declared for the type checker
    transition1: nn.ModuleList
    transition2: nn.ModuleList
    transition3: nn.ModuleList
    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(self, width: int = 32, blocks_per_branch: int = BLOCKS_PER_BRANCH,
                 modules_per_stage: tuple[int, int, int] = MODULES_PER_STAGE,
                 layer1_blocks: int = LAYER1_BLOCKS) -> None:
        super().__init__()
        self.width = width
        self.channels = tuple(width * 2**i for i in range(4))
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        layer1_out = LAYER1_PLANES * Bottleneck.expansion
        self.layer1 = nn.Sequential(
            Bottleneck(STEM_CHANNELS, LAYER1_PLANES),
            *(Bottleneck(layer1_out, LAYER1_PLANES) for _ in range(layer1_blocks - 1)),
        )
        previous = [layer1_out]
        for index, num_modules in enumerate(modules_per_stage):
            stage = index + 2
            widths = list(self.channels[:stage])
            last_stage = stage == 4
            modules = [
                HRModule(
                    widths, blocks_per_branch, multi_scale_output=not (last_stage and m == num_modules - 1)
                )
                for m in range(num_modules)
            ]
            setattr(self, f"transition{stage - 1}", _transition(previous, widths))
            setattr(self, f"stage{stage}", nn.Sequential(*modules))
            previous = widths

    def _stem(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.layer1(x)

    @staticmethod
    def _apply_transition(transition: nn.ModuleList, outputs: list[Tensor]) -> list[Tensor]:
        inputs = []
        for i, layer in enumerate(transition):
            if layer is None:
                inputs.append(outputs[i])
            elif i < len(outputs):
                inputs.append(layer(outputs[i]))
            else:
                inputs.append(layer(outputs[-1]))
        return inputs

    def _stage4_inputs(self, x: Tensor) -> list[Tensor]:
        outputs = [self._stem(x)]
        outputs = self.stage2(self._apply_transition(self.transition1, outputs))
        outputs = self.stage3(self._apply_transition(self.transition2, outputs))
        return self._apply_transition(self.transition3, outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.stage4(self._stage4_inputs(x))[0]

    def forward_features(self, x: Tensor) -> HRNetFeatures:
        first, *rest = self.stage4
        assert isinstance(first, HRModule)
        branch_out = first.run_branches(self._stage4_inputs(x))
        outputs = first.fuse(branch_out)
        for module in rest:
            outputs = module(outputs)
        return HRNetFeatures(maps=(outputs[0], branch_out[1], branch_out[2], branch_out[3]))


@register_model("hrnet_w32")
def hrnet_w32() -> HRNet:
    """HRNet-W32 backbone (branch widths 32, 64, 128, 256)."""
    return HRNet(width=32)


@register_model("hrnet_w48")
def hrnet_w48() -> HRNet:
    """HRNet-W48 backbone (branch widths 48, 96, 192, 384)."""
    return HRNet(width=48)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (a quick size check in tests and logs)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "BRANCH_STRIDES",
    "BasicBlock",
    "Bottleneck",
    "HRModule",
    "HRNet",
    "HRNetFeatures",
    "count_parameters",
    "hrnet_w32",
    "hrnet_w48",
]
