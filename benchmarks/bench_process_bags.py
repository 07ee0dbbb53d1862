"""Many bags: `hpe-ros process-bags` serially against Ray tasks on a local Ray instance, same run.

Writes ``--bags`` sample recordings (the demo's walking stick figure, ``--frames`` images each),
processes them with ``--pipeline`` one after the other in this process, then as one Ray task per
bag on a Ray instance started here with ``--num-cpus``; prints wall times, frames/s and the
ratio, and checks that every Ray output bag holds the serial output's bytes. The Ray time
includes starting the instance and a fresh worker (models loaded) per bag.

    python benchmarks/bench_process_bags.py [--bags 4] [--frames 20] [--num-cpus 2] [--pipeline blazepose]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=4)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pipeline", default="blazepose")
    args = parser.parse_args()

    from hpe_ros.cli.demo import write_sample_recording
    from hpe_ros.io.bag_batch import LOCAL, BagJob, process_bags
    from hpe_ros.io.bags import BagReader

    def contents(path: Path) -> list[tuple[str, int, bytes]]:
        with BagReader(path) as reader:
            return [(topic, stamp, bytes(raw)) for topic, stamp, raw in reader.raw_messages()]

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        inputs = []
        for index in range(args.bags):
            (root / f"rec{index}").mkdir()
            inputs.append(write_sample_recording(root / f"rec{index}", num_frames=args.frames)[0])
        times = {}
        for mode, address in (("serial", None), ("ray", LOCAL)):
            jobs = [BagJob(bag, root / mode / f"out{i}", args.pipeline) for i, bag in enumerate(inputs)]
            started = time.perf_counter()
            outcomes = process_bags(jobs, ray_address=address, num_cpus=args.num_cpus)
            times[mode] = time.perf_counter() - started
            failed = [o.error for o in outcomes if not o.ok]
            if failed:
                print(f"{mode}: failed: {failed}")
                return 1
        same = all(contents(root / "serial" / f"out{i}") == contents(root / "ray" / f"out{i}")
                   for i in range(args.bags))
    frames = args.bags * args.frames
    print(f"{args.bags} bags x {args.frames} frames, pipeline {args.pipeline}, {os.cpu_count()} CPUs "
          f"(Ray: {args.num_cpus}), OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    for mode, seconds in times.items():
        print(f"  {mode:<7} {seconds:7.1f} s  {frames / seconds:6.2f} frames/s")
    print(f"  ray / serial speed: {times['serial'] / times['ray']:.2f}x; outputs byte-equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
