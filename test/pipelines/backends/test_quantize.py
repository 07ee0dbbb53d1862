"""Static INT8 quantisation of an export on ONNX Runtime: integer convolutions, outputs near fp32."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from hpe_ros.pipelines.backends.quantize import INT8_BACKEND, int8_backend_from_module, quantize_onnx
from hpe_ros.pipelines.backends.runtime import OnnxRuntimeBackend, export_onnx

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    ).eval()  # fmt: skip


def calibration(count: int, seed: int = 0) -> list[list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [[torch.rand(1, 3, 24, 24, generator=generator)] for _ in range(count)]


def test_quantised_convolutions_stay_near_fp32(tmp_path: Path) -> None:
    net = small_net()
    fp32 = export_onnx(net, calibration(1)[0], tmp_path / "fp32.onnx")
    feeds = [{"input_0": x[0].numpy()} for x in calibration(8)]
    int8 = quantize_onnx(fp32, tmp_path / "int8.onnx", feeds)
    ops = [node.op_type for node in onnx.load(str(int8)).graph.node]
    assert ops.count("QuantizeLinear") >= 2 and "Conv" in ops  # Q/DQ around the convolutions only
    session = OnnxRuntimeBackend(int8, providers=["CPUExecutionProvider"], threads=1)
    backend = int8_backend_from_module(net, calibration(8), threads=1)
    assert backend.name == INT8_BACKEND and not backend.path.exists()  # no file left behind
    for inputs in calibration(4, seed=1):  # not the calibration inputs
        with torch.inference_mode():
            expected = net(*inputs)
        for got in (session(*inputs)[0], backend(*inputs)[0]):
            error = float((got - expected).abs().max())
            assert 0 < error <= 0.05 * float(expected.abs().max())


def test_no_calibration_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one calibration input"):
        int8_backend_from_module(small_net(), [])
    with pytest.raises(ValueError, match="at least one calibration input"):
        quantize_onnx(tmp_path / "any.onnx", tmp_path / "out.onnx", [])
