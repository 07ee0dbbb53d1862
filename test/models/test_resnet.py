"""ResNet with torchvision's parameter names: layout, strides, stem channels, feature output."""

from __future__ import annotations

import torch

from hpe_ros.models.resnet import resnet18, resnet50


def test_resnet50_has_torchvision_names_and_size():
    state = resnet50().state_dict()
    expected = {
        "conv1.weight": (64, 3, 7, 7),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.0.downsample.1.running_var": (256,),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer3.5.bn3.weight": (1024,),
        "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "layer3.6.conv1.weight" not in state  # 3, 4, 6, 3 blocks
    parameters = sum(p.numel() for p in resnet50().parameters())
    assert parameters == 25_557_032  # torchvision's ResNet-50


def test_bottleneck_strides_in_the_3x3_convolution():
    model = resnet50()
    assert model.layer2[0].conv1.stride == (1, 1)
    assert model.layer2[0].conv2.stride == (2, 2)
    assert model.layer2[0].downsample[0].stride == (2, 2)


def test_feature_backbone_with_event_channels():
    model = resnet50(in_channels=10, num_classes=None).eval()
    assert "fc.weight" not in model.state_dict()
    assert tuple(model.conv1.weight.shape) == (64, 10, 7, 7)
    with torch.no_grad():
        features = model(torch.randn(1, 10, 64, 96))
        stages = model.forward_stages(torch.randn(1, 10, 64, 96))
    assert features.shape == (1, 2048, 2, 3)
    assert [s.shape[1:] for s in (stages.layer1, stages.layer2, stages.layer3, stages.layer4)] == [
        (256, 16, 24),
        (512, 8, 12),
        (1024, 4, 6),
        (2048, 2, 3),
    ]


def test_classifier_output_and_basic_blocks():
    model = resnet18(num_classes=7).eval()
    assert "layer1.0.conv3.weight" not in model.state_dict()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
