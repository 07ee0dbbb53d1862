"""BlazePose: our multi-person LiteRT path against MediaPipe's single-person graph, side by side.

For every image (the shared COCO crowd images, else scikit-image's astronaut) both run in the
same process, interleaved, in two settings:

* image mode: each call stands alone (MediaPipe: ``static_image_mode``; ours: detector on the
  image's tiles at two scales, the landmark network on every person, one refinement pass);
* video mode: 30 frames of the same image, shifted by a pixel a frame (MediaPipe tracks its one
  person; ours tracks everyone and re-runs the detector every ``redetect_every`` frames).

MediaPipe runs on all images, then ours, in the same process (never both at once), ``--rounds``
times in turn; the median round counts.

Printed: median wall ms per frame of each, our ms per person found, and the ratio of our
per-person time to MediaPipe's per-frame time (MediaPipe finds at most one person per frame);
then the same with the process's CPU time (steadier than wall time on a shared machine).

Usage: python benchmarks/bench_blazepose.py [--coco-dir ../shared/data/coco] [--repeats 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

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


def _per_frame_ms(detect, frames: list[np.ndarray], repeats: int) -> tuple[float, float, float]:
    """Median wall and CPU ms per frame over ``repeats`` passes of ``frames``, and people per frame.

    CPU time is the process's (every thread: MediaPipe's graph workers and LiteRT's): on a shared
    machine it is the steadier measure of the work done, wall time the one a user waits for.
    """
    counts: list[int] = []
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        counts.extend(len(detect(f)) for f in frames)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    per_frame = 1e3 / len(frames)
    return statistics.median(wall) * per_frame, statistics.median(cpu) * per_frame, float(np.mean(counts))


def _measure(make, video: bool, images: dict[str, np.ndarray], repeats: int) -> list[tuple[float, ...]]:
    detector = make(video_mode=video)
    measured = []
    for image in images.values():
        frames = _video(image) if video else [image]
        for frame in frames[:2]:  # warm-up; the trackers start on this image
            detector.detect(frame)
        measured.append(_per_frame_ms(detector.detect, frames, max(1, repeats // 2) if video else repeats))
    detector.close()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-dir", type=Path, default=DEFAULT_COCO_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="MediaPipe then ours, this many times")
    args = parser.parse_args()
    images = _images(args.coco_dir)
    rows = []
    for mode in ("image", "video"):
        video = mode == "video"
        # One after the other, each closed before the next starts (MediaPipe's graph keeps worker
        # threads that would otherwise compete with LiteRT's for the cores), in alternating rounds
        # so that a change of the machine's load falls on both; the median round counts.
        rounds: dict[str, list[list[tuple[float, ...]]]] = {"mediapipe": [], "ours": []}
        for _ in range(max(1, args.rounds)):
            for name, make in (("mediapipe", LegacyBlazePoseGraph), ("ours", BlazePoseDetector)):
                rounds[name].append(_measure(make, video, images, args.repeats))
        medians = {name: np.median(np.array(values), axis=0) for name, values in rounds.items()}
        for index, name in enumerate(images):
            rows.append((mode, name, *medians["mediapipe"][index], *medians["ours"][index]))

    print(
        f"{'mode':6s} {'image':22s} {'MediaPipe ms/frame':>18s} {'people':>6s} {'ours ms/frame':>13s} "
        f"{'people':>6s} {'ours ms/person':>14s} {'ratio':>6s} {'CPU ms: MediaPipe':>17s} "
        f"{'ours/person':>11s} {'ratio':>6s}"
    )
    for mode in ("image", "video"):
        selected = [r for r in rows if r[0] == mode]
        for _, name, legacy_ms, legacy_cpu, legacy_people, ours_ms, ours_cpu, ours_people in selected:
            people = max(ours_people, 1e-9)
            print(
                f"{mode:6s} {name:22s} {legacy_ms:18.1f} {legacy_people:6.1f} {ours_ms:13.1f} "
                f"{ours_people:6.1f} {ours_ms / people:14.1f} {ours_ms / people / legacy_ms:6.2f} "
                f"{legacy_cpu:17.1f} {ours_cpu / people:11.1f} {ours_cpu / people / legacy_cpu:6.2f}"
            )
        people = max(sum(r[7] for r in selected), 1e-9)
        legacy_ms, legacy_cpu = (float(np.mean([r[k] for r in selected])) for k in (2, 3))
        per_person, cpu_per_person = (sum(r[k] for r in selected) / people for k in (5, 6))
        print(
            f"{mode:6s} {'all (mean)':22s} {legacy_ms:18.1f} {'':6s} {'':13s} {'':6s} {per_person:14.1f} "
            f"{per_person / legacy_ms:6.2f} {legacy_cpu:17.1f} {cpu_per_person:11.1f} "
            f"{cpu_per_person / legacy_cpu:6.2f}"
        )


if __name__ == "__main__":
    main()
