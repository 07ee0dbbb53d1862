"""The tracking stage's cost per person per frame, 1 to 50 people: ids alone, and ids + smoothing.

People stand on a grid in front of a 1280x720 camera and sway, so every frame is a real
assignment; each frame's results are built before timing. Both variants run side by side on
the same frames; the goal is <= 0.2 ms per person per frame for ids + smoothing.

Usage: python benchmarks/bench_tracking.py [--frames 150]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.base import PoseResult
from hpe_ros.pipelines.tracking.stage import PeopleTracking, SmoothingConfig
from hpe_ros.simulation.crowd import body_to_camera, observed_person
from hpe_ros.simulation.people import walking_poses

FPS = 30.0


def crowd_frames(count: int, frames: int, camera: CameraModel, rng: np.random.Generator) -> list[PoseResult]:
    columns = int(np.ceil(np.sqrt(count)))
    spots = np.array([[(i % columns - columns / 2) * 0.8, 3.0 + (i // columns) * 0.9] for i in range(count)])
    poses = walking_poses(frames, FPS)
    results = []
    for frame in range(frames):
        people = []
        for spot in spots:
            sway = 0.05 * np.sin(2 * np.pi * 0.5 * frame / FPS + spot[0])
            joints = body_to_camera(poses[frame], spot + [sway, 0.0], np.array([0.0, -1.0]))
            joints = joints + rng.normal(0.0, 0.01, joints.shape)
            people.append(observed_person(joints, camera, margin_px=0.0))
        results.append(PoseResult(int(frame / FPS * 1e9), "camera", people, image_size=(1280, 720)))
    return results


def seconds_per_frame(results: list[PoseResult], smoothing: bool) -> float:
    tracking = PeopleTracking(smoothing=SmoothingConfig(enabled=smoothing))
    times = []
    for result in results:
        started = time.perf_counter()
        tracking.apply(result)
        times.append(time.perf_counter() - started)
    return float(np.median(times[len(times) // 3 :]))  # after the tracks are confirmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    camera = CameraModel.from_intrinsics(900.0, 900.0, 639.5, 359.5, 1280, 720)
    rng = np.random.default_rng(0)
    print("tracking stage, ms per person per frame (median over frames)")
    print(f"  {'people':>6s} {'ids':>8s} {'ids+smoothing':>14s} {'smoothing share':>16s}")
    for count in (1, 5, 10, 20, 50):
        results = crowd_frames(count, args.frames, camera, rng)
        ids = seconds_per_frame(results, smoothing=False) / count
        both = seconds_per_frame(results, smoothing=True) / count
        print(f"  {count:6d} {1000 * ids:8.3f} {1000 * both:14.3f} {both / ids:15.2f}x")


if __name__ == "__main__":
    main()
