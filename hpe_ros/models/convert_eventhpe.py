"""Official EventHPE checkpoints -> :mod:`hpe_ros.models.eventhpe` state dicts.

* FlowNet (``model_flow.pkl``): a bare ``model.state_dict()`` of ``OpticalFlowNet``; its blocks are
  ``nn.Sequential``s (``encoders.i.conv_block.{0,1,3,4}``, ``residual.conv_block...``,
  ``decoders.i.conv_block...``, ``flows.i.conv_block.0``), renamed here to ours.
* ShapeNet (``model_events_pose.pkl``): ``{"model_state_dict": ..., "optimizer_state_dict": ...}``.
  Besides the network (``img_encoder.*`` torchvision ResNet-50 without ``fc``, ``tmp_encoder.gru.*``,
  ``regressor.decpose/dectrans``) the state dict holds the SMPL layer's buffers
  (``smpl.v_template``, ``smpl.shapedirs``, ``smpl.J_regressor``, ``smpl.posedirs``, ``smpl.e3`` and
  ``smpl.weight`` tiled to the *training* batch size). Those are not network weights: they are
  dropped by name, and, when an SMPL module is given, checked against it so that a checkpoint
  trained with another body model (e.g. male vs neutral) is refused. Any other unknown key is an
  error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from hpe_ros.models.checkpoints import (
    CheckpointError,
    StateDict,
    load_strict,
    read_checkpoint,
    strip_prefix,
    unwrap_state_dict,
)

if TYPE_CHECKING:
    from hpe_ros.models.eventhpe import EventShapeNet
    from hpe_ros.models.smpl import SMPLModel

OFFICIAL_SMPL_BUFFERS = ("v_template", "shapedirs", "J_regressor", "posedirs", "weight", "e3")

_FLOWNET_LAYER = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2"}
_FLOWNET_PATTERNS = (
    (re.compile(r"^encoders\.(\d+)\.conv_block\.(\d)\.(.+)$"), "encoders.{0}.{1}.{2}"),
    (re.compile(r"^decoders\.(\d+)\.conv_block\.(\d)\.(.+)$"), "decoders.{0}.{1}.{2}"),
    (re.compile(r"^residual\.conv_block\.(\d)\.(.+)$"), "bottleneck.{0}.{1}"),
)
_FLOW_HEAD = re.compile(r"^flows\.(\d+)\.conv_block\.0\.weight$")

_SHAPENET_PREFIXES = (
    ("img_encoder.", "encoder."),
    ("tmp_encoder.", "temporal."),
    ("regressor.decpose.", "pose_head."),
    ("regressor.dectrans.", "translation_head."),
)


class SMPLCheckpointMismatchError(CheckpointError):
    """The SMPL buffers saved in a ShapeNet checkpoint differ from the SMPL model in use."""


def _official_state(obj: object) -> StateDict:
    if isinstance(obj, (str, os.PathLike)):
        obj = read_checkpoint(obj)
    state = unwrap_state_dict(obj, container_keys=("model_state_dict", "state_dict", "model"))
    return strip_prefix(state, "module.")  # in case it was saved from nn.DataParallel


def _rename_flownet_key(key: str) -> str | None:
    head = _FLOW_HEAD.match(key)
    if head:
        return f"flow_heads.{head.group(1)}.weight"
    for pattern, template in _FLOWNET_PATTERNS:
        match = pattern.match(key)
        if match:
            *index, layer, leaf = match.groups()
            if layer in _FLOWNET_LAYER:
                return template.format(*index, _FLOWNET_LAYER[layer], leaf)
    return None


def convert_flownet_state_dict(official: Mapping[str, torch.Tensor] | str | os.PathLike[str]) -> StateDict:
    """Official ``OpticalFlowNet`` state dict (or checkpoint path) -> :class:`EventFlowNet` keys."""
    state = _official_state(official)
    renamed = {key: _rename_flownet_key(key) for key in state}
    unknown = [key for key, new_key in renamed.items() if new_key is None]
    if unknown:
        raise CheckpointError(f"unknown keys in the FlowNet checkpoint: {unknown[:10]}")
    return {new_key: state[key] for key, new_key in renamed.items() if new_key is not None}


def official_smpl_buffers(smpl: SMPLModel) -> dict[str, torch.Tensor]:
    """A :class:`~hpe_ros.models.smpl.SMPLModel`'s arrays in the official EventHPE layout.

    ``weight`` is returned untiled, (V, 24); the checkpoint's is tiled to (N, V, 24).
    """
    v_template = smpl.v_template
    num_vertices = v_template.shape[0]
    shapedirs = smpl.shapedirs.reshape(num_vertices * 3, -1)  # (V, 3, 10) -> (3V, 10)
    posedirs = smpl.posedirs
    if posedirs.shape[0] != 207:  # (V, 3, 207) layout -> (207, 3V)
        posedirs = posedirs.reshape(num_vertices * 3, -1).T
    return {
        "v_template": v_template,
        "shapedirs": shapedirs.T,  # (10, 3V)
        "J_regressor": smpl.J_regressor.T,  # (V, 24)
        "posedirs": posedirs,  # (207, 3V)
        "weight": smpl.lbs_weights,  # (V, 24)
        "e3": torch.eye(3, dtype=v_template.dtype),
    }


def check_smpl_buffers(saved: Mapping[str, torch.Tensor], smpl: SMPLModel, atol: float = 1e-5) -> None:
    """Raise :class:`SMPLCheckpointMismatchError` unless ``saved`` (official names, no prefix) is ``smpl``."""
    expected = official_smpl_buffers(smpl)
    problems: list[str] = []
    for name in OFFICIAL_SMPL_BUFFERS:
        if name not in saved:
            problems.append(f"{name}: missing")
            continue
        value = saved[name].to(torch.float32)
        reference = expected[name].detach().to(torch.float32).cpu()
        if name == "weight":  # tiled (N, V, 24): every copy must be the skinning weights
            if value.ndim != 3 or value.shape[1:] != reference.shape:
                expected_shape = ", ".join(map(str, reference.shape))
                problems.append(f"weight: shape {tuple(value.shape)}, expected (N, {expected_shape})")
                continue
            value = value.reshape(-1, *reference.shape)
            reference = reference.expand_as(value)
        if value.shape != reference.shape:
            problems.append(f"{name}: shape {tuple(value.shape)} vs {tuple(reference.shape)}")
        elif not torch.allclose(value, reference, atol=atol, rtol=0):
            problems.append(f"{name}: max abs diff {(value - reference).abs().max().item():.3g}")
    if problems:
        raise SMPLCheckpointMismatchError(
            "the SMPL buffers saved in the checkpoint differ from the SMPL model given:\n  "
            + "\n  ".join(problems)
        )


def convert_shapenet_state_dict(
    official: Mapping[str, torch.Tensor] | Mapping[str, object] | str | os.PathLike[str],
    smpl: SMPLModel | None = None,
) -> StateDict:
    """Official ``EventTrackNet`` checkpoint -> the network part of :class:`EventShapeNet`.

    ``smpl.*`` buffers are removed; with ``smpl`` given they are first checked against it.
    The result has no ``smpl.*`` keys: load it with :func:`load_shapenet_state`.
    """
    state = _official_state(official)
    saved_smpl = {key[len("smpl."):]: value for key, value in state.items() if key.startswith("smpl.")}
    unexpected_smpl = sorted(set(saved_smpl) - set(OFFICIAL_SMPL_BUFFERS))
    if unexpected_smpl:
        names = ["smpl." + key for key in unexpected_smpl]
        raise CheckpointError(f"unknown keys in the ShapeNet checkpoint: {names}")
    if smpl is not None and saved_smpl:
        check_smpl_buffers(saved_smpl, smpl)
    out: StateDict = {}
    unknown: list[str] = []
    for key, value in state.items():
        if key.startswith("smpl."):
            continue
        for official_prefix, our_prefix in _SHAPENET_PREFIXES:
            if key.startswith(official_prefix):
                out[our_prefix + key[len(official_prefix):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(
            "unknown keys in the ShapeNet checkpoint (e.g. the VIBE regressor, not supported): "
            f"{unknown[:10]}"
        )
    return out


def load_flownet_state(
    model: nn.Module, official: Mapping[str, torch.Tensor] | str | os.PathLike[str]
) -> None:
    """Convert and strictly load an official FlowNet checkpoint into ``model``."""
    load_strict(model, convert_flownet_state_dict(official))


def load_shapenet_state(
    model: EventShapeNet,
    official: Mapping[str, object] | str | os.PathLike[str],
    check_smpl: bool = True,
) -> None:
    """Convert and strictly load an official ShapeNet checkpoint into an :class:`EventShapeNet`.

    Every network key must match; the model keeps its own (injected) SMPL buffers, which are
    compared with the checkpoint's when ``check_smpl``.
    """
    smpl = model.smpl if check_smpl else None
    network = convert_shapenet_state_dict(official, smpl=smpl)
    own_smpl = {f"smpl.{key}": value for key, value in model.smpl.state_dict().items()}
    load_strict(model, {**network, **own_smpl})
