"""Bottom-up protocol cost: "official" against "float" for the steps where they differ, side by side.

Run: ``python benchmarks/bench_bottom_up.py [--repeats N] [--threads T]``. Times (best of N, one
process) the resize of a frame to the network input (cv2.warpAffine of the uint8 frame vs float
grid_sample; with CUDA, grid_sample on the GPU too, the uint8 frame's upload included) and the
whole parse of one image's heatmaps and tags (peaks, grouping with the Munkres vs the SciPy solver,
adjust, refine) on synthetic maps of 1 to 30 people at the 512 x 768 input grid. The network pass,
common to both, is not timed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from benchmarks.timing import best_time  # noqa: E402
from hpe_ros.pipelines.rgb import bottom_up as bu  # noqa: E402
from hpe_ros.pipelines.rgb.ae_grouping import GroupingConfig, parse_heatmaps  # noqa: E402
from hpe_ros.pipelines.rgb.bottom_up_protocol import resize_official  # noqa: E402


def people_maps(count: int, height: int, width: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """(17, H, W) heatmaps with a Gaussian per visible joint of ``count`` people and (17, H, W, 2)
    tags: each person's own value near its joints, noise elsewhere."""
    heatmaps = np.zeros((17, height, width), np.float32)
    tags = rng.normal(0, 3, (17, height, width, 2)).astype(np.float32)
    rows, cols = np.mgrid[0:height, 0:width]
    for _ in range(count):
        tag = rng.normal(0, 3)
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
        size = rng.uniform(0.05, 0.25) * height
        for joint in range(17):
            if rng.random() < 0.15:
                continue
            x, y = cx + rng.normal(0, size / 2), cy + rng.normal(0, size)
            box = (slice(max(int(y) - 12, 0), int(y) + 13), slice(max(int(x) - 12, 0), int(x) + 13))
            blob = np.exp(-((cols[box] - x) ** 2 + (rows[box] - y) ** 2) / (2 * 4.0**2)) * rng.uniform(0.3, 1)
            heatmaps[joint][box] = np.maximum(heatmaps[joint][box], blob)
            tags[joint][box][blob > 0.05] = tag + rng.normal(0, 0.1, ((blob > 0.05).sum(), 2))
    return torch.from_numpy(heatmaps), torch.from_numpy(tags)


def time_resize(image: np.ndarray, transform: bu.ResizeTransform, protocol: str, repeats: int,
                cuda: bool = False) -> float:
    """Best time of one frame's resize to the network input (normalised tensor out)."""
    center, scale = np.array(transform.center), np.array(transform.official_scale)
    if protocol == "official":
        return best_time(lambda: resize_official(image, center, scale, transform.size), repeats)
    if not cuda:
        return best_time(lambda: bu.warp_image(image, transform), repeats)

    def on_gpu() -> None:
        bu.warp_image(image, transform, "cuda")
        torch.cuda.synchronize()

    return best_time(on_gpu, repeats)


def time_parse(heatmaps: torch.Tensor, tags: torch.Tensor, config: GroupingConfig, solver: str,
               repeats: int) -> float:
    return best_time(lambda: parse_heatmaps(heatmaps, tags, config, solver), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import cv2  # noqa: PLC0415

    cv2.setNumThreads(args.threads)
    cuda = torch.cuda.is_available()
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, best of {args.repeats}, ms")
    print(f"{'frame':>10} {'input':>9} {'official cv2':>13} {'float cpu':>10} {'float/official':>15}"
          + (f" {'float cuda':>11}" if cuda else ""))
    for width, height in ((640, 480), (1920, 1080)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for size in (512, 640):
            transform = bu.compute_resize(height, width, size)
            official = time_resize(image, transform, "official", args.repeats)
            floated = time_resize(image, transform, "float", args.repeats)
            line = (f"{width}x{height:<5} {transform.size[0]}x{transform.size[1]:<5} {official * 1e3:13.2f} "
                    f"{floated * 1e3:10.2f} {floated / official:15.2f}")
            if cuda:
                line += f" {time_resize(image, transform, 'float', args.repeats, cuda=True) * 1e3:11.2f}"
            print(line)
    print(f"\n{'people':>6} {'found':>6} {'parse munkres':>14} {'parse scipy':>12} {'munkres/scipy':>14}")
    config = GroupingConfig(detection_threshold=0.12)
    for count in (1, 5, 15, 30):
        heatmaps, tags = people_maps(count, 512, 768, rng)
        found = len(parse_heatmaps(heatmaps, tags, config, "munkres").scores)
        munkres = time_parse(heatmaps, tags, config, "munkres", args.repeats)
        scipy = time_parse(heatmaps, tags, config, "scipy", args.repeats)
        print(f"{count:6d} {found:6d} {munkres * 1e3:14.1f} {scipy * 1e3:12.1f} {munkres / scipy:14.2f}")


if __name__ == "__main__":
    main()
