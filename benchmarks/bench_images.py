"""Decode time of hpe_ros.io.images per encoding: numpy fallback vs OpenCV (and cv_bridge where ROS 2 has it).

Run: ``python benchmarks/bench_images.py [--repeats N] [--sizes 640x480,1920x1080] [--cv-threads T]``.
Every backend is timed in the same process on the same frame (best of N alternating runs), so the ratios
hold on a busy machine. OpenCV runs on ``--cv-threads`` threads (default 1, like numpy). ``naive`` is the
obvious numpy one-liner (fancy indexing, float formulas, masks over the whole frame), for scale. The
compressed rows decode a camera-like scene; their numpy column is Pillow, the fallback's decoder.
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
    SUPPORTED_ENCODINGS,
    compressed_to_rgb8,
    encode_compressed,
    image_backends,
    image_to_rgb8,
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


NAIVE: dict[str, Callable[[Message], np.ndarray]] = {
    "rgb8": lambda m: naive_rgb_like(m, [0, 1, 2], 3),
    "bgr8": lambda m: naive_rgb_like(m, [2, 1, 0], 3),
    "rgba8": lambda m: naive_rgb_like(m, [0, 1, 2], 4),
    "mono8": lambda m: naive_rgb_like(m, [0, 0, 0], 1),
    "mono16": naive_mono16,
    "yuv422": naive_uyvy,
    "bayer_rggb8": naive_bayer_rggb,
}


def frames(width: int, height: int, rng: np.random.Generator) -> dict[str, Message]:
    """One message per supported encoding (random content: conversions do not depend on it)."""
    channels = {"rgba8": 4, "bgra8": 4, "rgb8": 3, "bgr8": 3, "8UC3": 3, "yuv422": 2, "yuv422_yuy2": 2}
    messages = {}
    for encoding in SUPPORTED_ENCODINGS:
        dtype = np.dtype("<u2") if encoding in ("mono16", "16UC1") else np.dtype(np.uint8)
        shape = (height, width, channels.get(encoding, 1))
        pixels = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype.newbyteorder("="), endpoint=True)
        data = pixels.astype(dtype).tobytes()
        messages[encoding] = Message(height, width, encoding, len(data) // height, data)
    return messages


def print_table(
    width: int, height: int, repeats: int, backends: tuple[str, ...], rng: np.random.Generator
) -> None:
    print(f"\n{width}x{height}, best of {repeats} runs (ms); 33.3 ms = one frame at 30 Hz")
    columns = "".join(f"{name:>10}" for name in (*backends, "naive"))
    print(f"{'encoding':<14}{columns}{'numpy/opencv':>14}")
    for encoding, msg in frames(width, height, rng).items():
        calls: list[Callable[[], object]] = [
            lambda msg=msg, backend=backend: image_to_rgb8(msg, backend) for backend in backends
        ]
        if encoding in NAIVE:
            calls.append(lambda msg=msg, naive=NAIVE[encoding]: naive(msg))
        times = best_ms(calls, repeats)
        cells = [f"{value:10.2f}" for value in times] + ([] if encoding in NAIVE else [f"{'-':>10}"])
        ratio = times[backends.index("numpy")] / times[backends.index("opencv")]
        print(f"{encoding:<14}" + "".join(cells) + f"{ratio:13.1f}x")
    # camera-like content for the codecs (pure noise is a JPEG/PNG worst case no camera produces)
    rows, cols = np.mgrid[0:height, 0:width]
    scene = np.stack([cols * 255 // width, rows * 255 // height, (rows + cols) % 256], axis=-1)
    scene = (scene + rng.integers(0, 8, scene.shape)).clip(0, 255).astype(np.uint8)
    codecs = [("jpeg", scene), ("png", scene), ("jpeg mono8", scene[..., 1].copy())]
    for name, image in codecs:
        fmt, data = encode_compressed(image, name.split()[0])
        compressed = Compressed(fmt, data)
        decoders = [lambda backend=backend, compressed=compressed: compressed_to_rgb8(compressed, backend)
                    for backend in backends if backend != "cv_bridge"]
        times = best_ms(decoders, max(3, repeats // 2))
        cells = ([f"{'-':>10}"] if "cv_bridge" in backends else []) + [f"{value:10.2f}" for value in times]
        ratio = times[-1] / times[-2]
        print(f"{name:<14}" + "".join(cells) + f"{'-':>10}{ratio:13.1f}x   ({len(data) / 1e6:.2f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1920x1080", help="comma-separated WIDTHxHEIGHT")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cv-threads", type=int, default=1, help="cv2.setNumThreads (0: OpenCV's default)")
    args = parser.parse_args()
    import cv2

    if args.cv_threads > 0:
        cv2.setNumThreads(args.cv_threads)
    backends = image_backends()
    print(f"OpenCV {cv2.__version__} on {cv2.getNumThreads()} thread(s); backends: {', '.join(backends)}")
    rng = np.random.default_rng(0)
    for size in args.sizes.split(","):
        width, height = (int(side) for side in size.lower().split("x"))
        print_table(width, height, args.repeats, backends, rng)


if __name__ == "__main__":
    main()
