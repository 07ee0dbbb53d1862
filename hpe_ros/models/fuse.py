"""Inference optimisation for any network: BatchNorm folded into convs, channels-last, no grads.

In eval mode a BatchNorm after a convolution is an affine map per channel, so it can be
absorbed into the convolution's weight and bias: ``w' = w * g``, ``b' = (b - mean) * g + beta``
with ``g = gamma / sqrt(var + eps)``. That removes one full read/write pass per BatchNorm,
which dominates small-width networks such as HRNet on CPUs.

Which BatchNorm follows which conv is read from the module's dataflow (``torch.fx`` trace of
its ``forward``), so it works for modules whose convs and norms are separate attributes
(``block.conv1`` -> ``block.bn1``) as well as for ``nn.Sequential`` chains. A pair is folded
only when the conv's output goes nowhere but into that BatchNorm and both run exactly once.
If a module cannot be traced, consecutive ``Conv -> BatchNorm`` items of ``nn.Sequential``
containers are folded, which is always safe.

Folding changes the parameter set (the BatchNorms become ``nn.Identity``): load checkpoints
before optimising, and do not train the optimised copy.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.fx
from torch import nn

_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
Conv = nn.Conv1d | nn.Conv2d | nn.Conv3d
BatchNorm = nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d
ModuleT = TypeVar("ModuleT", bound=nn.Module)


@dataclass(frozen=True)
class FoldReport:
    """What :func:`fold_batchnorm` did."""

    folded: list[tuple[str, str]]  # (conv name, batchnorm name)
    remaining_batchnorms: list[str]
    traced: bool  # False when the fallback (nn.Sequential chains only) was used


def _traced_pairs(module: nn.Module) -> list[tuple[str, str]]:
    graph = torch.fx.symbolic_trace(module).graph
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    pairs = []
    for node in graph.nodes:
        # call_module nodes name their module by its dotted path
        if node.op != "call_module" or not isinstance(module.get_submodule(str(node.target)), _BN_TYPES):
            continue
        source = node.args[0]
        if not isinstance(source, torch.fx.Node) or source.op != "call_module":
            continue
        if not isinstance(module.get_submodule(str(source.target)), _CONV_TYPES):
            continue
        if len(source.users) == 1 and calls[source.target] == 1 and calls[node.target] == 1:
            pairs.append((str(source.target), str(node.target)))
    return pairs


def _sequential_pairs(module: nn.Module) -> list[tuple[str, str]]:
    pairs = []
    for name, container in module.named_modules():
        if not isinstance(container, nn.Sequential):
            continue
        items = list(container.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(items, items[1:], strict=False):
            if isinstance(conv, _CONV_TYPES) and isinstance(bn, _BN_TYPES):
                prefix = f"{name}." if name else ""
                pairs.append((prefix + conv_name, prefix + bn_name))
    return pairs


def _set_submodule(root: nn.Module, name: str, replacement: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, replacement)


@torch.no_grad()
def fold_conv_bn(conv: Conv, bn: BatchNorm) -> None:
    """Absorb eval-mode ``bn`` into ``conv`` in place (``conv`` gains a bias if it had none)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics")
    gain = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        gain = gain * bn.weight
    shift = -bn.running_mean * gain
    if bn.bias is not None:
        shift = shift + bn.bias
    weight = conv.weight
    shape = (-1,) + (1,) * (weight.dim() - 1)
    weight.mul_(gain.reshape(shape).to(weight.dtype))
    bias = shift if conv.bias is None else conv.bias * gain + shift
    conv.bias = nn.Parameter(bias.to(weight.dtype), requires_grad=weight.requires_grad)


def fold_batchnorm(module: nn.Module) -> FoldReport:
    """Fold every BatchNorm that directly and exclusively follows a conv, in place.

    The module is switched to eval mode first (folding uses the running statistics).
    """
    module.eval()
    try:
        pairs, traced = _traced_pairs(module), True
    except Exception:  # noqa: BLE001 - fx refuses data-dependent control flow; fall back
        pairs, traced = _sequential_pairs(module), False
    for conv_name, bn_name in pairs:
        bn, conv = module.get_submodule(bn_name), module.get_submodule(conv_name)
        # both pair finders only pair these types; the check narrows them for the type checker
        if not isinstance(bn, _BN_TYPES) or not isinstance(conv, _CONV_TYPES):
            continue
        if not bn.track_running_stats or bn.running_mean is None:
            continue
        fold_conv_bn(conv, bn)
        _set_submodule(module, bn_name, nn.Identity())
    remaining = [name for name, m in module.named_modules() if isinstance(m, _BN_TYPES)]
    return FoldReport(folded=pairs, remaining_batchnorms=remaining, traced=traced)


def optimize_for_inference(
    model: ModuleT, *, channels_last: bool = True, fold: bool = True, copy_model: bool = True
) -> ModuleT:
    """An eval-mode copy of ``model`` with BatchNorms folded, grads off and NHWC weights.

    Run the result under ``torch.inference_mode()``; 4-D inputs may be contiguous or
    channels-last (convolutions follow the weights' layout). Methods other than ``forward``
    (e.g. ``forward_features``) keep working, as the module class is unchanged.
    """
    optimized = copy.deepcopy(model) if copy_model else model
    optimized.eval()
    if fold:
        fold_batchnorm(optimized)
    optimized.requires_grad_(False)
    if channels_last:
        # Module.to(memory_format=...) is documented; torch's overloads leave it out
        optimized.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return optimized


__all__ = ["FoldReport", "fold_batchnorm", "fold_conv_bn", "optimize_for_inference"]
