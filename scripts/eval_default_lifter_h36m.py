#!/usr/bin/env python3
"""The default lifter on Human3.6M's test subjects (S9, S11) from ground-truth 2D, as the field reports it.

Ground-truth 3D (``data_3d_h36m.npz``, the lifting community's layout, see
``hpe_ros.datasets.h36m``) is seen by each subject's 4 real cameras (``cameras.json``:
intrinsics and lens distortion); the 2D input is its projection through the real lens, scores 1.
Printed, next to each other for every lifter given:

* per action (trials merged): MPJPE and P-MPJPE (mm), their mean over the 15 actions (the
  Human3.6M table), and per camera;
* over all samples: mean, median, the fraction of samples with MPJPE over 150 mm, the ratio of the
  predicted skeleton's size (sum of bone lengths) to the truth;
* metric placement (``place_skeletons`` with the camera's lens): the root-position error in mm
  (mean, median, as a share of the depth);
* with ``--depth-samples N``: the same for N seeded samples placed from a depth image rendered
  from their true 3D (capsule bodies, a wall behind, a stereo camera's noise and holes;
  ``hpe_ros.simulation.depth``) through ``hpe_ros.pipelines.output.people.place_people``.

Human3.6M may be used to measure only; nothing here trains on it.

Usage: python scripts/eval_default_lifter_h36m.py --poses data_3d_h36m.npz
       [--cameras ../shared/data/h36m_frames/cameras.json] [--stride 5] [--lifter A.pt --lifter B.pt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hpe_ros.core.h36m_cameras import load_h36m_cameras  # noqa: E402
from hpe_ros.core.joints import H36M_17  # noqa: E402
from hpe_ros.datasets.h36m import H36M_TEST_SUBJECTS, h36m_lifting_samples, load_h36m_poses_3d  # noqa: E402
from hpe_ros.evaluation.metrics import evaluate_poses, h36m_action_name, joint_errors, procrustes_align  # noqa: E402
from hpe_ros.pipelines.output.people import DEPTH_ROOT_CONFIDENCE, place_people  # noqa: E402
from hpe_ros.pipelines.output.placement import place_skeletons  # noqa: E402
from hpe_ros.pipelines.rgb.default_lifter import lift_with_cameras, load_default_lifter  # noqa: E402
from hpe_ros.simulation.depth import DepthNoise, render_depth  # noqa: E402

DEFAULT_CAMERAS = REPO_ROOT.parent / "shared" / "data" / "h36m_frames" / "cameras.json"
_BONES = [(child, parent) for child, parent in enumerate(H36M_17.parents) if parent >= 0]


def skeleton_size(joints: np.ndarray) -> np.ndarray:
    """(N,) sum of the H36M-17 bone lengths."""
    return sum(np.linalg.norm(joints[:, c] - joints[:, p], axis=-1) for c, p in _BONES)


def _depth_root_errors(samples, cameras, predicted: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Root errors (m) with a rendered noisy depth image, whether depth placed them, the prior's errors."""
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(predicted), size=min(count, len(predicted)), replace=False)
    errors, placed, prior = [], [], []
    for index in chosen:
        camera = cameras[(samples.subjects[index], samples.camera_ids[index])].camera
        depth = DepthNoise().apply(render_depth(samples.joints_3d[index : index + 1], camera, rng), rng)
        keypoints, scores = samples.keypoints_2d[index : index + 1], samples.scores_2d[index : index + 1]
        for image_depth, out in ((depth, errors), (None, prior)):
            person = place_people(
                keypoints,
                scores,
                predicted[index : index + 1],
                np.zeros((1, 5)),
                camera,
                {},
                depth=image_depth,
            )[0]
            out.append(
                np.linalg.norm(person.joints_3d[0] - samples.joints_3d[index, 0]) if person.metric else np.nan
            )
            if image_depth is not None:
                placed.append(person.root_confidence == DEPTH_ROOT_CONFIDENCE)
    return np.array(errors), np.array(placed), np.array(prior)


def evaluate(lifter_path: str | None, samples, cameras, place_every: int, depth_samples: int = 0) -> dict:
    lifter = load_default_lifter(lifter_path)
    truth = samples.joints_3d - samples.joints_3d[:, :1]
    sample_cameras = [cameras[key].camera for key in zip(samples.subjects, samples.camera_ids, strict=True)]
    predicted = lift_with_cameras(lifter, samples.keypoints_2d, samples.scores_2d, sample_cameras)
    report = evaluate_poses(predicted, truth, actions=samples.actions, center_target=False)
    per_sample = joint_errors(predicted, truth).mean(axis=1)
    per_sample_pa = joint_errors(procrustes_align(predicted, truth), truth).mean(axis=1)
    per_camera = {
        camera: float(1e3 * per_sample[samples.camera_ids == camera].mean())
        for camera in sorted(set(samples.camera_ids))
    }
    # Placement with each sample's own camera (lens included), on every place_every-th sample.
    root_errors, depths = [], []
    for key in sorted(set(zip(samples.subjects, samples.camera_ids, strict=True))):
        chosen = np.flatnonzero((samples.subjects == key[0]) & (samples.camera_ids == key[1]))[::place_every]
        placed = place_skeletons(samples.keypoints_2d[chosen], predicted[chosen], cameras[key].camera)
        root_errors.append(np.linalg.norm(placed.translation - samples.joints_3d[chosen, 0], axis=-1))
        depths.append(samples.joints_3d[chosen, 0, 2])
    root_error, depth = np.concatenate(root_errors), np.concatenate(depths)
    depth_errors = _depth_root_errors(samples, cameras, predicted, depth_samples) if depth_samples else None
    actions = {name: (m.mpjpe_mm, m.p_mpjpe_mm) for name, m in sorted(report.per_action.items())}
    return {
        "lifter": lifter_path or "packaged default",
        "samples": int(len(truth)),
        "action_mean_mpjpe_mm": report.action_mean.mpjpe_mm,
        "action_mean_p_mpjpe_mm": report.action_mean.p_mpjpe_mm,
        "mean_mpjpe_mm": float(1e3 * per_sample.mean()),
        "median_mpjpe_mm": float(1e3 * np.median(per_sample)),
        "median_p_mpjpe_mm": float(1e3 * np.median(per_sample_pa)),
        "over_150mm_percent": float(100 * (per_sample > 0.150).mean()),
        "worst_action": max(actions, key=lambda a: actions[a][0]),
        "size_ratio": float(np.median(skeleton_size(predicted) / skeleton_size(truth))),
        "root_error_mean_mm": float(1e3 * np.nanmean(root_error)),
        "root_error_median_mm": float(1e3 * np.nanmedian(root_error)),
        "root_error_percent_of_depth": float(100 * np.nanmedian(root_error / depth)),
        "placed_fraction": float(np.isfinite(root_error).mean()),
        **(
            {}
            if depth_errors is None
            else {
                "depth_samples": int(len(depth_errors[0])),
                "depth_root_error_mean_mm": float(1e3 * np.nanmean(depth_errors[0])),
                "depth_root_error_median_mm": float(1e3 * np.nanmedian(depth_errors[0])),
                "depth_placed_percent": float(100 * np.mean(depth_errors[1])),
                "same_samples_prior_root_error_mean_mm": float(1e3 * np.nanmean(depth_errors[2])),
            }
        ),
        "per_action": actions,
        "per_camera_mpjpe_mm": per_camera,
    }


def print_table(results: list[dict]) -> None:
    names = [Path(r["lifter"]).name for r in results]
    print(f"{'action':14s}" + "".join(f"{n[:22]:>24s}" for n in names) + "   (MPJPE / P-MPJPE mm)")
    for action in results[0]["per_action"]:
        cells = "".join(
            f"{r['per_action'][action][0]:12.1f}{r['per_action'][action][1]:12.1f}" for r in results
        )
        print(f"{h36m_action_name(action):14s}{cells}")
    rows = [
        (
            "mean of actions",
            lambda r: f"{r['action_mean_mpjpe_mm']:12.1f}{r['action_mean_p_mpjpe_mm']:12.1f}",
        ),
        ("median sample", lambda r: f"{r['median_mpjpe_mm']:12.1f}{r['median_p_mpjpe_mm']:12.1f}"),
        ("% over 150 mm", lambda r: f"{r['over_150mm_percent']:24.2f}"),
        ("size ratio", lambda r: f"{r['size_ratio']:24.3f}"),
        ("root err mean", lambda r: f"{r['root_error_mean_mm']:24.0f}"),
        ("root err med.", lambda r: f"{r['root_error_median_mm']:24.0f}"),
        ("root % depth", lambda r: f"{r['root_error_percent_of_depth']:24.1f}"),
    ]
    if "depth_samples" in results[0]:
        rows += [
            ("RGB-D root mean", lambda r: f"{r['depth_root_error_mean_mm']:24.0f}"),
            ("RGB-D root med.", lambda r: f"{r['depth_root_error_median_mm']:24.0f}"),
            ("  (prior, same)", lambda r: f"{r['same_samples_prior_root_error_mean_mm']:24.0f}"),
        ]
    for label, cell in rows:
        print(f"{label:14s}" + "".join(cell(r) for r in results))
    for camera in results[0]["per_camera_mpjpe_mm"]:
        print(
            f"{'cam ' + camera:14s}" + "".join(f"{r['per_camera_mpjpe_mm'][camera]:24.1f}" for r in results)
        )
    print(f"samples: {results[0]['samples']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", required=True, help="data_3d_h36m.npz (positions_3d[subject][action])")
    parser.add_argument("--cameras", type=Path, default=DEFAULT_CAMERAS)
    parser.add_argument("--stride", type=int, default=5, help="keep every N-th frame (50 Hz data)")
    parser.add_argument("--place-every", type=int, default=10, help="place every N-th sample (speed)")
    parser.add_argument(
        "--lifter", action="append", default=None, help="lifter file (repeatable); default: packaged"
    )
    parser.add_argument(
        "--subjects",
        default=",".join(H36M_TEST_SUBJECTS),
        help="comma-separated; the test subjects S9,S11 give the reported figures",
    )
    parser.add_argument(
        "--depth-samples", type=int, default=0, help="also place N samples from rendered depth"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    poses = load_h36m_poses_3d(args.poses)
    cameras = load_h36m_cameras(args.cameras)
    subjects = [s for s in args.subjects.split(",") if s in poses]
    samples = h36m_lifting_samples(poses, cameras, subjects=subjects, stride=args.stride)
    results = [
        evaluate(path, samples, cameras, args.place_every, args.depth_samples)
        for path in (args.lifter or [None])
    ]
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
