"""Per-stage time of the full RGB pipelines on this machine (not a test).

`topdown` (random weights: the time does not depend on them) with 1 and 4 people from upstream
boxes, torch and ONNX Runtime backends side by side in one run; and the offline default
`blazepose` pipeline when mediapipe is installed. Medians over the repeats, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

import numpy as np
import torch

from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.base import ImageFrame, Pipeline
from hpe_ros.pipelines.registry import create_pipeline


def _frame(people: int, width: int = 960, height: int = 540) -> ImageFrame:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    step = width // max(people, 1)
    boxes = np.array(
        [[i * step + 10, 40, (i + 1) * step - 10, height - 20, 0.9] for i in range(people)], np.float32
    )
    camera = CameraModel.from_intrinsics(800.0, 800.0, width / 2, height / 2, width, height)
    return ImageFrame(image, 0, "camera", camera, boxes=boxes)


def _stages(pipeline: Pipeline, frame: ImageFrame, repeats: int) -> dict[str, float]:
    pipeline.process(frame)  # warm-up
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        result = pipeline.process(frame)
        for stage, seconds in result.timings_s.items():
            times[stage].append(seconds)
        times["total"].append(sum(result.timings_s.values()))
    return {stage: 1e3 * statistics.median(values) for stage, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for people in (1, 4):
        frame = _frame(people)
        for backend in ("torch", "onnxruntime"):
            pipeline = create_pipeline("topdown", {"allow_random_weights": True, "backend": backend})
            stages = _stages(pipeline, frame, args.repeats)
            timings = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            print(f"topdown {backend:11s} {people} people: " + timings)
    try:
        pipeline = create_pipeline("blazepose", {"video_mode": False})
    except (ImportError, RuntimeError) as error:
        print(f"blazepose: skipped ({error})")
        return
    from skimage import data

    camera = CameraModel.from_intrinsics(450.0, 450.0, 255.5, 255.5, 512, 512)
    stages = _stages(pipeline, ImageFrame(data.astronaut(), 0, "camera", camera), args.repeats)
    print("blazepose 1 person: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
