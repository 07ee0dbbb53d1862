"""Checkpoint conversion: official and mmpose layouts load strictly; broken files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from hpe_ros.models import create_model
from hpe_ros.models.checkpoints import CheckpointError, CheckpointMismatchError
from hpe_ros.models.convert_hrnet import (
    convert_hrnet_state_dict,
    detect_layout,
    load_hrnet_checkpoint,
    to_mmpose_layout,
)

SIMDR_KWARGS = {"input_size": (64, 64), "split_ratio": 2.0}


def _random_model(name: str, seed: int, **kwargs: object) -> nn.Module:
    torch.manual_seed(seed)
    model = create_model(name, **kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _assert_same_state(a: nn.Module, b: nn.Module) -> None:
    state_b = b.state_dict()
    for key, value in a.state_dict().items():
        assert torch.equal(value, state_b[key]), key


def test_official_layout_round_trip(tmp_path: Path) -> None:
    source = _random_model("hrnet_w32_simdr", 1, **SIMDR_KWARGS)
    plain = tmp_path / "final_state.pth"
    torch.save(source.state_dict(), plain)
    # training checkpoints of the official code: a dict with a DataParallel state dict inside
    wrapped = tmp_path / "checkpoint.pth"
    torch.save(
        {"epoch": 3, "model": "pose_hrnet", "state_dict": nn.DataParallel(source).state_dict()}, wrapped
    )
    for path in (plain, wrapped):
        target = load_hrnet_checkpoint(create_model("hrnet_w32_simdr", **SIMDR_KWARGS), path).eval()
        _assert_same_state(source, target)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(target(x).x, source(x).x, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("name", "head_prefix"),
    [("hrnet_w32_heatmap", "keypoint_head."), ("hrnet_w32_heatmap", "head."), ("hrnet_w32_simdr", "head.")],
)
def test_mmpose_layout_round_trip(tmp_path: Path, name: str, head_prefix: str) -> None:
    kwargs = SIMDR_KWARGS if "simdr" in name else {}
    source = _random_model(name, 2, **kwargs)
    mm_state = to_mmpose_layout(source.state_dict(), head_prefix)
    assert (
        "backbone.stage4.2.fuse_layers.0.3.0.weight" in mm_state
        and f"{head_prefix}final_layer.weight" in mm_state
    )
    assert detect_layout(mm_state) == "mmpose"
    path = tmp_path / "mmpose.pth"
    torch.save({"meta": {"mmpose_version": "1.3.0"}, "state_dict": mm_state}, path)
    target = load_hrnet_checkpoint(create_model(name, **kwargs), path)
    _assert_same_state(source, target)


def test_full_checkpoint_initialises_bare_backbone() -> None:
    source = _random_model("hrnet_w32_heatmap", 3)
    backbone = load_hrnet_checkpoint(
        create_model("hrnet_w32"), to_mmpose_layout(source.state_dict(), "keypoint_head.")
    )
    assert "final_layer.weight" not in backbone.state_dict()
    assert torch.equal(
        backbone.stage4[2].branches[0][3].conv2.weight, source.stage4[2].branches[0][3].conv2.weight
    )


def test_broken_checkpoint_reports_the_diff() -> None:
    state = dict(_random_model("hrnet_w32_heatmap", 4).state_dict())
    del state["stage3.1.branches.2.0.bn1.running_var"]
    state["final_layer.weight"] = torch.zeros(16, 32, 1, 1)
    state["final_layer.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError) as error:
        load_hrnet_checkpoint(create_model("hrnet_w32_heatmap"), state)
    message = str(error.value)
    assert "stage3.1.branches.2.0.bn1.running_var" in message
    assert "final_layer.weight: (17, 32, 1, 1) vs (16, 32, 1, 1)" in message
    assert "final_layer.extra" in message


def test_mmpose_deconvolution_heads_are_rejected() -> None:
    state = {
        "backbone.conv1.weight": torch.zeros(64, 3, 3, 3),
        "head.deconv_head.deconv_layers.0.weight": torch.zeros(1),
    }
    with pytest.raises(CheckpointError, match="deconv"):
        convert_hrnet_state_dict(state)
