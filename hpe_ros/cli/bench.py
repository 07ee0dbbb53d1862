"""``hpe-ros bench``: per-stage speed of the pipelines, backends side by side, bag processing."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="benchmark the pipelines: stages, networks against their overhead, backends, bags",
        description="Per-stage latency and throughput of the RGB (blazepose, topdown) and event (eventhpe) "
        "pipelines at crowd sizes, each backend against torch eager in the same run, message conversion, "
        "and `hpe-ros process` frames/s on bags made here. Random weights where checkpoints are not set.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="full", action="store_false", help="a few minutes (the default)")
    size.add_argument("--full", dest="full", action="store_true",
                      help="more frames, 10-person crowds, the topdown bag too (tens of minutes on a CPU)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--pipelines", nargs="+", choices=("blazepose", "topdown", "eventhpe"),
                        help="pipelines to run (default: all three)")
    parser.add_argument("--backends", nargs="+", choices=("torch", "onnxruntime", "tensorrt"),
                        help="backends of pipelines that have one (default: torch, onnxruntime, and "
                        "tensorrt where it and CUDA are present)")
    parser.add_argument("--people", type=int, nargs="+", help="crowd sizes (default: 1 5; --full: 1 5 10)")
    parser.add_argument("--frames", type=int, help="timed frames (or event windows) per case")
    parser.add_argument("--bag-frames", type=int, help="images (or 50 ms windows) per bag; 0: no bags")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda where torch sees one")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, OMP_NUM_THREADS)")


def bench_command(args: argparse.Namespace) -> int:
    from hpe_ros.evaluation.bench.suite import run_from_arguments

    return run_from_arguments(args)
