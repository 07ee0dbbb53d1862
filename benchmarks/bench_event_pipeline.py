"""Time per event window of the EventHPE pipeline on the CPU, by stage, at the official 256 x 256.

Events are simulated from a textured square moving over a 346 x 260 (DAVIS-sized) sensor and cut
into 50 ms windows. For each torch thread count, the pipeline runs the same windows with FlowNet
and ShapeNet on each backend, window by window in turn: torch eager with its BatchNorms (as the
pipeline ran before it had backends), torch with BatchNorms folded, ONNX Runtime (folded, as
``backend: auto`` runs on a CPU), and ONNX Runtime INT8 (``backend: onnxruntime-int8``, quantised and
calibrated when the pipeline is made; with its per-window differences from fp32: flow end-point error,
joints and vertices in mm). Prints the median time per window and per stage of each,
windows/s and the ratio to torch eager, and the largest difference of ONNX Runtime's joints and
flow from torch's. Then, side by side, the streaming step (one ShapeNet step per window, GRU and
SMPL state carried) against re-running ShapeNet over the last 8 windows for every window (what a
clip model without a carried state would cost): their ratio.

    python benchmarks/bench_event_pipeline.py [--windows 6] [--size 256] [--threads 1 2]
        [--backends eager torch onnxruntime int8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hpe_ros.models.eventhpe import SMPLInitialState  # noqa: E402
from hpe_ros.models.rotations import matrix_to_axis_angle  # noqa: E402
from hpe_ros.pipelines.base import EventWindow, PoseResult  # noqa: E402
from hpe_ros.pipelines.events.eventhpe import EventHPEPipeline  # noqa: E402
from hpe_ros.pipelines.events.representations import EventWindower  # noqa: E402
from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events  # noqa: E402

WIDTH, HEIGHT = 346, 260
WINDOW_NS = 50_000_000
CLIP = 8


def simulated_windows(count: int) -> list[EventWindow]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames, stamps = [], []
    for i in range(count * 10 + 12):  # 200 fps
        left = 40 + 2 * i
        inside = (xs >= left) & (xs < left + 80) & (ys >= 60) & (ys < 200)
        frames.append(np.where(inside, 180 + 60 * np.sin(ys / 4.0) * np.cos(xs / 5.0), 40).astype(np.uint8))
        stamps.append(i * 5_000_000)
    events = simulate_events(np.stack(frames), np.array(stamps), EventSimulatorConfig(noise_rate_hz=2.0))
    return EventWindower(WIDTH, HEIGHT, duration_ns=WINDOW_NS).add(events)[:count]


VARIANTS = {"eager": ("torch", False), "torch": ("torch", True), "onnxruntime": ("onnxruntime", True),
            "int8": ("onnxruntime-int8", True)}
LABELS = {"eager": "torch eager (BatchNorms)", "torch": "torch, folded", "onnxruntime": "onnxruntime, folded",
          "int8": "onnxruntime-int8"}


def int8_difference(got: PoseResult, want: PoseResult) -> dict[str, float]:
    """How far the INT8 window is from fp32: flow end-point error, joints and vertices (mm), and the
    pelvis error against the fp32 pelvis's move since the previous window (tracking drift)."""
    mine, theirs = got.people[0], want.people[0]
    assert got.flow is not None and want.flow is not None
    assert mine.smpl is not None and theirs.smpl is not None
    assert mine.smpl.vertices is not None and theirs.smpl.vertices is not None
    flow_error = np.linalg.norm(got.flow - want.flow, axis=-1)
    root_relative = (mine.joints_3d - mine.joints_3d[:1]) - (theirs.joints_3d - theirs.joints_3d[:1])
    return {
        "flow EPE mean px": float(flow_error.mean()),
        "|flow| mean px": float(np.linalg.norm(want.flow, axis=-1).mean()),
        "joints mean mm": float(np.linalg.norm(mine.joints_3d - theirs.joints_3d, axis=1).mean() * 1e3),
        "root-relative joints mean mm": float(np.linalg.norm(root_relative, axis=1).mean() * 1e3),
        "vertices mean mm": float(np.linalg.norm(mine.smpl.vertices - theirs.smpl.vertices, axis=1).mean())
        * 1e3,
    }


def run(windows: list[EventWindow], size: int, threads: int, variants: list[str]) -> None:
    torch.set_num_threads(threads)
    pipelines = {}
    for variant in variants:
        backend, fold = VARIANTS[variant]
        torch.manual_seed(0)  # the same random weights in every pipeline
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # random weights, synthetic SMPL: known here
            pipeline = EventHPEPipeline(input_size=size, publish_flow=True, backend="torch")
        if variant != "torch":
            backends = pipeline.network_backends(backend, fold=fold)
            pipeline.flownet_backend, pipeline.shapenet_backend = backends
        pipeline.process(windows[0])  # warm-up (oneDNN primitives, ONNX Runtime's first run)
        pipelines[variant] = pipeline
    totals: dict[str, list[float]] = {v: [] for v in variants}
    stages: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    worst = {"joints (m)": 0.0, "flow (px)": 0.0}
    int8_errors: dict[str, list[float]] = {}
    for window in windows[1:]:
        results = {}
        for variant, pipeline in pipelines.items():  # in turn: the same load on each
            started = time.perf_counter()
            results[variant] = pipeline.process(window)
            totals[variant].append(time.perf_counter() - started)
            for stage, seconds in results[variant].timings_s.items():
                stages[variant].setdefault(stage, []).append(seconds)
        if "onnxruntime" in results and "torch" in results:
            got, want = results["onnxruntime"], results["torch"]
            joints = np.abs(got.people[0].joints_3d - want.people[0].joints_3d).max()
            worst["joints (m)"] = max(worst["joints (m)"], float(joints))
            assert got.flow is not None and want.flow is not None  # publish_flow is on
            worst["flow (px)"] = max(worst["flow (px)"], float(np.abs(got.flow - want.flow).max()))
        if "int8" in results and "onnxruntime" in results:
            for key, value in int8_difference(results["int8"], results["onnxruntime"]).items():
                int8_errors.setdefault(key, []).append(value)
    events = sum(w.events.size for w in windows[1:]) // (len(windows) - 1)
    print(f"threads {threads}: {len(windows) - 1} windows, {events} events each")
    base = statistics.median(totals[variants[0]])
    for variant in variants:
        total = statistics.median(totals[variant])
        per_stage = ", ".join(f"{k} {statistics.median(v) * 1e3:.0f}" for k, v in stages[variant].items())
        print(f"  {LABELS[variant]:<26} {total * 1e3:5.0f} ms per window, {1 / total:5.2f} windows/s "
              f"(x{base / total:.2f} of {LABELS[variants[0]]}); median ms: {per_stage}")
    if "onnxruntime" in pipelines and "torch" in pipelines:
        print("  onnxruntime vs torch, largest difference: "
              + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))
    if int8_errors:
        print("  onnxruntime-int8 vs onnxruntime (fp32), per window: "
              + "; ".join(f"{k} {' '.join(f'{v:.3g}' for v in values)}" for k, values in int8_errors.items()))
    pipeline = pipelines[variants[0]]

    # streaming step vs the clip model re-run over the last CLIP windows for every window
    frames = torch.from_numpy(pipeline.window_input(windows[1]).frames)[None]
    flow = pipeline.flownet_backend(frames)[0]
    step_times = []
    for _ in range(3):
        started = time.perf_counter()
        pipeline.step(frames, flow)
        step_times.append(time.perf_counter() - started)
    state = pipeline.initial_state()
    pose = matrix_to_axis_angle(state.rotmats[0]).reshape(1, 72)
    initial = SMPLInitialState(state.translation, pose, state.betas)
    clip_frames = frames[:, None].expand(1, CLIP, -1, -1, -1)
    clip_flows = flow[:, None].expand(1, CLIP, -1, -1, -1)
    started = time.perf_counter()
    with torch.no_grad():
        pipeline.shapenet(clip_frames, initial, clip_flows)
    clip_time = time.perf_counter() - started
    step = statistics.median(step_times)
    print(f"  ShapeNet per window: streaming step {step * 1e3:.0f} ms vs clip of {CLIP} re-run "
          f"{clip_time * 1e3:.0f} ms: x{clip_time / step:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()])
    parser.add_argument("--backends", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    windows = simulated_windows(args.windows)
    print(f"EventHPE pipeline, {args.size} x {args.size} network input, {WIDTH} x {HEIGHT} sensor, "
          f"{WINDOW_NS // 1_000_000} ms windows, torch {torch.__version__} on CPU")
    for threads in dict.fromkeys(args.threads):
        run(windows, args.size, threads, args.backends)


if __name__ == "__main__":
    main()
