"""HRNet backbone: official parameter layout, shapes of the outputs and of the CAPF feature maps."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models import create_model, list_models
from hpe_ros.models.hrnet import BRANCH_STRIDES, HRNet, HRNetFeatures, count_parameters

# Read off the official PoseHighResolutionNet (deep-high-resolution-net / SimDR lib/models/pose_hrnet.py):
# stem, layer1 of 4 Bottlenecks, transitions, stages of 1/4/3 HRNet modules; the last stage-4 module
# fuses into branch 0 only. 1752 state-dict entries for the backbone (BN buffers included).
BACKBONE_KEY_COUNT = 1752
W32_SHAPES = {
    "conv1.weight": (64, 3, 3, 3),
    "bn2.running_var": (64,),
    "layer1.0.conv3.weight": (256, 64, 1, 1),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.3.bn3.weight": (256,),
    "transition1.0.0.weight": (32, 256, 3, 3),
    "transition1.1.0.0.weight": (64, 256, 3, 3),
    "transition2.2.0.0.weight": (128, 64, 3, 3),
    "transition3.3.0.0.weight": (256, 128, 3, 3),
    "stage2.0.branches.1.3.conv2.weight": (64, 64, 3, 3),
    "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),
    "stage2.0.fuse_layers.1.0.0.0.weight": (64, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.0.0.weight": (32, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.1.running_mean": (128,),
    "stage4.0.fuse_layers.3.0.2.0.weight": (256, 32, 3, 3),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
    "stage4.2.branches.3.3.bn2.bias": (256,),
}
ABSENT = (
    "transition2.0.0.weight",
    "stage4.2.fuse_layers.1.0.0.0.weight",
    "final_layer.weight",
    "stage2.0.fuse_layers.0.0.weight",
)


@pytest.fixture(scope="module")
def w32() -> HRNet:
    torch.manual_seed(0)
    return create_model("hrnet_w32").eval()


def test_registered_names() -> None:
    assert {
        "hrnet_w32",
        "hrnet_w48",
        "hrnet_w32_heatmap",
        "hrnet_w48_heatmap",
        "hrnet_w32_simdr",
        "hrnet_w48_simdr",
    } <= set(list_models())


def test_w32_parameter_layout_matches_official(w32: HRNet) -> None:
    state = w32.state_dict()
    assert len(state) == BACKBONE_KEY_COUNT
    for key, shape in W32_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    for key in ABSENT:
        assert key not in state
    assert 28.0e6 < count_parameters(w32) < 29.0e6  # HRNet-W32 pose backbone: 28.5 M in the paper


def test_w48_widths() -> None:
    state = create_model("hrnet_w48").state_dict()
    assert len(state) == BACKBONE_KEY_COUNT
    assert tuple(state["transition1.0.0.weight"].shape) == (48, 256, 3, 3)
    assert tuple(state["transition3.3.0.0.weight"].shape) == (384, 192, 3, 3)
    assert tuple(state["stage4.2.fuse_layers.0.3.0.weight"].shape) == (48, 384, 1, 1)


def test_forward_and_features_shapes(w32: HRNet) -> None:
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        top = w32(x)
        features = w32.forward_features(x)
    assert isinstance(features, HRNetFeatures)
    assert top.shape == (2, 32, 32, 24)
    expected = [(2, 32 * 2**i, 128 // s, 96 // s) for i, s in enumerate(BRANCH_STRIDES)]
    assert [tuple(m.shape) for m in features.maps] == expected
    torch.testing.assert_close(features.maps[0], top, rtol=0, atol=0)


def test_feature_maps_are_first_stage4_module_branch_outputs(w32: HRNet) -> None:
    """Maps 1-3 are what CAPF's code returns: the first stage-4 module's branches, before fusion."""
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        w32.stage4[0].branches[i].register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(i, out))
        for i in (1, 2, 3)
    ]
    stage3_out: list[torch.Tensor] = []
    hooks.append(w32.stage3.register_forward_hook(lambda _m, _i, out: stage3_out.extend(out)))
    try:
        with torch.no_grad():
            maps = w32.forward_features(torch.randn(1, 3, 64, 64)).maps
    finally:
        for hook in hooks:
            hook.remove()
    for i in (1, 2, 3):
        torch.testing.assert_close(maps[i], captured[i], rtol=0, atol=0)
    assert not torch.allclose(maps[1], stage3_out[1])  # not the raw stage-3 output


def test_training_mode_backward(w32: HRNet) -> None:
    model = create_model("hrnet_w32").train()
    out = model(torch.randn(2, 3, 64, 64))
    out.mean().backward()
    assert model.conv1.weight.grad is not None and torch.isfinite(model.conv1.weight.grad).all()
