#!/usr/bin/env python3
"""The default pipeline's 3D against BlazePose's own metric "world" landmarks, on the same real images.

For each Human3.6M frame of ``--data`` (mmpose's ``test_h36m_body3d.npz`` with its images) BlazePose
runs on the whole image; its most confident person gives both (a) the world landmarks it
predicts itself (hip-centred metres, mapped to H36M-17 like the 2D) and (b) the H36M-17 2D
keypoints that the default lifter (``--lifter``, default: the packaged one) lifts. Both are
scored against the annotated 3D: MPJPE after centring each on its pelvis, and P-MPJPE (after a
similarity transform). Printed per frame and as means, with the relative P-MPJPE reduction.

Usage: python scripts/eval_vs_world_landmarks.py [--data ../shared/data/h36m_frames] [--lifter FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hpe_ros.datasets.h36m_frames import load_h36m_frames  # noqa: E402
from hpe_ros.evaluation.metrics import mpjpe, p_mpjpe, root_relative  # noqa: E402
from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector, to_h36m17  # noqa: E402
from hpe_ros.pipelines.rgb.default_lifter import load_default_lifter  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "h36m_frames"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lifter", default=None)
    args = parser.parse_args(argv)
    frames = load_h36m_frames(args.data)
    lifter = load_default_lifter(args.lifter)
    rows = []
    with BlazePoseDetector() as detector:
        for index in range(len(frames)):
            people = detector.detect(frames.read_image(index))
            if not people:
                print(f"{frames.samples.image_paths[index]}: nobody found")
                continue
            person = to_h36m17(people[0])
            truth = root_relative(frames.samples.joints_3d[index : index + 1])
            world = root_relative(person.world_landmarks[None])
            lifted = lifter.lift(
                person.keypoints[None], np.nan_to_num(person.scores)[None], frames.cameras[index].camera
            )
            rows.append(
                (
                    Path(str(frames.samples.image_paths[index])).name,
                    1e3 * mpjpe(world, truth),
                    1e3 * p_mpjpe(world, truth),
                    1e3 * mpjpe(lifted, truth),
                    1e3 * p_mpjpe(lifted, truth),
                )
            )
    print(
        f"{'frame':40s} {'world MPJPE':>12s} {'world P-MPJPE':>14s} {'ours MPJPE':>11s} {'ours P-MPJPE':>13s}"
    )
    for name, *values in rows:
        print(f"{name:40s} {values[0]:12.1f} {values[1]:14.1f} {values[2]:11.1f} {values[3]:13.1f}")
    means = np.mean([row[1:] for row in rows], axis=0)
    print(f"{'mean':40s} {means[0]:12.1f} {means[1]:14.1f} {means[2]:11.1f} {means[3]:13.1f}")
    print(f"P-MPJPE of ours relative to the world landmarks: {100 * (means[3] / means[1] - 1):+.0f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
