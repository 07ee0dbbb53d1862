#!/usr/bin/env python3
"""Accuracy and speed of the offline default RGB models: BlazePose 2D -> default lifter -> placement.

Usage (from the repository root)::

    python scripts/eval_default_pipeline.py [--data ../shared/data] [--repeats 7] [--json out.json]

Reports, all seeded and deterministic except the timings:

1. the default lifter on the held-out CMU test split with seeded virtual cameras
   (``hpe_ros.pipelines.rgb.default_lifter.evaluate_lifter_on_mocap``, seed 1 and 4,096 views as in
   ``train_default_lifter``), beside the numbers stored in the weights file;
2. on the 4 Human3.6M frames of ``h36m_frames``, with ground-truth 2D and with BlazePose 2D
   (whole image, static mode, mapped to H36M-17): MPJPE / P-MPJPE / N-MPJPE per frame and mean,
   and the root error of the metric placement with each frame's real camera (intrinsics and
   distortion), also with the true relative pose to separate the placement from the lifter;
3. median time per image of each stage on this machine (BlazePose on a 1000x1002 frame, the
   lifter for one person, the placement of one person).

BlazePose's COCO OKS / AP come from ``scripts/eval_blazepose_coco.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from eval_h36m_frames import blazepose_keypoints  # noqa: E402  (this folder is on sys.path)

from hpe_ros.datasets.h36m_frames import H36MFrames, load_h36m_frames  # noqa: E402
from hpe_ros.evaluation.metrics import evaluate_poses  # noqa: E402
from hpe_ros.models.checkpoints import read_checkpoint  # noqa: E402
from hpe_ros.pipelines.output.placement import place_skeletons  # noqa: E402
from hpe_ros.pipelines.rgb.default_lifter import (  # noqa: E402
    DefaultLifter,
    default_lifter_path,
    lift_with_cameras,
    load_default_lifter,
)
from hpe_ros.training.default_lifter import MocapFrames, evaluate_lifter_on_mocap  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
CMU_EVAL_SEED = 1  # train_default_lifter evaluates with seed + 1 (trained with seed 0)
CMU_EVAL_SAMPLES = 4096


@dataclass(frozen=True)
class FrameResult:
    frame: str
    mpjpe_mm: float
    p_mpjpe_mm: float
    n_mpjpe_mm: float
    keypoint_error_px: float  # mean 2D distance to the annotated H36M joints (0 for ground truth)
    root_error_mm: float  # placement with the lifted pose; NaN if not metric
    root_depth_error_mm: float  # signed z error of that placement
    root_error_true_pose_mm: float  # placement with the true pelvis-relative pose


def frame_label(frames: H36MFrames, index: int) -> str:
    s = frames.samples
    return f"{s.subjects[index]} {s.actions[index]} cam {s.camera_ids[index]} #{s.frame_indices[index]}"


def place_root(
    frames: H36MFrames, keypoints: np.ndarray, scores: np.ndarray, relative: np.ndarray
) -> np.ndarray:
    """(N, 3) placed pelvis positions (metres, NaN if not metric) with each frame's own camera."""
    roots = np.full((len(frames), 3), np.nan)
    for index, camera in enumerate(frames.cameras):
        placement = place_skeletons(keypoints[index], relative[index], camera.camera, scores[index])
        if placement.metric:
            roots[index] = placement.translation
    return roots


def evaluate_h36m(
    frames: H36MFrames, lifter: DefaultLifter, keypoints: np.ndarray, scores: np.ndarray
) -> tuple[list[FrameResult], dict[str, float]]:
    """Per-frame results and their means for one 2D source."""
    samples = frames.samples
    truth = samples.joints_3d
    root = samples.root_index
    relative_truth = truth - truth[:, root : root + 1]
    labels = [frame_label(frames, i) for i in range(len(frames))]
    predicted = lift_with_cameras(lifter, keypoints, scores, [c.camera for c in frames.cameras])
    report = evaluate_poses(predicted, truth, actions=labels, root_index=root, merge_trials=False)
    placed = place_root(frames, keypoints, scores, predicted)
    placed_true = place_root(frames, keypoints, scores, relative_truth)
    annotated = samples.keypoints_2d
    results = []
    for index, label in enumerate(labels):
        metrics = report.per_action[label]
        results.append(
            FrameResult(
                frame=label,
                mpjpe_mm=metrics.mpjpe_mm,
                p_mpjpe_mm=metrics.p_mpjpe_mm,
                n_mpjpe_mm=metrics.n_mpjpe_mm,
                keypoint_error_px=float(
                    np.nanmean(np.linalg.norm(keypoints[index] - annotated[index], axis=-1))
                ),
                root_error_mm=float(1000 * np.linalg.norm(placed[index] - truth[index, root])),
                root_depth_error_mm=float(1000 * (placed[index, 2] - truth[index, root, 2])),
                root_error_true_pose_mm=float(1000 * np.linalg.norm(placed_true[index] - truth[index, root])),
            )
        )
    means = {
        key: float(np.mean([getattr(r, key) for r in results]))
        for key in FrameResult.__dataclass_fields__
        if key != "frame"
    }
    return results, means


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_stages(frames: H36MFrames, lifter: DefaultLifter, repeats: int) -> dict[str, float]:
    """Median milliseconds per image of each stage, over the frames and ``repeats`` runs each."""
    from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector, to_h36m17  # noqa: PLC0415 (optional)

    images = [frames.read_image(i) for i in range(len(frames))]
    samples = frames.samples
    stage_times: dict[str, list[float]] = {"blazepose_ms": [], "lifter_ms": [], "placement_ms": []}
    with BlazePoseDetector() as detector:
        detector.detect(images[0])  # builds the graph
        for index, image in enumerate(images):
            stage_times["blazepose_ms"].append(
                median_seconds(lambda image=image: [to_h36m17(p) for p in detector.detect(image)], repeats)
            )
            keypoints, scores = samples.keypoints_2d[index : index + 1], samples.scores_2d[index : index + 1]
            camera = frames.cameras[index].camera
            relative = lifter.lift(keypoints, scores, camera)
            stage_times["lifter_ms"].append(
                median_seconds(lambda k=keypoints, s=scores, c=camera: lifter.lift(k, s, c), repeats)
            )
            stage_times["placement_ms"].append(
                median_seconds(
                    lambda k=keypoints, r=relative, s=scores, c=camera: place_skeletons(k, r, c, s), repeats
                )
            )
    return {key: 1000.0 * float(np.median(values)) for key, values in stage_times.items()}


def print_frames(title: str, results: list[FrameResult], means: dict[str, float]) -> None:
    print(f"\n== {title}")
    header = (
        f"{'frame':<38}{'MPJPE':>8}{'P-MPJPE':>9}{'N-MPJPE':>9}{'2D px':>8}"
        f"{'root':>8}{'root z':>8}{'root|gt3d':>11}"
    )
    print(header + "\n" + "-" * len(header))
    rows = [(r.frame, asdict(r)) for r in results] + [("mean", means)]
    for name, v in rows:
        print(
            f"{name:<38}{v['mpjpe_mm']:>8.1f}{v['p_mpjpe_mm']:>9.1f}{v['n_mpjpe_mm']:>9.1f}"
            f"{v['keypoint_error_px']:>8.1f}{v['root_error_mm']:>8.0f}{v['root_depth_error_mm']:>+8.0f}"
            f"{v['root_error_true_pose_mm']:>11.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--weights", type=Path, help="default-lifter file (default: the package's)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per image and stage")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every number as JSON here")
    args = parser.parse_args(argv)

    weights = args.weights or default_lifter_path()
    lifter = load_default_lifter(weights)
    stored = read_checkpoint(weights).get("metrics", {})
    payload: dict[str, object] = {"weights": str(weights), "stored_metrics": stored}

    print(f"default lifter {weights}")
    test = MocapFrames.from_split(args.data / "cmu_mocap", "test")
    print(
        f"\n== CMU test split ({test.num_sequences} sequences, {test.num_frames} frames), "
        f"{CMU_EVAL_SAMPLES} virtual views, seed {CMU_EVAL_SEED}: measured (stored in the weights file)"
    )
    cmu: dict[str, dict[str, float]] = {}
    for noisy in (True, False):
        name = "noisy" if noisy else "clean"
        cmu[name] = evaluate_lifter_on_mocap(lifter, test, CMU_EVAL_SEED, CMU_EVAL_SAMPLES, noisy=noisy)
        measured = cmu[name]
        stored_mpjpe = stored.get(f"cmu_test_{name}_mpjpe_mm", np.nan)
        stored_p_mpjpe = stored.get(f"cmu_test_{name}_p_mpjpe_mm", np.nan)
        print(
            f"{name:<6} 2D: MPJPE {measured['mpjpe_mm']:.1f} ({stored_mpjpe:.1f}) mm, "
            f"P-MPJPE {measured['p_mpjpe_mm']:.1f} ({stored_p_mpjpe:.1f}) mm"
        )
    payload["cmu_test"] = cmu

    frames = load_h36m_frames(args.data / "h36m_frames")
    sources = {
        "gt": (frames.samples.keypoints_2d, frames.samples.scores_2d),
        "blazepose": blazepose_keypoints(frames),
    }
    titles = {
        "gt": "Human3.6M frames, ground-truth 2D -> default lifter",
        "blazepose": "Human3.6M frames, BlazePose 2D (whole image) -> default lifter",
    }
    h36m = {}
    for source, (keypoints, scores) in sources.items():
        results, means = evaluate_h36m(frames, lifter, keypoints, scores)
        print_frames(titles[source], results, means)
        h36m[source] = {"frames": [asdict(r) for r in results], "mean": means}
    print(
        "(root: placement error of the pelvis with the frame's real camera; root z: its signed depth "
        "error;\n root|gt3d: the same placement fed the true pelvis-relative pose instead of the lifted one)"
    )
    payload["h36m_frames"] = h36m

    if not args.skip_timing:
        timings = time_stages(frames, lifter, max(1, args.repeats))
        threads = torch.get_num_threads()
        print(f"\n== median time per image on this machine (torch threads {threads}; shared CPU, noisy)")
        print(", ".join(f"{key[:-3]} {value:.2f} ms" for key, value in timings.items()))
        payload["timings_ms"] = {**timings, "torch_threads": threads, "repeats": args.repeats}

    if args.json is not None:
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
