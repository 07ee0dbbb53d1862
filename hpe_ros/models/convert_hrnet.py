"""Load published HRNet / SimDR checkpoints into :mod:`hpe_ros.models.hrnet` networks.

Two layouts are understood:

* **official** (HRNet's ``deep-high-resolution-net.pytorch`` and SimDR, e.g.
  ``pose_hrnet_w32_256x192.pth``): our module names are the official ones, so only an
  optional DataParallel ``module.`` prefix is removed. Saved training states
  (``{"state_dict": ..., "epoch": ...}``) are unwrapped.
* **mmpose**: the backbone sits under ``backbone.`` with the same names as the official
  code; the head under ``keypoint_head.`` (mmpose 0.x ``TopdownHeatmapSimpleHead`` without
  deconvolutions) or ``head.`` (mmpose 1.x ``HeatmapHead`` / ``SimCCHead`` without
  deconvolutions), holding ``final_layer`` and, for SimCC, ``mlp_head_x`` / ``mlp_head_y``,
  which are exactly SimDR's layers. mmpose heads with deconvolution layers
  (``deconv_layers`` / ``deconv_head``) are a different architecture and are rejected.

Loading a full pose checkpoint into the bare backbone drops the head's keys; every other
difference raises :class:`CheckpointMismatchError` with the key/shape diff.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from hpe_ros.models.checkpoints import (
    CheckpointError,
    StateDict,
    load_strict,
    read_checkpoint,
    select_prefix,
    strip_prefix,
    unwrap_state_dict,
)

#: parameter prefixes of the official pose heads (not part of the backbone)
HEAD_PREFIXES = ("final_layer.", "mlp_head_x.", "mlp_head_y.")
MMPOSE_HEAD_PREFIXES = ("keypoint_head.", "head.")
_MMPOSE_UNSUPPORTED_HEAD_PARTS = ("deconv_layers.", "deconv_head.")


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """``"mmpose"`` when the keys are under ``backbone.``, else ``"official"``."""
    return "mmpose" if any(key.startswith("backbone.") for key in state) else "official"


def _from_mmpose(state: Mapping[str, torch.Tensor]) -> StateDict:
    converted = select_prefix(state, "backbone.")
    for head_prefix in MMPOSE_HEAD_PREFIXES:
        head = select_prefix(state, head_prefix)
        unsupported = sorted(k for k in head if k.startswith(_MMPOSE_UNSUPPORTED_HEAD_PARTS))
        if unsupported:
            raise CheckpointError(
                f"mmpose head with deconvolution layers ({head_prefix}{unsupported[0]}, ...) is not the "
                "HRNet heatmap/SimDR head; only heads without deconv layers convert"
            )
        converted.update(head)
    leftovers = sorted(
        k
        for k in state
        if not k.startswith(("backbone.",) + MMPOSE_HEAD_PREFIXES) and not k.startswith("data_preprocessor.")
    )
    # Keep unknown keys so that the strict load reports them instead of dropping them silently.
    converted.update({k: state[k] for k in leftovers})
    return converted


def convert_hrnet_state_dict(state: Mapping[str, torch.Tensor], *, backbone_only: bool = False) -> StateDict:
    """Turn an official or mmpose HRNet/SimDR state dict into our parameter names.

    With ``backbone_only`` the pose head's keys (``final_layer``, ``mlp_head_x/y``) are
    dropped so that a full pose checkpoint initialises :class:`hpe_ros.models.hrnet.HRNet`.
    """
    state = strip_prefix(state, "module.")
    converted = _from_mmpose(state) if detect_layout(state) == "mmpose" else dict(state)
    if backbone_only:
        converted = {k: v for k, v in converted.items() if not k.startswith(HEAD_PREFIXES)}
    return converted


def load_hrnet_checkpoint(
    model: nn.Module, source: str | os.PathLike[str] | Mapping[str, object]
) -> nn.Module:
    """Load a checkpoint file (or an already read object) into ``model`` strictly.

    The backbone-only case is chosen from the model: a model without ``final_layer``
    receives a full pose checkpoint's backbone part.
    """
    raw = source if isinstance(source, Mapping) else read_checkpoint(source)
    state = unwrap_state_dict(raw)
    backbone_only = not hasattr(model, "final_layer")
    load_strict(model, convert_hrnet_state_dict(state, backbone_only=backbone_only))
    return model


def to_mmpose_layout(state: Mapping[str, torch.Tensor], head_prefix: str = "head.") -> StateDict:
    """Our (= official) names -> mmpose names; for tests and for exporting to mmpose."""
    out: StateDict = {}
    for key, value in state.items():
        prefix = head_prefix if key.startswith(HEAD_PREFIXES) else "backbone."
        out[prefix + key] = value
    return out


__all__ = [
    "HEAD_PREFIXES",
    "convert_hrnet_state_dict",
    "detect_layout",
    "load_hrnet_checkpoint",
    "to_mmpose_layout",
]
