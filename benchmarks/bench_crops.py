"""Top-down crop time: the official cv2.warpAffine crops against the float grid_sample warp, side by side.

Run: ``python benchmarks/bench_crops.py [--repeats N] [--threads T]``. For each frame size, input size
and number of people, both methods of :func:`hpe_ros.pipelines.rgb.crops.crop_people` (normalised
batch out, the image in as uint8 RGB) are timed in the same process (best of N), with the largest
grey-level difference between them; with CUDA, grid_sample on the GPU too (the frame's upload
included, the batch left on the GPU).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from benchmarks.timing import best_time  # noqa: E402
from hpe_ros.pipelines.rgb.crops import IMAGENET_STD, INPUT_SIZE_256x192, INPUT_SIZE_384x288, crop_people  # noqa: E402


def people_boxes(count: int, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` person-like boxes (x0, y0, x1, y1) inside a frame, 1/6 .. 2/3 of its height."""
    tall = rng.uniform(height / 6, height * 2 / 3, count)
    wide = tall * rng.uniform(0.3, 0.6, count)
    x0 = rng.uniform(0, width - wide)
    y0 = rng.uniform(0, height - tall)
    return np.stack([x0, y0, x0 + wide, y0 + tall], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import cv2  # noqa: PLC0415

    cv2.setNumThreads(args.threads)
    cuda = torch.cuda.is_available()
    rng = np.random.default_rng(0)
    grey = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1) * 255  # normalised units -> grey levels
    print(f"threads {args.threads}, best of {args.repeats}; ms per frame (all people in one batch)")
    header = (f"{'frame':>10} {'input':>8} {'people':>6} {'official cv2':>13} {'float cpu':>10} "
              f"{'cpu ratio':>9}")
    print(header + (f" {'float cuda':>10}" if cuda else "") + f" {'max diff (grey)':>16}")
    for width, height in ((640, 480), (1920, 1080)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for input_size in (INPUT_SIZE_256x192, INPUT_SIZE_384x288):
            for count in (1, 5, 10, 20):
                boxes = people_boxes(count, width, height, rng)
                def crop(method: str, device: str = "cpu", image=image, boxes=boxes, size=input_size) -> None:
                    crop_people(image, boxes, size, method=method, device=device)

                official = best_time(lambda: crop("official"), args.repeats)
                floated = best_time(lambda: crop("float"), args.repeats)
                gap = (crop_people(image, boxes, input_size, method="official").images
                       - crop_people(image, boxes, input_size, method="float").images).abs()
                diff = (gap * grey).max().item()
                line = (f"{width}x{height:<5} {input_size[1]}x{input_size[0]:<4} {count:>6} "
                        f"{official * 1e3:>13.2f} {floated * 1e3:>10.2f} {floated / official:>8.1f}x")
                if cuda:
                    def on_gpu(crop=crop) -> None:
                        crop("float", "cuda")
                        torch.cuda.synchronize()

                    on_gpu()
                    line += f" {best_time(on_gpu, args.repeats) * 1e3:>10.2f}"
                print(line + f" {diff:>16.2f}")


if __name__ == "__main__":
    main()
