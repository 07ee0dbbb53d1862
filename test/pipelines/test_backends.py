import importlib.util

import pytest
import torch
from torch import nn

from hpe_ros.pipelines.backends import BackendUnavailableError, create_backend, resolve_backend


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
    assert ort.describe()["model"] == str(tmp_path / "net.onnx")


def test_onnx_exports_without_a_path_leave_no_file_behind() -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    backend = create_backend("onnxruntime", _Net().eval(), [torch.randn(1, 3, 8, 8)])
    assert not backend.path.exists() and not backend.path.parent.exists()
    assert backend(torch.randn(2, 3, 8, 8))[0].shape == (2, 4, 8, 8)  # the session runs from memory


def test_unavailable_backends_say_why() -> None:
    net = _Net()
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            create_backend("torch", net, [], device="cuda")
    with pytest.raises(BackendUnavailableError):
        create_backend("tensorrt", net, [], engine_path="model.engine")
    with pytest.raises(ValueError, match="unknown backend"):
        create_backend("tflite", net, [])


def test_auto_backend_is_onnxruntime_on_a_cpu_and_torch_on_cuda() -> None:
    expected = "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"
    assert resolve_backend("auto", "cpu") == expected
    assert resolve_backend("auto", "cuda:0") == "torch"
    assert resolve_backend("torch", "cpu") == "torch"


def test_capf_fast_path_exports_with_a_dynamic_batch(tmp_path) -> None:
    """The lifter exported at batch 1 (pre-embedded sampling, packed linears) runs any batch in ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    from hpe_ros.models import create_model
    from hpe_ros.pipelines.topdown import CapfWithFlatInputs

    torch.manual_seed(0)
    model = create_model("capf_hrnet32").eval().requires_grad_(False)
    with torch.no_grad():
        for block in model.context_blocks:
            block.sampling_offsets.weight.normal_(0, 0.02)

    def inputs(batch: int) -> list[torch.Tensor]:
        maps = [torch.randn(batch, c, 64 // s, 48 // s) for c, s in zip((32, 64, 128, 256), (1, 2, 4, 8))]
        return [torch.rand(batch, 17, 2) - 0.5, torch.rand(batch, 17, 2) * torch.tensor([192.0, 256.0]), *maps]

    eager = create_backend("torch", CapfWithFlatInputs(model), inputs(1))
    assert eager.describe()["packed_linears"] == "16"  # the joint blocks' linears
    ort = create_backend("onnxruntime", CapfWithFlatInputs(model), inputs(1), onnx_path=tmp_path / "capf.onnx")
    batch_of_three = inputs(3)
    # float32 rounding differs between the runtimes; a wrong batch offset would be off by ~0.1-1
    torch.testing.assert_close(eager(*batch_of_three)[0], ort(*batch_of_three)[0], atol=1e-3, rtol=1e-3)
    # Only the batch is left to the runtime: every other size is a constant of the graph, so
    # ONNX Runtime computes no shapes per call (one Shape: the batch, for the images' row offsets).
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(tmp_path / "capf.onnx")).graph
    assert sum(node.op_type == "Shape" for node in graph.node) == 1
