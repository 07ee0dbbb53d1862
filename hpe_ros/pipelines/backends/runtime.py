"""Where networks run: a small interface with torch (CPU / CUDA), ONNX Runtime and TensorRT behind it.

Pipelines call ``backend(*inputs)`` with torch tensors and get a tuple of torch tensors back,
whatever runs the network. ``create_backend`` picks an implementation by name.

TensorRT (GPU machines only, import-guarded): an engine is built from the ONNX export (FP16, or
INT8 with a calibrator), serialised into a cache folder under a key of (ONNX file hash, GPU name,
TensorRT version, precision, batch range) and reused; it runs on CUDA tensors, whose data
pointers are its bindings, with outputs left on the GPU.
"""

from __future__ import annotations

import abc
import copy
import importlib.util
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from hpe_ros.core.files import file_sha256
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
    raise TypeError(
        f"network returned {type(outputs).__name__}; backends need a tensor or a tuple of tensors"
    )


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
        return {
            "backend": self.name,
            "device": str(self.device),
            "half": str(self.half),
            "packed_linears": str(self.packed_linears),
        }


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime session over an exported model file (exported from a module if needed)."""

    name = "onnxruntime"

    def __init__(
        self, onnx_path: str | Path, providers: Sequence[str] | None = None, threads: int = 0
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise BackendUnavailableError(
                "onnxruntime is not installed (pip install hpe_ros[onnx])"
            ) from error
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
    def from_module(
        cls,
        module: nn.Module,
        example_inputs: Sequence[torch.Tensor],
        onnx_path: str | Path | None = None,
        dynamic_batch: bool = True,
        **kwargs: object,
    ) -> OnnxRuntimeBackend:
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
        feeds = {name: x.detach().cpu().numpy() for name, x in zip(self.input_names, inputs, strict=False)}
        return tuple(torch.from_numpy(y) for y in self.session.run(None, feeds))

    def describe(self) -> dict[str, str]:
        model = str(self.path) if self.path.exists() else "exported at start-up (in memory)"
        return {"backend": self.name, "model": model, "providers": ",".join(self.session.get_providers())}


def export_onnx(
    module: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str | Path,
    dynamic_batch: bool = True,
    opset: int = 17,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> Path:
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
            raise ValueError(
                f"{len(input_names)} input / {len(output_names)} output names for a network with "
                f"{len(example_inputs)} inputs and {len(outputs)} outputs"
            )
        dynamic_axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
        torch.onnx.export(
            module,
            tuple(example_inputs),
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False,
        )
    return path


# ---- TensorRT ------------------------------------------------------------------------------------

ENGINE_CACHE_ENV = "HPE_ROS_ENGINE_CACHE"
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_HINT = (
    "install NVIDIA TensorRT's Python package (pip install tensorrt) on a machine with a CUDA GPU; "
    "`hpe-ros export MODEL OUT.onnx --engine OUT.engine` exports a network and builds its engine; "
    "or use backend 'torch' or 'onnxruntime'"
)


def _tensorrt() -> Any:
    """The ``tensorrt`` module, or :class:`BackendUnavailableError` saying what to install."""
    try:
        import tensorrt as trt  # noqa: PLC0415 (optional, GPU machines only)
    except ImportError as error:
        raise BackendUnavailableError(f"TensorRT is not installed: {TENSORRT_HINT}") from error
    return trt


def _require_cuda() -> None:
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"TensorRT needs a CUDA device and this torch sees none: {TENSORRT_HINT}"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z.]+", "-", text).strip("-").lower() or "unknown"


@dataclass(frozen=True)
class EngineKey:
    """What a serialised engine is only valid for: the ONNX file, the GPU, the TensorRT version, and
    the build settings (precision and the batch range of the optimisation profile)."""

    model_sha256: str
    gpu_name: str
    tensorrt_version: str
    precision: str = "fp16"
    max_batch: int = 16

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{64}", self.model_sha256):
            raise ValueError(f"model_sha256 must be 64 lowercase hex digits, got {self.model_sha256!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")

    def filename(self) -> str:
        return (
            f"{self.model_sha256[:16]}_{_slug(self.gpu_name)}_trt{_slug(self.tensorrt_version)}"
            f"_{self.precision}_b{self.max_batch}.engine"
        )


def default_engine_cache() -> Path:
    """``$HPE_ROS_ENGINE_CACHE``, else ``$XDG_CACHE_HOME/hpe_ros/engines`` (``~/.cache`` by default)."""
    if os.environ.get(ENGINE_CACHE_ENV):
        return Path(os.environ[ENGINE_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hpe_ros" / "engines"


def engine_cache_path(key: EngineKey, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir if cache_dir is not None else default_engine_cache()) / key.filename()


def cached_engine(key: EngineKey, build: Callable[[], bytes], cache_dir: str | Path | None = None) -> Path:
    """The engine file for ``key``: built with ``build()`` and written atomically the first time only."""
    path = engine_cache_path(key, cache_dir)
    if path.is_file() and path.stat().st_size > 0:
        return path
    data = build()
    if not data:
        raise RuntimeError(f"building the TensorRT engine for {key.filename()} produced nothing")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)  # a reader never sees half an engine, and two builders do not collide
    return path


@dataclass(frozen=True)
class ShapeRange:
    """One input's optimisation profile: the batch varies, every other size is the example's."""

    minimum: tuple[int, ...]
    optimum: tuple[int, ...]
    maximum: tuple[int, ...]


def profile_shapes(
    example_shapes: Sequence[Sequence[int]], max_batch: int, opt_batch: int = 1
) -> list[ShapeRange]:
    """Batch 1..``max_batch`` (tuned for ``opt_batch``) for inputs shaped like the examples."""
    if not 1 <= opt_batch <= max_batch:
        raise ValueError(f"need 1 <= opt_batch ({opt_batch}) <= max_batch ({max_batch})")
    ranges = []
    for shape in example_shapes:
        if len(shape) == 0:
            raise ValueError("inputs need a batch axis")
        rest = tuple(int(s) for s in shape[1:])
        if any(s < 1 for s in rest):
            raise ValueError(f"only the batch axis may be dynamic, got input shape {tuple(shape)}")
        ranges.append(ShapeRange((1, *rest), (opt_batch, *rest), (max_batch, *rest)))
    return ranges


class Int8Calibrator(Protocol):
    """Calibration data for an INT8 build: batches of inputs as the network takes them (any device)."""

    cache_path: Path | None

    def batches(self) -> Iterable[Sequence[torch.Tensor]]: ...


def _trt_calibrator(trt: Any, calibrator: Int8Calibrator, device: torch.device) -> Any:
    """``calibrator`` as TensorRT's entropy calibrator (device buffers from torch)."""
    if not hasattr(trt, "IInt8EntropyCalibrator2"):
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} has no implicit INT8 calibration; quantise the "
            "ONNX explicitly (Q/DQ nodes) and build with precision 'fp16'"
        )

    class _Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self._batches = iter(calibrator.batches())
            self._held: list[torch.Tensor] = []
            self._size = 1

        def get_batch_size(self) -> int:
            return self._size

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                batch = next(self._batches)
            except StopIteration:
                return None
            self._held = [x.to(device, torch.float32).contiguous() for x in batch]
            self._size = int(self._held[0].shape[0])
            return [int(x.data_ptr()) for x in self._held]

        def read_calibration_cache(self) -> bytes | None:
            path = calibrator.cache_path
            return path.read_bytes() if path is not None and path.is_file() else None

        def write_calibration_cache(self, cache: bytes) -> None:
            if calibrator.cache_path is not None:
                calibrator.cache_path.parent.mkdir(parents=True, exist_ok=True)
                calibrator.cache_path.write_bytes(bytes(cache))

    return _Calibrator()


def has_precision_flags(trt: Any) -> bool:
    """Whether this TensorRT still has the weak-typing precision flags (FP16 / INT8 builder flags, up to
    10.x); TensorRT 11 builds every tensor in the type the ONNX gives it."""
    return hasattr(trt.BuilderFlag, "FP16")


def half_copy(
    module: nn.Module,
    inputs: Sequence[torch.Tensor],
    device: str = "cuda",
) -> tuple[nn.Module, list[torch.Tensor]]:
    """A float16 copy of ``module`` and its example inputs on ``device``, to export an FP16 ONNX
    (what a strongly typed TensorRT builds in FP16)."""
    _require_cuda()
    target = torch.device(device if device.startswith("cuda") else "cuda")
    copied = copy.deepcopy(module).to(target).half().eval()
    moved = [x.to(target, torch.float16) if x.is_floating_point() else x.to(target) for x in inputs]
    return copied, moved


def build_engine(
    onnx_path: str | Path,
    precision: str = "fp16",
    max_batch: int = 16,
    opt_batch: int = 1,
    calibrator: Int8Calibrator | None = None,
    workspace_bytes: int = 4 << 30,
) -> bytes:
    """A serialised TensorRT engine from an ONNX file with a dynamic batch (needs TensorRT and CUDA)."""
    trt = _tensorrt()
    _require_cuda()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and calibrator is None:
        raise ValueError("an INT8 engine needs a calibrator (batches of real inputs)")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(str(trt.__version__).split(".")[0])
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    weak_typing = has_precision_flags(trt)
    if precision in ("fp16", "int8") and weak_typing:
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "fp16" and any(t.dtype == trt.float32 for t in inputs):
        # TensorRT 11 types networks strongly: the ONNX's own types are the engine's.
        raise ValueError(
            f"TensorRT {trt.__version__} builds {onnx_path} in the precision of its tensors: give an "
            "FP16 export (hpe-ros export ... --engine exports one; TensorRTBackend.from_module too)"
        )
    profile = builder.create_optimization_profile()
    ranges = profile_shapes([tuple(t.shape) for t in inputs], max_batch, opt_batch)
    for tensor, shapes in zip(inputs, ranges, strict=True):
        profile.set_shape(tensor.name, shapes.minimum, shapes.optimum, shapes.maximum)
    config.add_optimization_profile(profile)
    if precision == "int8":
        assert calibrator is not None
        if not weak_typing:
            raise BackendUnavailableError(
                f"TensorRT {trt.__version__} has no calibrated INT8 (implicit "
                "quantisation was removed): quantise the ONNX with Q/DQ nodes instead"
            )
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(profile)
        config.int8_calibrator = _trt_calibrator(trt, calibrator, torch.device("cuda"))
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine from {onnx_path} (see its log above)")
    return bytes(serialized)


def engine_key_for(
    onnx_path: str | Path, precision: str = "fp16", max_batch: int = 16, device: str = "cuda"
) -> EngineKey:
    """The cache key of ``onnx_path`` on this machine's GPU and TensorRT."""
    trt = _tensorrt()
    _require_cuda()
    return EngineKey(
        file_sha256(onnx_path),
        torch.cuda.get_device_name(torch.device(device)),
        str(trt.__version__),
        precision,
        max_batch,
    )


def load_or_build_engine(
    onnx_path: str | Path,
    cache_dir: str | Path | None = None,
    precision: str = "fp16",
    max_batch: int = 16,
    opt_batch: int = 1,
    calibrator: Int8Calibrator | None = None,
    device: str = "cuda",
) -> Path:
    """The cached engine of ``onnx_path`` for this GPU and TensorRT, built on the first call."""
    key = engine_key_for(onnx_path, precision, max_batch, device)
    return cached_engine(
        key, lambda: build_engine(onnx_path, precision, max_batch, opt_batch, calibrator), cache_dir
    )


class TensorRTBackend(Backend):
    """A serialised TensorRT engine run on CUDA tensors: torch tensors' data pointers are the bindings,
    outputs are allocated by torch on the same device and stream, so nothing goes through the host."""

    name = "tensorrt"

    def __init__(self, engine_path: str | Path, device: str = "cuda") -> None:
        trt = _tensorrt()
        _require_cuda()
        self.trt = trt
        self.device = torch.device(device if device.startswith("cuda") else "cuda")
        self.path = Path(engine_path)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        with torch.cuda.device(self.device):
            self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise BackendUnavailableError(
                    f"{self.path} is not an engine for this GPU / TensorRT version; delete it to rebuild"
                )
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {
            n: torch.from_numpy(np.empty(0, dtype=trt.nptype(self.engine.get_tensor_dtype(n)))).dtype
            for n in names
        }

    @classmethod
    def from_onnx(
        cls,
        onnx_path: str | Path,
        cache_dir: str | Path | None = None,
        precision: str = "fp16",
        max_batch: int = 16,
        calibrator: Int8Calibrator | None = None,
        device: str = "cuda",
    ) -> TensorRTBackend:
        engine = load_or_build_engine(
            onnx_path, cache_dir, precision, max_batch, calibrator=calibrator, device=device
        )
        return cls(engine, device=device)

    @classmethod
    def from_module(
        cls,
        module: nn.Module,
        example_inputs: Sequence[torch.Tensor],
        cache_dir: str | Path | None = None,
        precision: str = "fp16",
        max_batch: int = 16,
        calibrator: Int8Calibrator | None = None,
        device: str = "cuda",
    ) -> TensorRTBackend:
        """Export ``module`` to ONNX in the cache (named by its hash) and build or reuse its engine;
        what a node does in ``on_configure``."""
        _tensorrt()
        _require_cuda()
        folder = Path(cache_dir if cache_dir is not None else default_engine_cache())
        folder.mkdir(parents=True, exist_ok=True)
        if precision == "fp16":  # an FP16 graph: built in FP16 by every TensorRT, weakly or strongly typed
            exported_module, examples = half_copy(module, [x.detach() for x in example_inputs], device)
        else:
            exported_module, examples = (
                copy.deepcopy(module).cpu(),
                [x.detach().cpu() for x in example_inputs],
            )
        with tempfile.TemporaryDirectory(dir=folder, prefix=".export_") as scratch:
            exported = export_onnx(exported_module, examples, Path(scratch) / "model.onnx")
            onnx_path = folder / f"{file_sha256(exported)[:16]}.onnx"
            os.replace(exported, onnx_path)
        return cls.from_onnx(onnx_path, folder, precision, max_batch, calibrator, device)

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f"engine {self.path.name} takes {len(self.input_names)} inputs, got {len(inputs)}"
            )
        held = []  # device copies must live until the stream has run them
        for name, x in zip(self.input_names, inputs, strict=False):
            bound = x.to(
                self.device, self.dtypes[name], non_blocking=True
            ).contiguous()  # no-op when already so
            held.append(bound)
            self.context.set_input_shape(name, tuple(bound.shape))
            self.context.set_tensor_address(name, int(bound.data_ptr()))
        outputs = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, int(out.data_ptr()))
            outputs.append(out)
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"TensorRT engine {self.path.name} failed to run")
        # Later torch work on this stream is ordered after the engine; only a host read waits.
        return tuple(o if o.dtype != torch.float16 else o.float() for o in outputs)

    def describe(self) -> dict[str, str]:
        return {
            "backend": self.name,
            "engine": str(self.path),
            "device": str(self.device),
            "tensorrt": str(self.trt.__version__),
        }


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


def create_backend(
    kind: str,
    module: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    device: str = "cpu",
    half: bool = False,
    onnx_path: str | Path | None = None,
    engine_path: str | Path | None = None,
    engine_cache: str | Path | None = None,
) -> Backend:
    """Wrap ``module`` in the backend ``kind`` (one of :data:`BACKENDS`). TensorRT runs ``engine_path``,
    or exports ``module`` and builds its engine in ``engine_cache`` (FP16 with ``half``) the first time."""
    kind = resolve_backend(kind, device)
    if kind == "torch":
        return TorchBackend(module, device=device, half=half)
    if kind == "onnxruntime":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        return OnnxRuntimeBackend.from_module(module, example_inputs, onnx_path, providers=providers)
    if engine_path is not None:  # tensorrt
        return TensorRTBackend(engine_path, device=device)
    return TensorRTBackend.from_module(
        module, example_inputs, cache_dir=engine_cache, precision="fp16" if half else "fp32", device=device
    )
