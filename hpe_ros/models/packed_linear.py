"""Linear layers whose weights are also kept in oneDNN's blocked layout, for CPU inference.

At batch 1 a lifter's big linears see a handful of rows (CA-PF's joint blocks: 17 rows against
640x1920 weights). For such shapes oneDNN with a pre-packed weight runs about twice as fast as
the plain ``F.linear`` on this kind of CPU. :func:`pack_linears` swaps the big ``nn.Linear``
layers of a module for :class:`PackedLinear`, which keeps the same parameters (state dicts load
and save unchanged) and falls back to ``F.linear`` whenever the packed op does not apply:
training, autograd, non-CPU or non-float32 inputs, or a torch build without oneDNN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

# Weights smaller than this gain nothing from packing (measured with 85x128 inputs: slower).
DEFAULT_MIN_WEIGHTS = 1 << 18


def onednn_linear_available() -> bool:
    """Whether this torch build has oneDNN's pre-packed linear op."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class PackedLinear(nn.Linear):
    """``nn.Linear`` that multiplies with a oneDNN-packed copy of its weight in CPU inference.

    The packed copy is rebuilt when the weight changes (its version counter moves, as it does on
    ``load_state_dict``), so it never goes stale.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rows_hint: int = 1) -> None:
        super().__init__(in_features, out_features, bias)
        self.rows_hint = rows_hint
        self._packed: torch.Tensor | None = None
        self._packed_version = -1

    @classmethod
    def from_linear(cls, linear: nn.Linear, rows_hint: int = 1) -> PackedLinear:
        packed = cls(linear.in_features, linear.out_features, linear.bias is not None, rows_hint)
        packed.weight, packed.bias = linear.weight, linear.bias  # share, do not copy
        return packed.train(linear.training)

    def _usable(self, x: torch.Tensor) -> bool:
        return (
            not self.training
            and not torch.jit.is_tracing()  # exports see a plain linear
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and self.weight.device.type == "cpu"
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
        )

    def _packed_weight(self) -> torch.Tensor:
        version = self.weight._version
        if self._packed is None or version != self._packed_version:
            with torch.no_grad():
                self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), self.rows_hint)
            self._packed_version = version
        return self._packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._usable(x):
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self._packed_weight(), self.bias, "none", [], "")


def pack_linears(module: nn.Module, min_weights: int = DEFAULT_MIN_WEIGHTS, rows_hint: int = 1) -> int:
    """Swap, in place, every ``nn.Linear`` of ``module`` with at least ``min_weights`` weights for a
    :class:`PackedLinear`; returns how many were swapped (0 when oneDNN is not available)."""
    if not onednn_linear_available():
        return 0
    swapped = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and child.weight.numel() >= min_weights:
                setattr(parent, name, PackedLinear.from_linear(child, rows_hint))
                swapped += 1
    return swapped
