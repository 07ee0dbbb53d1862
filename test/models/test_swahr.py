"""HigherHRNet / SWAHR network: parameter layout of the official release and output layout."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models.registry import create_model
from hpe_ros.models.swahr import HigherHRNet, HigherHRNetConfig

# Representative parameters of the official W32 COCO checkpoint, read off SWAHR's
# lib/models/pose_higher_hrnet.py and experiments/coco/higher_hrnet/w32_512_adam_lr1e-3.yaml.
W32_KEYS = {
    "conv1.weight": (64, 3, 3, 3),
    "bn2.running_var": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.3.conv3.weight": (256, 64, 1, 1),
    "transition1.0.0.weight": (32, 256, 3, 3),
    "transition1.1.0.0.weight": (64, 256, 3, 3),
    "transition2.2.0.0.weight": (128, 64, 3, 3),
    "transition3.3.0.1.running_mean": (256,),
    "stage2.0.branches.1.3.conv2.weight": (64, 64, 3, 3),
    "stage3.3.fuse_layers.0.2.0.weight": (32, 128, 1, 1),
    "stage3.3.fuse_layers.2.0.0.0.weight": (32, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
    "stage4.1.fuse_layers.3.2.0.0.weight": (256, 128, 3, 3),
    "final_layers.0.weight": (34, 32, 1, 1),  # 17 heatmaps + 17 tags
    "final_layers.1.weight": (17, 32, 1, 1),  # heatmaps only at 1/2 resolution
    "final_layers.1.bias": (17,),
    "deconv_layers.0.0.0.weight": (66, 32, 4, 4),  # 32 features + 34 concatenated outputs
    "deconv_layers.0.0.1.weight": (32,),
    "deconv_layers.0.4.0.conv2.weight": (32, 32, 3, 3),
    "conv_scale_layers.0.0.weight": (17, 32, 1, 1),
    "conv_scale_layers.0.0.bias": (17,),
    "conv_scale_layers.1.1.running_var": (17,),
    "conv_scale_layers.1.3.weight": (17, 1, 9, 9),  # depthwise 9x9
}
# stage 4 ends with a single (highest-resolution) output: its last module fuses only into branch 0
W32_ABSENT_PREFIXES = (
    "stage4.2.fuse_layers.1.",
    "deconv_layers.1.",
    "final_layers.2.",
    "conv_scale_layers.2.",
)
TOP_LEVEL = {
    "conv1",
    "bn1",
    "conv2",
    "bn2",
    "layer1",
    "transition1",
    "transition2",
    "transition3",
    "stage2",
    "stage3",
    "stage4",
    "final_layers",
    "deconv_layers",
    "conv_scale_layers",
}


def _tiny(scale_aware: bool = True, joints: int = 5) -> HigherHRNet:
    config = HigherHRNetConfig(
        width=8,
        num_joints=joints,
        blocks=1,
        stage_modules=(1, 1, 1),
        stem_blocks=1,
        num_basic_blocks=1,
        scale_aware=scale_aware,
    )
    return HigherHRNet(config).eval()


@pytest.fixture(scope="module")
def swahr_w32() -> HigherHRNet:
    torch.manual_seed(0)
    return create_model("swahr_w32").eval()


def test_w32_keys_and_shapes_follow_the_official_layout(swahr_w32: HigherHRNet) -> None:
    state = swahr_w32.state_dict()
    for key, shape in W32_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    assert not [k for k in state if k.startswith(W32_ABSENT_PREFIXES)]
    assert {k.split(".")[0] for k in state} == TOP_LEVEL


def test_parameter_counts_match_the_published_sizes(swahr_w32: HigherHRNet) -> None:
    # SWAHR README: HigherHRNet + SWAHR has 28.6M (W32) and 63.8M (W48) parameters
    assert round(sum(p.numel() for p in swahr_w32.parameters()) / 1e6, 1) == 28.6
    w48 = create_model("swahr_w48")
    assert round(sum(p.numel() for p in w48.parameters()) / 1e6, 1) == 63.8


def test_w32_output_layout(swahr_w32: HigherHRNet) -> None:
    with torch.no_grad():
        outputs = swahr_w32(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outputs] == [(1, 51, 16, 24), (1, 34, 32, 48)]
    split = swahr_w32.split_outputs(outputs)
    assert [tuple(h.shape) for h in split.heatmaps] == [(1, 17, 16, 24), (1, 17, 32, 48)]
    assert split.tags[0] is not None and split.tags[0].shape[1] == 17 and split.tags[1] is None
    assert all(s is not None and s.shape[1] == 17 for s in split.scale_maps)
    torch.testing.assert_close(split.heatmaps[1], outputs[1][:, 17:34])


def test_scale_maps_do_not_feed_the_deconvolution() -> None:
    torch.manual_seed(1)
    model = _tiny()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(image)
        model.conv_scale_layers[0][3].weight.add_(1.0)
        after = model(image)
    j = model.config.num_joints
    assert not torch.allclose(before[0][:, :j], after[0][:, :j])  # the low-res scale maps changed
    torch.testing.assert_close(before[0][:, j:], after[0][:, j:])  # heatmaps and tags did not
    torch.testing.assert_close(before[1], after[1])  # nor anything at the high resolution


def test_plain_higher_hrnet_has_no_scale_layers() -> None:
    model = _tiny(scale_aware=False)
    assert not any(k.startswith("conv_scale_layers") for k in model.state_dict())
    with torch.no_grad():
        outputs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(2, 10, 16, 16), (2, 5, 32, 32)]
    split = model.split_outputs(outputs)
    assert split.scale_maps == [None, None]
    assert split.tags[0] is not None and split.tags[0].shape[1] == 5


def test_registry_names_and_config_checks() -> None:
    model = create_model("higher_hrnet_w32", num_joints=14)
    assert model.final_layers[0].out_channels == 28 and not model.config.scale_aware
    with pytest.raises(ValueError):
        HigherHRNetConfig(with_ae=(True,))
