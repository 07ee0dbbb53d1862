"""Converters from the published 3D-lifter checkpoints to this package's parameter names.

* CA-PF (QitaoZhao/ContextAware-PoseFormer): the Human3.6M training script saves
  ``{'epoch', 'lr', 'model': state_dict, 'optimizer'}`` of a DistributedDataParallel model, the
  MPI-INF-3DHP script a bare DataParallel state dict. Keys are ``module.backbone.*`` (the 2D
  backbone: HRNet with the official HRNet names, or CPN) and ``module.volume_net.*`` (the lifter).
* HEMlets (redrock303/HEMlets): a bare state dict of the whole network (ResNet-50 ``backbone.*``,
  two deconvolution branches, the volume head and the soft-argmax bin buffer).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from hpe_ros.models.checkpoints import (
    CheckpointError,
    StateDict,
    read_checkpoint,
    rename_keys,
    select_prefix,
    strip_prefix,
    unwrap_state_dict,
)

# Official lifter names -> ours (applied in order to the start of each key).
_CAPF_RENAMES: tuple[tuple[str, str], ...] = (
    ("Spatial_pos_embed", "pos_embed"),
    ("res_blocks.", "level_blocks."),
    ("head.0.", "head_norm."),
    ("head.1.", "head."),
)

# Official HEMlets module names -> ours.
_HEMLETS_RENAMES: tuple[tuple[str, str], ...] = (
    ("conv_feature.conv_body.", "feature_branch.deconv."),
    ("conv_feature.conv_tail.", "feature_branch.out."),
    ("conv_FBI.conv_body.", "hemlet_branch.deconv."),
    ("conv_FBI.conv_tail.", "hemlet_branch.out."),
    ("FBI_encoder.", "hemlet_encoder."),
    ("conv_tail.", "volume_head."),
)
_HEMLETS_BINS_KEY = "volume_reg.dis_map"


@dataclass(frozen=True)
class CapfWeights:
    """A CA-PF checkpoint split into the lifter's and the 2D backbone's state dicts."""

    lifter: StateDict
    backbone: StateDict


def _rename_prefixes(key: str, renames: tuple[tuple[str, str], ...]) -> str:
    for old, new in renames:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def _strip_data_parallel(state: Mapping[str, torch.Tensor]) -> StateDict:
    return strip_prefix(state, "module.")


def convert_capf_state_dict(state: Mapping[str, torch.Tensor]) -> CapfWeights:
    """Split an official CA-PF state dict (with or without ``module.``) and rename the lifter."""
    state = _strip_data_parallel(state)
    unknown = sorted(k for k in state if not k.startswith(("backbone.", "volume_net.")))
    if unknown:
        raise CheckpointError(f"not a CA-PF state dict: keys outside backbone/volume_net: {unknown[:5]}")
    lifter = rename_keys(
        select_prefix(state, "volume_net."), lambda key: _rename_prefixes(key, _CAPF_RENAMES)
    )
    if not lifter:
        raise CheckpointError("CA-PF checkpoint has no volume_net.* (lifter) weights")
    return CapfWeights(lifter=lifter, backbone=select_prefix(state, "backbone."))


def load_capf_checkpoint(path: str | os.PathLike[str]) -> CapfWeights:
    """Read an official CA-PF checkpoint file (``weights_only``) and convert it."""
    return convert_capf_state_dict(
        unwrap_state_dict(read_checkpoint(path), container_keys=("model", "state_dict"))
    )


def convert_hemlets_state_dict(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Rename an official HEMlets state dict; its soft-argmax bins are checked, then dropped.

    The bins are a fixed buffer (``linspace(0, 1, D)`` per joint) that our module computes.
    """
    state = _strip_data_parallel(state)
    bins = state.get(_HEMLETS_BINS_KEY)
    if bins is not None:
        expected = torch.linspace(0.0, 1.0, bins.shape[-1], dtype=bins.dtype).expand_as(bins)
        if not torch.allclose(bins, expected, atol=1e-6):
            raise CheckpointError(f"{_HEMLETS_BINS_KEY} is not an even [0, 1] grid; cannot drop it")
    return rename_keys(
        state, lambda key: None if key == _HEMLETS_BINS_KEY else _rename_prefixes(key, _HEMLETS_RENAMES)
    )


def load_hemlets_checkpoint(path: str | os.PathLike[str]) -> StateDict:
    """Read an official HEMlets checkpoint file (``weights_only``) and convert it."""
    return convert_hemlets_state_dict(unwrap_state_dict(read_checkpoint(path)))
