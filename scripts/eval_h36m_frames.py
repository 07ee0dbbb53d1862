#!/usr/bin/env python3
"""Report 3D pose metrics of a lifter on the shared Human3.6M frames.

Example (from the repository root)::

    python scripts/eval_h36m_frames.py --model capf_baseline --checkpoint runs/baseline/best.pt
    python scripts/eval_h36m_frames.py --model default --source blazepose

Inputs: the frames of ``--data`` (mmpose's ``test_h36m_body3d.npz`` and ``cameras.json``), 2D
keypoints from ``--source`` (``gt``: the annotated 2D joints; ``blazepose``: BlazePose on the
frame image, its 33 landmarks mapped to H36M-17 with ``hpe_ros.pipelines.rgb.blazepose.to_h36m17``),
and a lifter: ``default`` is the offline default lifter (``hpe_ros/data/default_lifter.pt``, its
own input normalisation, no flip test), any other name a registered lifter with its weights from
a training checkpoint (``hpe_ros.training.lifter``) or a plain state dict. Prints
MPJPE, P-MPJPE, N-MPJPE, PCK@150 mm and AUC per action, and the error of the metric placement
(root position from the 2D keypoints and the lifted pose) next to them.
Context-aware lifters (``capf_*``) need backbone features, which this script does not compute.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hpe_ros.datasets.h36m_frames import H36MFrames, load_h36m_frames  # noqa: E402
from hpe_ros.datasets.samples import LiftingSamples  # noqa: E402
from hpe_ros.evaluation.metrics import EvaluationReport, evaluate_poses  # noqa: E402
from hpe_ros.models.checkpoints import load_strict, read_checkpoint, unwrap_state_dict  # noqa: E402
from hpe_ros.models.registry import create_model  # noqa: E402
from hpe_ros.pipelines.output.placement import place_skeletons  # noqa: E402
from hpe_ros.pipelines.rgb.default_lifter import lift_with_cameras, load_default_lifter  # noqa: E402
from hpe_ros.training.lifter import evaluate, predict  # noqa: E402

SOURCES = ("gt", "blazepose")
DEFAULT_LIFTER = "default"  # --model value of the offline default lifter


def blazepose_keypoints(frames: H36MFrames) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose (static image mode) on every frame, as H36M-17: (N, 17, 2) pixels, (N, 17) scores.

    A frame where BlazePose finds nobody gets NaN keypoints and zero scores.
    """
    from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector, to_h36m17  # noqa: PLC0415 (optional)

    keypoints = np.full((len(frames), 17, 2), np.nan)
    scores = np.zeros((len(frames), 17))
    with BlazePoseDetector() as detector:
        for index in range(len(frames)):
            people = detector.detect(frames.read_image(index))
            if people:
                pose = to_h36m17(people[0])
                keypoints[index], scores[index] = pose.keypoints, np.nan_to_num(pose.scores)
    return keypoints, scores


def keypoints_from_source(frames: H36MFrames, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2) pixels and (N, 17) scores of the frames from the chosen 2D source."""
    if source == "gt":
        return frames.samples.keypoints_2d, frames.samples.scores_2d
    if source == "blazepose":
        return blazepose_keypoints(frames)
    raise ValueError(f"unknown 2D source {source!r}; available: {', '.join(SOURCES)}")


def evaluate_default_lifter(
    samples: LiftingSamples, cameras: list, weights: Path | None = None
) -> tuple[EvaluationReport, np.ndarray]:
    """The default lifter's report on ``samples`` (seen by ``cameras``) and its (N, 17, 3)
    pelvis-relative predictions."""
    lifter = load_default_lifter(weights)
    predicted = lift_with_cameras(lifter, samples.keypoints_2d, samples.scores_2d, cameras)
    report = evaluate_poses(
        predicted,
        samples.joints_3d,
        joint_names=samples.joint_names,
        actions=samples.actions,
        root_index=samples.root_index,
    )
    return report, predicted


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Weights from a lifter training checkpoint (``model`` key) or a bare state dict, strictly."""
    load_strict(model, unwrap_state_dict(read_checkpoint(path), container_keys=("model", "state_dict")))


def placement_errors_mm(frames: H36MFrames, predicted: np.ndarray) -> np.ndarray:
    """Root position error (mm) of placing each predicted pose with the frame's camera; NaN if not metric."""
    samples = frames.samples
    errors = np.full(len(samples), np.nan)
    for index, camera in enumerate(frames.cameras):  # frames may come from different cameras
        placement = place_skeletons(
            samples.keypoints_2d[index], predicted[index], camera.camera, samples.scores_2d[index]
        )
        if placement.metric:
            errors[index] = 1000.0 * np.linalg.norm(
                placement.translation - samples.joints_3d[index, samples.root_index]
            )
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="capf_baseline", help=f"registered lifter name, or {DEFAULT_LIFTER!r}"
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="weights (training checkpoint or state dict; for 'default' a default-lifter file, "
        "default: the package's); random if absent",
    )
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "h36m_frames")
    parser.add_argument("--source", choices=SOURCES, default="gt", help="where the 2D keypoints come from")
    parser.add_argument("--no-flip-test", action="store_true", help="do not average with the mirrored input")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)

    if args.model.startswith("capf_") and args.model != "capf_baseline":
        parser.error(
            f"{args.model} needs backbone feature maps; this script evaluates coordinate-only lifters"
        )
    frames = load_h36m_frames(args.data)
    keypoints, scores = keypoints_from_source(frames, args.source)
    samples = frames.samples.with_keypoints(keypoints, scores)
    frames = H36MFrames(samples, frames.cameras, frames.centers, frames.scales, frames.visibility)

    if args.model == DEFAULT_LIFTER:
        flip_test = False  # the default lifter is used without flip test at run time
        cameras = [c.camera for c in frames.cameras]
        report, predicted = evaluate_default_lifter(samples, cameras, args.checkpoint)
    else:
        model = create_model(args.model)
        if args.checkpoint is not None:
            load_weights(model, args.checkpoint)
        else:
            print("warning: no --checkpoint: the lifter has random weights", file=sys.stderr)
        model.eval()
        flip_test = not args.no_flip_test
        report = evaluate(model, samples, flip_test=flip_test)
        predicted = predict(model, samples, flip_test=flip_test)
    placement_mm = placement_errors_mm(frames, predicted)
    print(
        f"{args.model} on {len(samples)} frames of {args.data} with {args.source} 2D (flip test {flip_test})"
    )
    print(report.format())
    metric = int(np.isfinite(placement_mm).sum())
    print(
        f"root placement error (mm): mean {np.nanmean(placement_mm) if metric else float('nan'):.1f}, "
        f"metric {metric}/{len(placement_mm)}"
    )
    if args.json is not None:
        payload = {
            "model": args.model,
            "source": args.source,
            "report": report.to_dict(),
            "placement_error_mm": placement_mm.tolist(),
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
