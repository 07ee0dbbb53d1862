"""Load published HigherHRNet / SWAHR checkpoints into :class:`hpe_ros.models.swahr.HigherHRNet`.

Layouts understood:

* SWAHR and HigherHRNet releases (``pose_higher_hrnet_w32_512.pth``): the bare state dict
  ``model.module.state_dict()``, keys already equal to ours; training snapshots
  (``checkpoint.pth.tar``) hold it under ``state_dict`` with DataParallel's ``module.`` prefix.
* mmpose 0.x ``AssociativeEmbedding`` HigherHRNet (``{"state_dict": ..., "meta": ...}``): the
  backbone under ``backbone.`` and the ``AEHigherResolutionHead`` under ``keypoint_head.``
  (``head.`` in 1.x-style files); below the prefix the names are the official ones. These
  checkpoints have no SWAHR scale layers: load them into ``higher_hrnet_w32``/``_w48``.

Every load is strict: keys and shapes must match the model exactly, otherwise
:class:`~hpe_ros.models.checkpoints.CheckpointMismatchError` lists the differences.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from hpe_ros.models.checkpoints import (
    StateDict,
    diff_state_dict,
    load_strict,
    read_checkpoint,
    strip_prefix,
    unwrap_state_dict,
)
from hpe_ros.models.swahr import HigherHRNet

_MMPOSE_PREFIXES = ("backbone.", "keypoint_head.", "head.")


def _is_mmpose_layout(state: Mapping[str, torch.Tensor]) -> bool:
    return any(key.startswith("backbone.") for key in state)


def convert_swahr_state_dict(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Rename a SWAHR / HigherHRNet / mmpose state dict to this package's parameter names.

    Keys that belong to none of the known prefixes are kept as they are, so a strict load
    reports them as unexpected instead of hiding them.
    """
    converted = strip_prefix(state, "module.")
    if _is_mmpose_layout(converted):
        renamed: StateDict = {}
        for key, value in converted.items():
            prefix = next((p for p in _MMPOSE_PREFIXES if key.startswith(p)), "")
            renamed[key[len(prefix) :]] = value
        converted = renamed
    return converted


def _add_missing_batch_counters(model: HigherHRNet, state: StateDict) -> StateDict:
    """Checkpoints written before PyTorch 0.4.1 lack BatchNorm's ``num_batches_tracked``.

    The counter only matters for ``momentum=None`` BatchNorm (not used here); it is filled
    with zero only when the checkpoint has none at all, so a partial set still fails loudly.
    """
    if any(key.endswith("num_batches_tracked") for key in state):
        return state
    filled = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            filled[key] = torch.zeros_like(value)
    return filled


def load_swahr_state_dict(model: HigherHRNet, state: Mapping[str, torch.Tensor]) -> None:
    """Convert ``state`` and load it strictly into ``model``."""
    converted = _add_missing_batch_counters(model, convert_swahr_state_dict(state))
    load_strict(model, converted)


def load_swahr_checkpoint(model: HigherHRNet, path: str | os.PathLike[str]) -> None:
    """Read ``path`` (``weights_only=True``) and load it strictly into ``model``.

    A SWAHR checkpoint given to a plain HigherHRNet (or the reverse) fails with the scale
    layers listed as unexpected (missing).
    """
    load_swahr_state_dict(model, unwrap_state_dict(read_checkpoint(path)))


def describe_mismatch(model: HigherHRNet, state: Mapping[str, torch.Tensor]) -> str:
    """Readable key/shape diff between ``model`` and a converted ``state`` (for diagnostics)."""
    return diff_state_dict(
        model, _add_missing_batch_counters(model, convert_swahr_state_dict(state))
    ).report()
