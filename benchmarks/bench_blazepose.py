"""BlazePose: our multi-person LiteRT path against MediaPipe's single-person graph, side by side.

For every image (the shared COCO crowd images, else scikit-image's astronaut) both run in the
same process, interleaved, in two settings:

* image mode: each call stands alone (MediaPipe: ``static_image_mode``; ours: detector on the
  whole image and its tiles, one landmark batch, one refinement pass);
* video mode: 30 frames of the same image, shifted by a pixel a frame (MediaPipe tracks its one
  person; ours tracks everyone and re-runs the detector every ``redetect_every`` frames).

MediaPipe runs first on all images, then ours, in the same process (never both at once).

Printed: median ms per frame of each, our ms per person found, and the ratio of our per-person
time to MediaPipe's per-frame time (MediaPipe finds at most one person per frame).

Usage: python benchmarks/bench_blazepose.py [--coco-dir ../shared/data/coco] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from timing import call_times

from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector
from hpe_ros.pipelines.rgb.blazepose_legacy import LegacyBlazePoseGraph

DEFAULT_COCO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"
VIDEO_FRAMES = 30


def _images(coco_dir: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    files = sorted(coco_dir.glob("*.jpg"))
    if files:
        return {f.name: np.asarray(Image.open(f).convert("RGB")) for f in files}
    from skimage import data

    return {"astronaut": data.astronaut()}


def _video(image: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.roll(image, shift, axis=1)) for shift in range(VIDEO_FRAMES)]


def _per_frame_ms(detect, frames: list[np.ndarray], repeats: int) -> tuple[float, float]:
    """Median ms per frame over ``repeats`` passes of ``frames``, and people found per frame."""
    counts: list[int] = []
    times = call_times(lambda: counts.extend(len(detect(f)) for f in frames), repeats)
    return 1e3 * statistics.median(times) / len(frames), float(np.mean(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-dir", type=Path, default=DEFAULT_COCO_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = _images(args.coco_dir)
    rows = []
    for mode in ("image", "video"):
        video = mode == "video"
        # One after the other, each closed before the next starts: MediaPipe's graph keeps worker
        # threads that would otherwise compete with LiteRT's for the cores.
        measured: dict[str, list[tuple[float, float]]] = {}
        for name, make in (("mediapipe", LegacyBlazePoseGraph), ("ours", BlazePoseDetector)):
            detector = make(video_mode=video)
            measured[name] = []
            for image in images.values():
                frames = _video(image) if video else [image]
                for frame in frames[:2]:  # warm-up; the trackers start on this image
                    detector.detect(frame)
                repeats = max(1, args.repeats // 2) if video else args.repeats
                measured[name].append(_per_frame_ms(detector.detect, frames, repeats))
            detector.close()
        for name, legacy, ours in zip(images, measured["mediapipe"], measured["ours"], strict=True):
            rows.append((mode, name, *legacy, *ours))

    print(
        f"{'mode':6s} {'image':22s} {'MediaPipe ms/frame':>18s} {'people':>6s} {'ours ms/frame':>13s} "
        f"{'people':>6s} {'ours ms/person':>14s} {'ratio':>6s}"
    )
    for mode in ("image", "video"):
        selected = [r for r in rows if r[0] == mode]
        for _, name, legacy_ms, legacy_people, ours_ms, ours_people in selected:
            per_person = ours_ms / max(ours_people, 1e-9)
            print(
                f"{mode:6s} {name:22s} {legacy_ms:18.1f} {legacy_people:6.1f} "
                f"{ours_ms:13.1f} {ours_people:6.1f} {per_person:14.1f} {per_person / legacy_ms:6.2f}"
            )
        legacy_ms = float(np.mean([r[2] for r in selected]))
        per_person = sum(r[4] for r in selected) / max(sum(r[5] for r in selected), 1e-9)
        print(
            f"{mode:6s} {'all (mean)':22s} {legacy_ms:18.1f} {'':6s} {'':13s} {'':6s} {per_person:14.1f} "
            f"{per_person / legacy_ms:6.2f}"
        )


if __name__ == "__main__":
    main()
