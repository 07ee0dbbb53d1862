"""Time the top-down 2D stage: crop, network, decode; optimised network vs plain eager.

    python benchmarks/bench_2d_stage.py [--model hrnet_w32_heatmap] [--threads 2] [--repeats 15]

The plain eager network (our module, BatchNorm unfolded, contiguous NCHW, no_grad) stands in
for the official implementation; both run interleaved in the same process so that load from
other processes affects both alike. Medians are printed, with the median of per-iteration
ratios (plain / optimised).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hpe_ros.models import create_model
from hpe_ros.models.fuse import optimize_for_inference
from hpe_ros.pipelines.backends.runtime import OnnxRuntimeBackend
from hpe_ros.pipelines.rgb.codecs import HeatmapCodec, SimDRCodec
from hpe_ros.pipelines.rgb.crops import crop_people


def _frame(height: int = 720, width: int = 1280) -> np.ndarray:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco"
    images = sorted(shared.glob("*.jpg")) if shared.is_dir() else []
    if images:
        from PIL import Image  # noqa: PLC0415 - optional, only to use a real frame

        return np.asarray(Image.open(images[0]).convert("RGB"))
    return np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)


def _boxes(image: np.ndarray, count: int) -> np.ndarray:
    rng = np.random.default_rng(count)
    height, width = image.shape[:2]
    corner = rng.uniform(0, 0.5, (count, 2)) * [width, height]
    size = rng.uniform(0.2, 0.5, (count, 2)) * [width, height]
    return np.concatenate([corner, corner + size], axis=1)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _bench_batch(
    image: np.ndarray,
    boxes: np.ndarray,
    input_size: tuple[int, int],
    plain: torch.nn.Module,
    fast: torch.nn.Module,
    codec: HeatmapCodec | SimDRCodec,
    repeats: int,
    threads: int,
) -> None:
    """Interleave the stage timings ``repeats`` times and print their medians."""
    x = crop_people(image, boxes, input_size).images
    onnx = OnnxRuntimeBackend.from_module(
        optimize_for_inference(plain, channels_last=False), [x], threads=threads
    )
    with torch.inference_mode():
        out = fast(x)
        for _ in range(2):
            plain(x), fast(x)
        stages: dict[str, Callable[[], object]] = {
            "crop": lambda: crop_people(image, boxes, input_size),
            "network plain": lambda: plain(x),
            "network optimised": lambda: fast(x),
            "network onnxruntime": lambda: onnx(x),
            "decode": (lambda: codec.decode(*out))
            if isinstance(codec, SimDRCodec)
            else (lambda: codec.decode(out)),
        }
        times: dict[str, list[float]] = {name: [] for name in stages}
        for _ in range(repeats):
            for name, stage in stages.items():
                times[name].append(_timed(stage))
    medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    def ratio(fast_stage: str) -> float:
        pairs = zip(times["network plain"], times[fast_stage], strict=True)
        return statistics.median(p / f for p, f in pairs)

    per_person = medians["network onnxruntime"] / len(boxes)
    row = ", ".join(f"{k} {v:.1f} ms" for k, v in medians.items())
    print(f"batch {len(boxes)}: {row}")
    print(f"  plain eager / optimised torch {ratio('network optimised'):.2f}x, "
          f"plain eager / optimised onnxruntime {ratio('network onnxruntime'):.2f}x; "
          f"onnxruntime network per person {per_person:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        default="hrnet_w32_heatmap",
        choices=["hrnet_w32_heatmap", "hrnet_w48_heatmap", "hrnet_w32_simdr", "hrnet_w48_simdr"],
    )
    parser.add_argument("--input-size", default="192x256", help="crop width x height")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    crop_w, crop_h = (int(v) for v in args.input_size.split("x"))
    simdr = "simdr" in args.model
    kwargs = {"input_size": (crop_w, crop_h)} if simdr else {}
    plain = create_model(args.model, **kwargs).eval()
    fast = optimize_for_inference(plain)
    codec = (
        SimDRCodec((crop_w, crop_h)) if simdr else HeatmapCodec((crop_w, crop_h), (crop_w // 4, crop_h // 4))
    )
    image = _frame()
    frame = f"{image.shape[1]}x{image.shape[0]}"
    print(f"{args.model} {crop_w}x{crop_h}, torch {torch.__version__}, {args.threads} threads, frame {frame}")
    for batch in (int(b) for b in args.batches.split(",")):
        _bench_batch(image, _boxes(image, batch), (crop_w, crop_h), plain, fast, codec, args.repeats,
                     args.threads)


if __name__ == "__main__":
    main()
