"""HSJP pretext network: head on a backbone, output layout, loss."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models.hsjp import HSJPNet, backbone_features, hsjp_loss
from hpe_ros.models.swahr import HigherHRNet, HigherHRNetConfig


def _tiny_hrnet() -> HigherHRNet:
    config = HigherHRNetConfig(
        width=8, num_joints=3, blocks=1, stage_modules=(1, 1, 1), stem_blocks=1, num_basic_blocks=1
    )
    return HigherHRNet(config)


def test_head_on_hrnet_features_gives_one_heatmap_per_patch() -> None:
    torch.manual_seed(0)
    net = HSJPNet(_tiny_hrnet(), feature_channels=8, grid=(3, 2), feature_method="backbone_features")
    out = net(torch.randn(2, 3, 96, 64))
    assert out.shape == (2, 6, 24, 16)  # stride 4, rows * cols channels
    out.sum().backward()
    assert net.backbone.conv1.weight.grad is not None  # the backbone is what HSJP trains


def test_backbone_features_accepts_lists_and_plain_modules() -> None:
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    class ListBackbone(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            y = conv(x)
            return [y, y[..., ::2, ::2]]

    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(backbone_features(ListBackbone(), x), conv(x))
    torch.testing.assert_close(backbone_features(conv, x), conv(x))


def test_loss_is_mean_squared_error() -> None:
    target = torch.zeros(1, 4, 6, 6)
    target[0, 2, 3, 3] = 1.0
    assert hsjp_loss(target, target).item() == 0.0
    assert hsjp_loss(torch.zeros_like(target), target).item() == pytest.approx(1 / target.numel())
    with pytest.raises(ValueError):
        hsjp_loss(torch.zeros(1, 3, 6, 6), target)


def test_head_on_the_top_down_hrnet_backbone() -> None:
    from hpe_ros.models.registry import create_model

    try:
        backbone = create_model("hrnet_w32")
    except KeyError:
        pytest.skip("hrnet_w32 is not registered")
    net = HSJPNet(backbone, feature_channels=32, grid=(4, 4))
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 16, 16, 16)
