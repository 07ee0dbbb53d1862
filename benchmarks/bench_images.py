"""Decode time of hpe_ros.io.images for 1920x1080 frames, per encoding, against a naive numpy baseline.

Run: ``python benchmarks/bench_images.py [--repeats N] [--width W --height H]``. Both paths are timed in
the same process on the same frame (best of N alternating runs), so the ratio holds on a busy machine.
The baselines are the obvious one-liners (fancy indexing, float formulas, masks over the whole frame).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hpe_ros.io.images import (  # noqa: E402
    compressed_to_rgb8,
    encode_compressed,
    image_to_rgb8,
    rgb8_to_image_fields,
)


@dataclass
class Message:
    height: int
    width: int
    encoding: str
    step: int
    data: bytes
    is_bigendian: int = 0


@dataclass
class Compressed:
    format: str
    data: bytes


def best_ms(functions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Fastest run of each function (least disturbed by other load); runs alternate between functions."""
    for function in functions:
        function()  # warm-up (allocations, lookup tables in cache)
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for function, times in zip(functions, samples, strict=True):
            start = time.perf_counter()
            function()
            times.append((time.perf_counter() - start) * 1e3)
    return [min(times) for times in samples]


def naive_rgb_like(msg: Message, order: list[int], channels: int) -> np.ndarray:
    pixels = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, : msg.width * channels]
    return pixels.reshape(msg.height, msg.width, channels)[..., order]


def naive_mono16(msg: Message) -> np.ndarray:
    values = np.frombuffer(msg.data, "<u2").reshape(msg.height, msg.width).astype(np.float64)
    gray = np.round(values * 255.0 / 65535.0).astype(np.uint8)
    return np.stack([gray, gray, gray], axis=-1)


def naive_uyvy(msg: Message) -> np.ndarray:
    quads = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width // 2, 4).astype(np.float32)
    u, v = np.repeat(quads[..., 0], 2, axis=1) - 128, np.repeat(quads[..., 2], 2, axis=1) - 128
    y = np.empty((msg.height, msg.width), np.float32)
    y[:, 0::2], y[:, 1::2] = quads[..., 1], quads[..., 3]
    y = np.maximum(y - 16, 0) * 1.164
    rgb = np.stack([y + 1.596 * v, y - 0.813 * v - 0.391 * u, y + 2.018 * u], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def naive_bayer_rggb(msg: Message) -> np.ndarray:
    raw = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width).astype(np.float32)
    padded = np.pad(raw, 1, mode="edge")

    def shift(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy : 1 + dy + msg.height, 1 + dx : 1 + dx + msg.width]

    cross = (shift(-1, 0) + shift(1, 0) + shift(0, -1) + shift(0, 1)) / 4
    diagonal = (shift(-1, -1) + shift(-1, 1) + shift(1, -1) + shift(1, 1)) / 4
    horizontal, vertical = (shift(0, -1) + shift(0, 1)) / 2, (shift(-1, 0) + shift(1, 0)) / 2
    rows, cols = np.mgrid[0 : msg.height, 0 : msg.width]
    red_site, blue_site = (rows % 2 == 0) & (cols % 2 == 0), (rows % 2 == 1) & (cols % 2 == 1)
    green_red_row, green_blue_row = (rows % 2 == 0) & (cols % 2 == 1), (rows % 2 == 1) & (cols % 2 == 0)
    estimates = [raw, diagonal, horizontal, vertical]
    red = np.select([red_site, blue_site, green_red_row, green_blue_row], estimates)
    blue = np.select([blue_site, red_site, green_blue_row, green_red_row], estimates)
    green = np.where(red_site | blue_site, cross, raw)
    return np.clip(np.round(np.stack([red, green, blue], axis=-1)), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)

    def raw_message(encoding: str) -> Message:
        fields = rgb8_to_image_fields(rgb, encoding)
        return Message(**{**fields, "data": fields["data"].tobytes()})

    packed = rng.integers(0, 256, (args.height, args.width, 2), dtype=np.uint8)
    frames = {name: raw_message(name) for name in ("rgb8", "bgr8", "rgba8", "mono8", "mono16", "bayer_rggb8")}
    frames["yuv422"] = Message(args.height, args.width, "yuv422", args.width * 2, packed.tobytes())
    baselines: dict[str, Callable[[Message], np.ndarray]] = {
        "rgb8": lambda m: naive_rgb_like(m, [0, 1, 2], 3),
        "bgr8": lambda m: naive_rgb_like(m, [2, 1, 0], 3),
        "rgba8": lambda m: naive_rgb_like(m, [0, 1, 2], 4),
        "mono8": lambda m: naive_rgb_like(m, [0, 0, 0], 1),
        "mono16": naive_mono16,
        "yuv422": naive_uyvy,
        "bayer_rggb8": naive_bayer_rggb,
    }
    print(f"frame {args.width}x{args.height}, best of {args.repeats} runs (ms); 33.3 ms = one frame at 30 Hz")
    print(f"{'encoding':<14}{'ours':>9}{'naive':>9}{'speed-up':>10}")
    for encoding, msg in frames.items():
        baseline = baselines[encoding]
        ours, naive = best_ms(
            [lambda msg=msg: image_to_rgb8(msg), lambda msg=msg, baseline=baseline: baseline(msg)],
            args.repeats,
        )
        print(f"{encoding:<14}{ours:9.2f}{naive:9.2f}{naive / ours:9.1f}x")
    # camera-like content for the codecs (pure noise is a JPEG/PNG worst case no camera produces)
    rows, cols = np.mgrid[0 : args.height, 0 : args.width]
    scene = np.stack([cols * 255 // args.width, rows * 255 // args.height, (rows + cols) % 256], axis=-1)
    scene = (scene + rng.integers(0, 8, scene.shape)).clip(0, 255).astype(np.uint8)
    for codec in ("jpeg", "png"):
        fmt, data = encode_compressed(scene, codec)
        compressed = Compressed(fmt, data)
        decode = lambda compressed=compressed: compressed_to_rgb8(compressed)  # noqa: E731
        (ours,) = best_ms([decode], max(3, args.repeats // 3))
        print(f"{codec:<14}{ours:9.2f}{'-':>9}{'-':>10}   ({len(data) / 1e6:.1f} MB payload, Pillow)")


if __name__ == "__main__":
    main()
