"""HEMlets: soft-argmax by hand, map shapes, official head sizes."""

from __future__ import annotations

import torch

from hpe_ros.models import create_model
from hpe_ros.models.hemlets import soft_argmax_3d


def test_soft_argmax_of_a_single_peak_is_its_voxel():
    joints, depth, height, width = 2, 8, 6, 5
    volume = torch.full((1, joints * depth, height, width), -1e4, dtype=torch.float64)
    volume.view(1, joints, depth, height, width)[0, 0, 3, 4, 2] = 0.0  # joint 0 at z=3, y=4, x=2
    volume.view(1, joints, depth, height, width)[0, 1, 7, 0, 4] = 0.0  # joint 1 at z=7, y=0, x=4
    coords = soft_argmax_3d(volume, joints)
    expected = torch.tensor([[[2 / 4, 4 / 5, 3 / 7], [4 / 4, 0 / 5, 7 / 7]]], dtype=torch.float64) - 0.5
    assert torch.allclose(coords, expected, atol=1e-9)


def test_soft_argmax_averages_equal_peaks():
    volume = torch.full((1, 4, 3, 3), -1e4, dtype=torch.float64)  # one joint, depth 4
    volume.view(1, 1, 4, 3, 3)[0, 0, 0, 0, 0] = 0.0
    volume.view(1, 1, 4, 3, 3)[0, 0, 3, 2, 2] = 0.0
    assert torch.allclose(soft_argmax_3d(volume, 1), torch.zeros(1, 1, 3, dtype=torch.float64), atol=1e-9)


def test_official_head_sizes():
    state = create_model("hemlets_resnet50").state_dict()
    expected = {
        "backbone.layer4.2.bn3.weight": (2048,),
        "feature_branch.deconv.0.weight": (2048, 256, 4, 4),
        "feature_branch.deconv.7.running_mean": (256,),
        "feature_branch.out.weight": (1024, 256, 3, 3),
        "hemlet_branch.out.weight": (60, 256, 3, 3),  # 14 parts x 3 + 18 joints
        "hemlet_encoder.0.weight": (256, 60, 3, 3),
        "volume_head.0.weight": (1024, 1280, 1, 1),
        "volume_head.3.weight": (18 * 64, 1024, 1, 1),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(key.startswith("backbone.fc") for key in state)


def test_forward_shapes_on_a_small_crop():
    model = create_model("hemlets_resnet50").eval()
    with torch.no_grad():
        out = model.forward_with_maps(torch.randn(1, 3, 64, 64))
    assert out.joints.shape == (1, 18, 3)
    assert out.hemlets.shape == (1, 60, 16, 16)
    assert out.volume.shape == (1, 18 * 64, 16, 16)
    assert (out.joints.abs() <= 0.5).all()
