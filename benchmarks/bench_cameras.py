"""N cameras sharing one device (here the CPU): per-camera and total throughput, N = 1, 2, 4.

Each camera is its own pipeline instance fed the same picture (scikit-image's astronaut) as fast
as it takes them, for a fixed wall time, all cameras started together. Two ways to share:
``threads`` (one process, one thread per camera: what ``hpe-ros run --cameras`` does, one
executor for all nodes) and ``processes`` (one process per camera: one launch file entry or
container per camera). Ratios are against one camera of the same mode, measured in this run.

    python benchmarks/bench_cameras.py [--pipeline blazepose] [--cameras 1 2 4] [--seconds 5]
        [--modes threads processes] [--set NAME=VALUE ...]

Set OMP_NUM_THREADS (default here: 1 per camera) to choose the intra-op threads of each camera.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Run:
    mode: str
    cameras: int
    frames: list[int]  # per camera, within the measured window
    seconds: float

    @property
    def per_camera(self) -> list[float]:
        return [count / self.seconds for count in self.frames]

    @property
    def total(self) -> float:
        return sum(self.per_camera)


def _picture() -> Any:
    from skimage import data

    return data.astronaut()


def _build(pipeline: str, options: dict[str, Any]) -> Any:
    from hpe_ros.pipelines.registry import create_pipeline

    return create_pipeline(pipeline, options)


def _feed(pipeline: Any, image: Any, warmup: int, synchronise: Any) -> int:
    """Frames processed in the window that ``synchronise()`` (called after ``warmup`` frames) returns."""
    from hpe_ros.pipelines.base import ImageFrame

    stamp = 0
    for _ in range(warmup):  # the first calls allocate and build kernels
        stamp += 33_000_000
        pipeline.process(ImageFrame(image, stamp, "camera"))
    stop = synchronise()
    count = 0
    while time.monotonic() < stop:
        stamp += 33_000_000
        pipeline.process(ImageFrame(image, stamp, "camera"))
        count += 1
    return count


def _process_camera(pipeline: str, options: dict[str, Any], warmup: int, ready: Any, go: Any,
                    results: Any, index: int, seconds: float) -> None:
    worker = _build(pipeline, options)

    def synchronise() -> float:
        ready.release()
        go.wait()  # set once every camera has loaded and warmed up
        return time.monotonic() + seconds

    results.put((index, _feed(worker, _picture(), warmup, synchronise)))
    worker.close()


def run_processes(cameras: int, pipeline: str, options: dict[str, Any], seconds: float, warmup: int) -> Run:
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    workers = [context.Process(target=_process_camera,
                               args=(pipeline, options, warmup, ready, go, results, i, seconds))
               for i in range(cameras)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    go.set()
    counts = dict(results.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join()
    return Run("processes", cameras, [counts[i] for i in range(cameras)], seconds)


def run_threads(cameras: int, pipeline: str, options: dict[str, Any], seconds: float, warmup: int) -> Run:
    workers = [_build(pipeline, options) for _ in range(cameras)]
    image = _picture()
    counts = [0] * cameras
    window: list[float] = []
    barrier = threading.Barrier(cameras, action=lambda: window.append(time.monotonic() + seconds))

    def synchronise() -> float:
        barrier.wait()  # every camera warmed up
        return window[0]

    def work(index: int) -> None:
        counts[index] = _feed(workers[index], image, warmup, synchronise)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(cameras)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    return Run("threads", cameras, counts, seconds)


def _table(runs: list[Run]) -> str:
    lines = [f"{'mode':<10} {'cameras':>7} {'per camera (frames/s)':>24} {'total':>8} "
             f"{'per camera / 1 cam':>19} {'total / 1 cam':>14}"]
    for run in runs:
        one = next(r for r in runs if r.mode == run.mode and r.cameras == 1)
        each = run.per_camera
        spread = f"{sum(each) / len(each):.2f} ({min(each):.2f}-{max(each):.2f})"
        lines.append(f"{run.mode:<10} {run.cameras:>7} {spread:>24} {run.total:>8.2f} "
                     f"{(run.total / run.cameras) / one.total:>19.2f} {run.total / one.total:>14.2f}")
    return "\n".join(lines)


def main() -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="blazepose")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="pipeline option, e.g. --set max_people=1")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured wall time per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="frames per camera before measuring")
    parser.add_argument("--modes", nargs="+", choices=("threads", "processes"),
                        default=["threads", "processes"])
    args = parser.parse_args()
    from hpe_ros.io.config import parse_assignments

    options = parse_assignments(args.assignments)
    cameras = sorted(set([1, *args.cameras]))
    print(f"{args.pipeline} {options or ''}: {os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ['OMP_NUM_THREADS']}, {args.seconds:g} s per configuration", flush=True)
    runs = []
    for count in cameras:  # the modes interleaved: a change of the machine's load hits both alike
        for mode in args.modes:
            run = run_threads if mode == "threads" else run_processes
            runs.append(run(count, args.pipeline, options, args.seconds, args.warmup))
            print(f"  {mode} x{count}: {runs[-1].frames} frames", flush=True)
    print(_table(sorted(runs, key=lambda r: (args.modes.index(r.mode), r.cameras))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
