"""Top-down heads (heatmap, SimDR, SA-SimDR) and the inference optimisation of the networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hpe_ros.models import create_model
from hpe_ros.models.fuse import fold_batchnorm, optimize_for_inference
from hpe_ros.models.simdr import HRNetSimDR, SimDRLogits


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so that folding actually changes the conv weights."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
    return model.eval()


def test_heatmap_network_keys_and_output() -> None:
    model = create_model("hrnet_w32_heatmap", num_joints=17).eval()
    state = model.state_dict()
    assert len(state) == 1752 + 2
    assert tuple(state["final_layer.weight"].shape) == (17, 32, 1, 1)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 17, 16, 16)
    wide = create_model("hrnet_w48_heatmap", num_joints=14, final_conv_kernel=3)
    assert tuple(wide.state_dict()["final_layer.weight"].shape) == (14, 48, 3, 3)


@pytest.mark.parametrize(
    ("input_size", "split_ratio", "flat", "bins"),
    [((192, 256), 2.0, 3072, (384, 512)), ((288, 384), 1.5, 6912, (432, 576))],
)
def test_simdr_head_shapes_match_official_configs(input_size, split_ratio, flat, bins) -> None:
    # HEAD_INPUT of the official configs: 3072 for 256x192, 6912 for 384x288
    model = create_model(
        "hrnet_w32_simdr", input_size=input_size, split_ratio=split_ratio, head_type="sa-simdr"
    )
    state = model.state_dict()
    assert len(state) == 1752 + 6
    assert tuple(state["mlp_head_x.weight"].shape) == (bins[0], flat)
    assert tuple(state["mlp_head_y.weight"].shape) == (bins[1], flat)
    assert model.head_type == "sa-simdr"


def test_simdr_forward_returns_named_logits() -> None:
    model = create_model("hrnet_w32_simdr", input_size=(64, 96), split_ratio=2.0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 64))
    assert isinstance(out, SimDRLogits)
    x, y = out
    assert x.shape == (2, 17, 128) and y.shape == (2, 17, 192)


def test_invalid_configurations_raise() -> None:
    with pytest.raises(ValueError, match="head_type"):
        HRNetSimDR(head_type="dsnt")
    with pytest.raises(ValueError, match="multiples of 32"):
        HRNetSimDR(input_size=(190, 256))
    with pytest.raises(ValueError, match="final_conv_kernel"):
        create_model("hrnet_w32_heatmap", final_conv_kernel=5)


def test_folded_network_equals_unfolded() -> None:
    torch.manual_seed(0)
    model = _randomise_batchnorm(create_model("hrnet_w32_simdr", input_size=(64, 64), split_ratio=2.0))
    fast = optimize_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        ref, got = model(x), fast(x)
    for a, b in zip(ref, got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * a.abs().max().item())
    with torch.inference_mode():
        features_ref = model.forward_features(x).maps
        features_fast = fast.forward_features(x).maps
    for a, b in zip(features_ref, features_fast, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * a.abs().max().item())


def test_fold_report_and_generic_modules() -> None:
    report = fold_batchnorm(_randomise_batchnorm(create_model("hrnet_w32_heatmap")))
    assert report.traced and report.remaining_batchnorms == []
    assert ("conv1", "bn1") in report.folded and ("layer1.0.conv3", "layer1.0.bn3") in report.folded

    class Shared(nn.Module):
        """A conv whose output also feeds a shortcut must keep its BatchNorm."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.bn = nn.BatchNorm2d(3)
            self.tail = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.tail(self.bn(y) + y)

    module = _randomise_batchnorm(Shared())
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        ref = module(x)
        report = fold_batchnorm(module)
        got = module(x)
    assert report.folded == [("tail.0", "tail.1")] and report.remaining_batchnorms == ["bn"]
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
