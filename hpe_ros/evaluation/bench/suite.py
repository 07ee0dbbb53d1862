"""The benchmark's cases: each pipeline at each crowd size, under each backend, in one run.

``blazepose`` runs its LiteRT models (it has no other backend); ``topdown`` runs HRNet-W32 +
CA-PF with random weights under torch eager, ONNX Runtime and, where TensorRT and CUDA are
present, TensorRT; ``eventhpe`` runs FlowNet + ShapeNet with random weights and a generated
SMPL-format body (:mod:`hpe_ros.models.smpl_synthetic`), one person, under every backend its
options offer. Crowds are :func:`~hpe_ros.evaluation.bench.scenes.crowd_frame` images.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hpe_ros.evaluation.bench.scenes import MAX_PEOPLE, crowd_frame, event_windows
from hpe_ros.evaluation.bench.stages import CaseResult, OutputTimer, Subject, measure_cases
from hpe_ros.models.smpl_synthetic import save_synthetic_smpl
from hpe_ros.pipelines.registry import create_pipeline, pipeline_spec

PIPELINES = ("blazepose", "topdown", "eventhpe")
BACKENDS = ("torch", "onnxruntime", "tensorrt")


@dataclass(frozen=True)
class BenchSettings:
    pipelines: tuple[str, ...] = PIPELINES
    backends: tuple[str, ...] | None = None  # None: every one available here (:func:`available_backends`)
    people: tuple[int, ...] = (1, 5)
    frames: int = 3  # timed per case (event windows for eventhpe)
    warmup: int = 1
    bag_frames: int = 10  # images (or event windows) per bag; 0: no bags
    device: str = "cpu"
    full: bool = False
    #: pipeline name -> options set on top of the bench's own (e.g. checkpoints, a smaller input)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "pipelines": list(self.pipelines), "backends": list(self.backends or ()),
            "people": list(self.people), "frames": self.frames, "warmup": self.warmup,
            "bag_frames": self.bag_frames, "device": self.device, "full": self.full,
            "options": self.options,
        }  # fmt: skip


QUICK = BenchSettings()
FULL = BenchSettings(people=(1, 5, 10), frames=10, warmup=2, bag_frames=30, full=True)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def available_backends(device: str) -> tuple[str, ...]:
    """torch and ONNX Runtime (when installed); TensorRT where it is installed and ``device`` is CUDA."""
    found = ["torch"]
    if importlib.util.find_spec("onnxruntime") is not None:
        found.append("onnxruntime")
    if device.startswith("cuda") and torch.cuda.is_available() and importlib.util.find_spec("tensorrt"):
        found.append("tensorrt")
    return tuple(found)


def machine_facts(device: str) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    for package in ("onnxruntime", "tensorrt"):
        if importlib.util.find_spec(package) is not None:
            facts[package] = getattr(importlib.import_module(package), "__version__", "?")
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return facts


def _sync(device: str) -> Callable[[], None] | None:
    if device.startswith("cuda"):
        return lambda: torch.cuda.synchronize(torch.device(device))
    return None


def pipeline_backends(name: str, settings: BenchSettings) -> tuple[str, ...]:
    """The backends ``name`` runs under: its ``backend`` option's choices here, or its one runtime."""
    if "backend" not in pipeline_spec(name).defaults:
        return ("litert",) if name == "blazepose" else ("torch",)
    wanted = settings.backends or available_backends(settings.device)
    return tuple(b for b in BACKENDS if b in wanted)


def pipeline_options(name: str, backend: str, settings: BenchSettings, smpl_path: Path) -> dict[str, Any]:
    defaults = pipeline_spec(name).defaults
    options: dict[str, Any] = {}
    if "backend" in defaults:
        options["backend"] = backend
    if "device" in defaults:
        options["device"] = settings.device
    if name == "topdown":
        options["allow_random_weights"] = True
    if name == "eventhpe":
        options["smpl_model_path"] = str(smpl_path)
    return options | settings.options.get(name, {})


def synthetic_smpl_file(folder: Path) -> Path:
    """The generated SMPL-format body the event pipeline runs with (as the tests make it)."""
    path = folder / "synthetic_smpl.pkl"
    if not path.exists():
        save_synthetic_smpl(path)
    return path


def _build(name: str, options: dict[str, Any], backend: str) -> Subject:
    started = time.perf_counter()
    with warnings.catch_warnings():  # random weights, the synthetic body: known here
        warnings.simplefilter("ignore", UserWarning)
        pipeline = create_pipeline(name, options)
    return Subject(pipeline, backend, time.perf_counter() - started)


def run_cases(settings: BenchSettings, work_dir: Path, outputs: OutputTimer | None = None,
              progress: Callable[[str], None] | None = None) -> list[CaseResult]:
    """Every (pipeline, backend, crowd size) case of ``settings``; a pipeline's backends side by side."""
    if any(not 1 <= n <= MAX_PEOPLE for n in settings.people):
        raise ValueError(f"crowd sizes must lie in 1..{MAX_PEOPLE}, got {list(settings.people)}")
    if settings.frames < 1 or settings.warmup < 0:
        raise ValueError("frames must be at least 1 and warmup at least 0")
    smpl_path = synthetic_smpl_file(work_dir)
    cases: list[CaseResult] = []
    for name in settings.pipelines:
        events = pipeline_spec(name).input_kind == "events"
        crowds = (1,) if events else settings.people  # the event pipeline tracks one body
        backends = pipeline_backends(name, settings)
        # blazepose tracks people from frame to frame (video mode): a fresh one finds a new crowd
        # at its first frame; the others are built once (ONNX exports, engines) for every crowd
        fresh_per_crowd = name == "blazepose"
        subjects: list[Subject] = []
        try:
            for people in crowds:
                if progress is not None:
                    progress(f"{name} ({', '.join(backends)}), {people} people")
                if fresh_per_crowd or not subjects:
                    for subject in subjects:
                        subject.pipeline.close()
                    subjects = [
                        _build(name, pipeline_options(name, b, settings, smpl_path), b) for b in backends
                    ]
                if events:
                    frames: list[Any] = event_windows(settings.frames + 1).windows[1:]
                else:
                    frames = [crowd_frame(people, stamp_ns=i * 33_000_000) for i in range(settings.frames)]
                cases += measure_cases(subjects, frames, device=settings.device, people=people,
                                       warmup=settings.warmup, sync=_sync(settings.device), outputs=outputs)
        finally:
            for subject in subjects:
                subject.pipeline.close()
    return cases
