import pytest
import torch
from torch import nn

from hpe_ros.pipelines.backends import BackendUnavailableError, create_backend


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.bn(self.conv(x)))
        return y, y.mean(dim=(2, 3))


def test_torch_and_onnxruntime_backends_agree(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = _Net().eval()
    example = torch.randn(2, 3, 8, 8)
    eager = create_backend("torch", net, [example])
    ort = create_backend("onnxruntime", net, [example], onnx_path=tmp_path / "net.onnx")
    batch_of_five = torch.randn(5, 3, 8, 8)  # a different batch size: the batch axis is dynamic
    for a, b in zip(eager(batch_of_five), ort(batch_of_five)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert ort.describe()["backend"] == "onnxruntime"


def test_unavailable_backends_say_why() -> None:
    net = _Net()
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            create_backend("torch", net, [], device="cuda")
    with pytest.raises(BackendUnavailableError):
        create_backend("tensorrt", net, [], engine_path="model.engine")
    with pytest.raises(ValueError, match="unknown backend"):
        create_backend("tflite", net, [])
