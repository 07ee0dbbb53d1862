"""Converters: official CA-PF / HEMlets checkpoint layouts -> our models, strict and weights_only."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models import create_model
from hpe_ros.models.checkpoints import CheckpointError, CheckpointMismatchError, load_strict
from hpe_ros.models.convert_lifters import (
    convert_capf_state_dict,
    convert_hemlets_state_dict,
    load_capf_checkpoint,
    load_hemlets_checkpoint,
)


# Our lifter names -> the official PoseTransformer names (volume_net.*), as read in the official code.
def _official_capf_key(key: str) -> str:
    for ours, official in (
        ("pos_embed", "Spatial_pos_embed"),
        ("level_blocks.", "res_blocks."),
        ("head_norm.", "head.0."),
        ("head.", "head.1."),
    ):
        if key.startswith(ours):
            return official + key[len(ours) :]
    return key


def _randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model.eval()


def _official_capf_checkpoint(model: torch.nn.Module) -> dict:
    """{'model': DDP state dict} with ``module.backbone.*`` and ``module.volume_net.*``, as train.py saves."""
    state = {f"module.volume_net.{_official_capf_key(k)}": v.clone() for k, v in model.state_dict().items()}
    state["module.backbone.conv1.weight"] = torch.randn(64, 3, 3, 3)
    state["module.backbone.bn1.running_mean"] = torch.randn(64)
    return {"epoch": 3, "lr": 1e-3, "model": state, "optimizer": {"state": {}}}


def test_capf_official_layout_round_trip(tmp_path):
    source = _randomised(create_model("capf_hrnet32"), seed=0)
    checkpoint = _official_capf_checkpoint(source)
    keys = checkpoint["model"]
    for official in (
        "module.volume_net.Spatial_pos_embed",
        "module.volume_net.res_blocks.3.attn.qkv.weight",
        "module.volume_net.joint_blocks.0.mlp.fc2.bias",
        "module.volume_net.context_blocks.2.embed_proj.3.weight",
        "module.volume_net.context_blocks.2.sampling_offsets.bias",
        "module.volume_net.head.0.weight",
        "module.volume_net.head.1.bias",
    ):
        assert official in keys, official
    path = tmp_path / "best_epoch.bin"
    torch.save(checkpoint, path)
    weights = load_capf_checkpoint(path)
    assert set(weights.backbone) == {"conv1.weight", "bn1.running_mean"}
    target = create_model("capf_hrnet32").eval()
    load_strict(target, weights.lifter)
    keypoints_2d = torch.rand(2, 17, 2) - 0.5
    crop = torch.rand(2, 17, 2) * torch.tensor([192.0, 256.0])
    levels = zip((32, 64, 128, 256), [(64, 48), (32, 24), (16, 12), (8, 6)], strict=True)
    features = [torch.randn(2, c, h, w) for c, (h, w) in levels]
    with torch.no_grad():
        assert torch.equal(target(keypoints_2d, features, crop), source(keypoints_2d, features, crop))


def test_capf_mpi_bare_data_parallel_state_dict():
    source = _randomised(create_model("capf_mpi", backbone="hrnet_32"), seed=1)
    state = {f"module.volume_net.{_official_capf_key(k)}": v for k, v in source.state_dict().items()}
    weights = convert_capf_state_dict(state)  # run_3dhp.py saves the DataParallel state dict itself
    assert weights.backbone == {}
    load_strict(create_model("capf_mpi", backbone="hrnet_32"), weights.lifter)


def test_capf_mismatches_are_reported():
    our_state = create_model("capf_hrnet32").state_dict()
    state = {f"volume_net.{_official_capf_key(k)}": v for k, v in our_state.items()}
    weights = convert_capf_state_dict(state)
    with pytest.raises(CheckpointMismatchError, match="shape differs"):
        load_strict(create_model("capf_hrnet48"), weights.lifter)  # level 0 has 48 channels there
    with pytest.raises(CheckpointError, match="outside backbone/volume_net"):
        convert_capf_state_dict({**state, "optimizer.step": torch.zeros(1)})


# Ours -> official HEMlets names (Network in inference/network.py).
def _official_hemlets_key(key: str) -> str:
    for ours, official in (
        ("feature_branch.deconv.", "conv_feature.conv_body."),
        ("feature_branch.out.", "conv_feature.conv_tail."),
        ("hemlet_branch.deconv.", "conv_FBI.conv_body."),
        ("hemlet_branch.out.", "conv_FBI.conv_tail."),
        ("hemlet_encoder.", "FBI_encoder."),
        ("volume_head.", "conv_tail."),
    ):
        if key.startswith(ours):
            return official + key[len(ours) :]
    return key


def test_hemlets_official_layout_round_trip(tmp_path):
    source = _randomised(create_model("hemlets_resnet50"), seed=2)
    state = {_official_hemlets_key(k): v.clone() for k, v in source.state_dict().items()}
    state["volume_reg.dis_map"] = torch.linspace(0, 1, 64).view(1, 1, 64).repeat(1, 18, 1)
    for official in ("backbone.layer1.0.downsample.0.weight", "conv_FBI.conv_body.3.weight",
                     "conv_tail.3.bias"):
        assert official in state
    path = tmp_path / "hemlets_h36m_lastest.pth"
    torch.save(state, path)
    target = create_model("hemlets_resnet50").eval()
    load_strict(target, load_hemlets_checkpoint(path))
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(target(image), source(image))


def test_hemlets_rejects_unexpected_bins():
    state = {"volume_reg.dis_map": torch.rand(1, 18, 64)}
    with pytest.raises(CheckpointError, match="dis_map"):
        convert_hemlets_state_dict(state)
