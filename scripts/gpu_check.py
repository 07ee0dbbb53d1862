#!/usr/bin/env python3
"""The GPU check of issue 15, in one run of a few minutes: TensorRT FP16 engines for the RGB path
without BlazePose (HRNet-W32 256x192 + CA-PF), the default lifter and EventHPE (FlowNet + one
ShapeNet step), their FP16 outputs against torch fp32 on the same GPU, and speed. Prints JSON.

    python scripts/gpu_check.py [--out gpu_check.json] [--work /tmp/hpe_ros_gpu] [--seconds 2]

Random weights (speed and precision do not depend on them; pass checkpoints with --pose-checkpoint /
--lifter-checkpoint to check those). Timings are the networks alone on inputs already on the GPU,
synchronised per call: frames/s for one person (batch 1) and for 10 people (batch 10), with the
2D flip test (batch 2N) and without; event windows/s at batch 1. ``--backend onnxruntime --device cpu``
runs the same script without a GPU (to try it out; its figures are CPU figures).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpe_ros.pipelines.backends.runtime import (  # noqa: E402
    BackendUnavailableError,
    OnnxRuntimeBackend,
    TensorRTBackend,
    TorchBackend,
)
from hpe_ros.pipelines.export import ExportModel, ExportOptions, build_export, export_model  # noqa: E402

# FP16 against fp32 torch: max|diff| <= atol + rtol * max|fp32| per output (stated, checked here).
FP16_TOLERANCE = {
    "hrnet_w32_heatmap": (2e-2, 2e-2),
    "capf_hrnet32": (1e-2, 2e-2),
    "default_lifter": (1e-2, 1e-2),
    "eventhpe_flownet": (5e-2, 2e-2),
    "eventhpe_shapenet": (5e-2, 5e-2),
}
MAX_BATCH = {
    "hrnet_w32_heatmap": 32,
    "capf_hrnet32": 32,
    "default_lifter": 32,
    "eventhpe_flownet": 4,
    "eventhpe_shapenet": 4,
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(call: Callable[[], object], device: torch.device, seconds: float) -> float:
    """Median seconds per call over ``seconds`` of calls (after a warm-up)."""
    for _ in range(5):
        call()
    _sync(device)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 10:
        started = time.perf_counter()
        call()
        _sync(device)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2]


def _backend(
    kind: str, model: ExportModel, onnx: Path, work: Path, device: torch.device, max_batch: int
) -> object:
    if kind == "tensorrt":  # an FP16 export, built into an engine cached in the work folder
        return TensorRTBackend.from_module(
            model.module,
            model.inputs(1),
            cache_dir=work / "engines",
            precision="fp16",
            max_batch=max_batch,
            device=str(device),
        )
    if kind == "onnxruntime":
        export_model(model, onnx)
        providers = ["CUDAExecutionProvider"] if device.type == "cuda" else ["CPUExecutionProvider"]
        return OnnxRuntimeBackend(onnx, providers=providers)
    # a copy: the torch backend casts its module to half in place, and model.module is the fp32 reference
    return TorchBackend(copy.deepcopy(model.module), device=str(device), half=device.type == "cuda")


def compare(
    name: str,
    reference: tuple[torch.Tensor, ...],
    got: tuple[torch.Tensor, ...],
    output_names: tuple[str, ...],
) -> dict[str, object]:
    atol, rtol = FP16_TOLERANCE[name]
    outputs = {}
    ok = True
    for output, a, b in zip(output_names, reference, got, strict=False):
        error = float((a.double().cpu() - b.double().cpu()).abs().max())
        scale = float(a.double().abs().max())
        allowed = atol + rtol * scale
        outputs[output] = {"max_abs_diff": error, "max_abs_fp32": scale, "allowed": allowed}
        ok = ok and error <= allowed
    return {"tolerance": {"atol": atol, "rtol": rtol}, "outputs": outputs, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/hpe_ros_gpu_check"), help="ONNX files and engines"
    )
    parser.add_argument("--backend", choices=("tensorrt", "onnxruntime", "torch"), default="tensorrt")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    parser.add_argument("--pose-checkpoint")
    parser.add_argument("--lifter-checkpoint")
    args = parser.parse_args()
    report: dict[str, object] = {
        "backend": args.backend,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        report["error"] = "no CUDA device"
        print(json.dumps(report, indent=2))
        return 2
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    if args.backend == "tensorrt":
        try:
            import tensorrt

            report["tensorrt"] = tensorrt.__version__
        except ImportError:
            report["error"] = "TensorRT is not installed (pip install tensorrt)"
            print(json.dumps(report, indent=2))
            return 2
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def options(checkpoint: str | None) -> ExportOptions:
        return ExportOptions(checkpoint=checkpoint, random_weights=checkpoint is None)

    targets = {
        "hrnet_w32_heatmap": options(args.pose_checkpoint),
        "capf_hrnet32": options(args.lifter_checkpoint),
        "default_lifter": ExportOptions(),
        "eventhpe_flownet": options(None),
        "eventhpe_shapenet": options(None),
    }
    backends: dict[str, object] = {}
    models: dict[str, ExportModel] = {}
    precision: dict[str, object] = {}
    build_seconds: dict[str, float] = {}
    for name, option in targets.items():
        model = build_export(name, option)
        onnx = args.work / f"{name}.onnx"
        began = time.perf_counter()
        try:
            backend = _backend(args.backend, model, onnx, args.work, device, MAX_BATCH[name])
        except BackendUnavailableError as error:
            report["error"] = str(error)
            print(json.dumps(report, indent=2))
            return 2
        build_seconds[name] = time.perf_counter() - began
        reference_module = model.module.to(device).eval()
        inputs = [x.to(device) for x in model.inputs(2, seed=7)]
        with torch.inference_mode():
            reference = reference_module(*inputs)
        reference = (reference,) if isinstance(reference, torch.Tensor) else tuple(reference)
        got = backend(*inputs)  # type: ignore[operator]
        precision[name] = compare(name, reference, tuple(got), model.output_names)
        backends[name], models[name] = backend, model
    report["build_seconds"] = build_seconds
    report["fp16_vs_fp32"] = precision

    pose, lifter = backends["hrnet_w32_heatmap"], backends["capf_hrnet32"]
    default = backends["default_lifter"]
    speed: dict[str, object] = {}
    for people in (1, 10):
        for flip in (False, True):
            crops = models["hrnet_w32_heatmap"].inputs(people * (2 if flip else 1))[0].to(device)
            lifter_inputs = [x.to(device) for x in models["capf_hrnet32"].inputs(people * (2 if flip else 1))]
            pose_s = time_call(lambda c=crops: pose(c), device, args.seconds)  # type: ignore[operator, misc]
            lifter_s = time_call(lambda x=lifter_inputs: lifter(*x), device, args.seconds)  # type: ignore[operator, misc]
            key = f"{people}_people{'_flip' if flip else ''}"
            speed[f"rgb_hrnet32_capf_{key}"] = {
                "hrnet_ms": pose_s * 1e3,
                "capf_ms": lifter_s * 1e3,
                "frames_per_s": 1.0 / (pose_s + lifter_s),
            }
        features = models["default_lifter"].inputs(people)[0].to(device)
        lifter_ms = time_call(lambda f=features: default(f), device, args.seconds) * 1e3  # type: ignore[operator, misc]
        speed[f"default_lifter_{people}_people_ms"] = lifter_ms
    flow_in = models["eventhpe_flownet"].inputs(1)[0].to(device)
    step_in = [x.to(device) for x in models["eventhpe_shapenet"].inputs(1)]
    flow_s = time_call(lambda: backends["eventhpe_flownet"](flow_in), device, args.seconds)  # type: ignore[operator]
    step_s = time_call(lambda: backends["eventhpe_shapenet"](*step_in), device, args.seconds)  # type: ignore[operator]
    speed["eventhpe"] = {
        "flownet_ms": flow_s * 1e3,
        "shapenet_step_ms": step_s * 1e3,
        "windows_per_s": 1.0 / (flow_s + step_s),
    }
    report["speed"] = speed
    report["goals"] = {
        "rgb_1_person_300_fps": speed["rgb_hrnet32_capf_1_people"]["frames_per_s"] >= 300,  # type: ignore[index]
        "rgb_10_people_60_fps": speed["rgb_hrnet32_capf_10_people"]["frames_per_s"] >= 60,  # type: ignore[index]
        "event_20_windows_per_s": speed["eventhpe"]["windows_per_s"] >= 20,  # type: ignore[index]
        "fp16_within_tolerance": all(p["ok"] for p in precision.values()),  # type: ignore[index]
    }
    report["total_seconds"] = time.perf_counter() - started
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
