"""Where networks run: a small interface with torch (CPU / CUDA), ONNX Runtime and TensorRT behind it.

Pipelines call ``backend(*inputs)`` with torch tensors and get a tuple of torch tensors back,
whatever runs the network. ``create_backend`` picks an implementation by name.
"""

from __future__ import annotations

import abc
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from hpe_ros.models.packed_linear import pack_linears


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine (missing package or device)."""


class Backend(abc.ABC):
    """Runs one network on fixed-rank inputs."""

    name: str = ""

    @abc.abstractmethod
    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run the network; inputs and outputs are CPU or device tensors (outputs on CPU for non-torch)."""

    def describe(self) -> dict[str, str]:
        return {"backend": self.name}


def _as_tuple(outputs: object) -> tuple[torch.Tensor, ...]:
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    if isinstance(outputs, (tuple, list)):
        return tuple(outputs)
    raise TypeError(f"network returned {type(outputs).__name__}; backends need a tensor or a tuple of tensors")


class TorchBackend(Backend):
    """Eager torch in inference mode, on CPU or CUDA, optionally in half precision on CUDA."""

    name = "torch"

    def __init__(self, module: nn.Module, device: str = "cpu", half: bool = False) -> None:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailableError(f"device {device!r} requested but CUDA is not available")
        if half and not device.startswith("cuda"):
            raise BackendUnavailableError("half precision is only supported on CUDA devices")
        self.device = torch.device(device)
        self.half = half
        self.module = module.eval().to(self.device)
        if half:
            self.module = self.module.half()
        # Big linears (a lifter's, at a few people per frame) run on pre-packed oneDNN weights.
        self.packed_linears = pack_linears(self.module) if self.device.type == "cpu" else 0

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dtype = torch.float16 if self.half else None
        moved = [x.to(self.device, dtype=dtype if x.is_floating_point() else None) for x in inputs]
        with torch.inference_mode():
            return tuple(y.float() for y in _as_tuple(self.module(*moved)))

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "device": str(self.device), "half": str(self.half),
                "packed_linears": str(self.packed_linears)}


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime session over an exported model file (exported from a module if needed)."""

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, providers: Sequence[str] | None = None, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise BackendUnavailableError("onnxruntime is not installed (pip install hpe_ros[onnx])") from error
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Worker threads spin between the operators of one run (a network of many small operators
        # otherwise pays a thread wake-up for each) and stop spinning when the run returns, so
        # that between frames they leave the CPU to rclpy and the other stages. Not when torch's
        # OpenMP threads are told to spin forever: both pools spinning oversubscribe the cores.
        torch_spins = os.environ.get("OMP_WAIT_POLICY", "").upper() == "ACTIVE"
        options.add_session_config_entry("session.intra_op.allow_spinning", "0" if torch_spins else "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        available = ort.get_available_providers()
        chosen = [p for p in (providers or available) if p in available] or ["CPUExecutionProvider"]
        self.path = Path(onnx_path)
        self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=chosen)
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def from_module(cls, module: nn.Module, example_inputs: Sequence[torch.Tensor], onnx_path: str | Path | None = None,
                    dynamic_batch: bool = True, **kwargs: object) -> "OnnxRuntimeBackend":
        """Export ``module`` and load it; without ``onnx_path`` the file lives only until it is loaded
        (a node that starts every day must not leave tens of MB in /tmp each time)."""
        if onnx_path is not None:
            export_onnx(module, example_inputs, onnx_path, dynamic_batch=dynamic_batch)
            return cls(onnx_path, **kwargs)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="hpe_ros_onnx_") as folder:
            path = Path(folder) / "model.onnx"
            export_onnx(module, example_inputs, path, dynamic_batch=dynamic_batch)
            return cls(path, **kwargs)  # type: ignore[arg-type]

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feeds = {name: x.detach().cpu().numpy() for name, x in zip(self.input_names, inputs)}
        return tuple(torch.from_numpy(y) for y in self.session.run(None, feeds))

    def describe(self) -> dict[str, str]:
        model = str(self.path) if self.path.exists() else "exported at start-up (in memory)"
        return {"backend": self.name, "model": model, "providers": ",".join(self.session.get_providers())}


def export_onnx(module: nn.Module, example_inputs: Sequence[torch.Tensor], path: str | Path,
                dynamic_batch: bool = True, opset: int = 17, input_names: Sequence[str] | None = None,
                output_names: Sequence[str] | None = None) -> Path:
    """Export ``module`` to ONNX with inputs ``input_0..`` and outputs ``output_0..`` (or the names
    given), the batch axis dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # no_grad also lets weights derived inside forward (concatenations) become constants; sizes the
    # models turn into Python ints on purpose become constants too, which the tracer warns about.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        outputs = _as_tuple(module.eval()(*example_inputs))
        input_names = list(input_names or (f"input_{i}" for i in range(len(example_inputs))))
        output_names = list(output_names or (f"output_{i}" for i in range(len(outputs))))
        if len(input_names) != len(example_inputs) or len(output_names) != len(outputs):
            raise ValueError(f"{len(input_names)} input / {len(output_names)} output names for a network with "
                             f"{len(example_inputs)} inputs and {len(outputs)} outputs")
        dynamic_axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
        torch.onnx.export(module, tuple(example_inputs), str(path), input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False)
    return path


class TensorRTBackend(Backend):
    """A serialised TensorRT engine (built offline with trtexec from the ONNX export)."""

    name = "tensorrt"

    def __init__(self, engine_path: str | Path) -> None:
        try:
            import tensorrt as trt  # noqa: F401
        except ImportError as error:
            raise BackendUnavailableError(
                "TensorRT is not installed: install NVIDIA TensorRT's Python package on the robot, export the "
                "network with `hpe-ros export-onnx` and build an engine with trtexec; or use backend 'torch' or "
                "'onnxruntime'"
            ) from error
        if not torch.cuda.is_available():
            raise BackendUnavailableError("TensorRT needs a CUDA device")
        raise BackendUnavailableError("the TensorRT engine runner is not implemented yet; use 'onnxruntime' with "
                                      "the TensorrtExecutionProvider or 'torch' on CUDA")

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:  # pragma: no cover - never constructed
        raise NotImplementedError


BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def resolve_backend(kind: str, device: str = "cpu") -> str:
    """The backend ``kind`` stands for: ``auto`` is ONNX Runtime on a CPU when it is installed
    (several times faster there for HRNet and CA-PF), else torch."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {BACKENDS}")
    if kind != "auto":
        return kind
    if device.startswith("cuda") or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    return "onnxruntime"


def create_backend(kind: str, module: nn.Module, example_inputs: Sequence[torch.Tensor], device: str = "cpu",
                   half: bool = False, onnx_path: str | Path | None = None, engine_path: str | Path | None = None,
                   ) -> Backend:
    """Wrap ``module`` in the backend ``kind`` (one of :data:`BACKENDS`)."""
    kind = resolve_backend(kind, device)
    if kind == "torch":
        return TorchBackend(module, device=device, half=half)
    if kind == "onnxruntime":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        return OnnxRuntimeBackend.from_module(module, example_inputs, onnx_path, providers=providers)
    if engine_path is None:  # tensorrt
        raise BackendUnavailableError("backend 'tensorrt' needs an engine file (engine_path)")
    return TensorRTBackend(engine_path)
