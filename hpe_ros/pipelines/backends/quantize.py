"""INT8 networks on ONNX Runtime (CPU): static quantisation of an export, calibrated on given inputs.

:func:`quantize_onnx` runs ONNX Runtime's own tools (``quant_pre_process``, then
``quantize_static``) on an fp32 ONNX file: Q/DQ format, weights int8 per output channel,
activations uint8 with ranges calibrated (min / max) on the inputs given, only the operator types
asked for (convolutions by default; the rest stays fp32). On a CPU with AVX-512 VNNI the
quantised convolutions run as integer kernels. :func:`int8_backend_from_module` exports a torch
module, quantises it and loads it as an :class:`~hpe_ros.pipelines.backends.runtime.OnnxRuntimeBackend`,
leaving no file behind.

Quantisation changes the outputs: how much is the caller's to measure and state (the EventHPE
pipeline does, in docs/performance.md).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hpe_ros.pipelines.backends.runtime import BackendUnavailableError, OnnxRuntimeBackend, export_onnx

INT8_BACKEND = "onnxruntime-int8"
DEFAULT_OP_TYPES = ("Conv",)


def quantize_onnx(
    source: str | Path,
    target: str | Path,
    calibration: Sequence[Mapping[str, np.ndarray]],
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
) -> Path:
    """Write the INT8 (Q/DQ) version of the fp32 ONNX file ``source`` to ``target``, its activation
    ranges calibrated on ``calibration`` (one feed dict per run: input name -> array)."""
    if not calibration:
        raise ValueError("quantisation needs at least one calibration input")
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as error:
        raise BackendUnavailableError(
            f"backend {INT8_BACKEND} needs onnxruntime with its quantisation tools and onnx "
            "(pip install hpe_ros[onnx])"
        ) from error

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds: Iterator[Mapping[str, np.ndarray]] = iter(calibration)

        def get_next(self) -> Mapping[str, np.ndarray] | None:
            return next(self.feeds, None)

    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="hpe_ros_int8_") as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))  # shape inference and fp32 graph clean-up first
        quantize_static(
            str(prepared),
            str(target),
            Feeds(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(op_types),
            calibrate_method=CalibrationMethod.MinMax,
        )
    return target


def int8_backend_from_module(
    module: nn.Module,
    calibration: Sequence[Sequence[torch.Tensor]],
    threads: int = 0,
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
) -> OnnxRuntimeBackend:
    """``module`` exported (dynamic batch), quantised on ``calibration`` (each item: the module's
    inputs for one run, as torch tensors) and loaded on ONNX Runtime's CPU provider."""
    if not calibration:
        raise ValueError("quantisation needs at least one calibration input")
    feeds = [
        {f"input_{i}": x.detach().cpu().numpy() for i, x in enumerate(inputs)} for inputs in calibration
    ]
    with tempfile.TemporaryDirectory(prefix="hpe_ros_int8_") as folder:
        fp32 = export_onnx(module, list(calibration[0]), Path(folder) / "fp32.onnx")
        int8 = quantize_onnx(fp32, Path(folder) / "int8.onnx", feeds, op_types)
        backend = OnnxRuntimeBackend(int8, providers=["CPUExecutionProvider"], threads=threads)
    backend.name = INT8_BACKEND
    return backend


__all__ = ["DEFAULT_OP_TYPES", "INT8_BACKEND", "int8_backend_from_module", "quantize_onnx"]
