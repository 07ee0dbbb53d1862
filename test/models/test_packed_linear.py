"""Pre-packed oneDNN linears: same numbers as nn.Linear, same state dict, never stale."""

import pytest
import torch
from torch import nn

from hpe_ros.models.packed_linear import PackedLinear, onednn_linear_available, pack_linears

pytestmark = pytest.mark.skipif(not onednn_linear_available(), reason="torch built without oneDNN")


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 640), nn.GELU(), nn.Linear(640, 8), nn.Linear(8, 1024)).eval()


def test_big_linears_are_swapped_and_give_the_same_numbers():
    net = _net()
    x = torch.randn(1, 17, 64)
    with torch.inference_mode():
        expected = net(x)
    keys = list(net.state_dict())
    assert pack_linears(net, min_weights=6000) == 2  # 64x640 and 8x1024; 640x8 is too small
    assert [type(m).__name__ for m in net] == ["PackedLinear", "GELU", "Linear", "PackedLinear"]
    assert list(net.state_dict()) == keys
    with torch.inference_mode():
        assert net[0]._usable(x)
        torch.testing.assert_close(net(x), expected, atol=1e-5, rtol=1e-5)


def test_loading_new_weights_repacks():
    net = _net()
    other = nn.Sequential(nn.Linear(64, 640), nn.GELU(), nn.Linear(640, 8), nn.Linear(8, 1024)).eval()
    pack_linears(net, min_weights=6000)
    x = torch.randn(3, 64)
    with torch.inference_mode():
        net(x)  # packs the old weights
        net.load_state_dict(other.state_dict())
        torch.testing.assert_close(net(x), other(x), atol=1e-5, rtol=1e-5)


def test_training_and_autograd_use_the_plain_linear():
    linear = nn.Linear(32, 64)
    packed = PackedLinear.from_linear(linear)
    assert packed.training and packed.weight is linear.weight
    x = torch.randn(5, 32, requires_grad=True)
    packed(x).sum().backward()
    assert x.grad is not None and linear.weight.grad is not None
    packed.eval()
    assert not packed._usable(x)  # autograd is on and x needs a gradient
    with torch.no_grad():
        assert packed._usable(x)
        assert not packed._usable(x.double())
