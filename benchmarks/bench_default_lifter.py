"""The default lifter's throughput: people per second, end to end (virtual view, normalisation, MLP).

The shipped architecture (``DEFAULT_MODEL_KWARGS``) and the first release's (hidden 256) side by
side in one run, at batch 1 and 32, with the weights the time does not depend on (random), on
the camera of a 640x480 robot image. Medians over the repeats.

Usage: python benchmarks/bench_default_lifter.py [--threads 2] [--repeats 200]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import median_time

from hpe_ros.models.registry import create_model
from hpe_ros.pipelines.rgb import default_lifter as dl
from hpe_ros.simulation.people import default_camera, walking_skeleton
from hpe_ros.training import default_lifter as dlt

FIRST_RELEASE_KWARGS = {**dlt.DEFAULT_MODEL_KWARGS, "hidden": 256, "num_blocks": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    camera = default_camera(640, 480)
    pixels = camera.project(walking_skeleton(32))
    scores = np.ones(pixels.shape[:2])
    print(f"default lifter, {args.threads} threads, people per second (median of {args.repeats} calls)")
    rates = {}
    for name, kwargs in (("shipped", dlt.DEFAULT_MODEL_KWARGS), ("first release", FIRST_RELEASE_KWARGS)):
        lifter = dl.DefaultLifter(create_model(dl.DEFAULT_MODEL_NAME, **kwargs))
        for batch in (1, 32):
            keypoints, confidence = pixels[:batch], scores[:batch]
            lifter.lift(keypoints, confidence, camera)
            call = lambda k=keypoints, c=confidence, m=lifter: m.lift(k, c, camera)  # noqa: E731
            seconds = median_time(call, args.repeats)
            rates[name, batch] = batch / seconds
            parameters = sum(p.numel() for p in lifter.model.parameters()) / 1e6
            rate = rates[name, batch]
            print(f"  {name:14s} ({parameters:.2f} M parameters) batch {batch:2d}: {rate:9.0f} people/s")
    for batch in (1, 32):
        ratio = rates["shipped", batch] / rates["first release", batch]
        print(f"  batch {batch:2d}: shipped / first release = {ratio:.2f}")


if __name__ == "__main__":
    main()
