"""``hpe-ros bench``: per-stage speed of the pipelines, backends side by side, bag processing.

The pipeline cases are :mod:`hpe_ros.evaluation.bench`; this command adds what needs ``io``:
the time to build every output message of each result, and ``hpe-ros process`` over bags it
writes first (images of a crowd; events simulated from a moving block).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built without loading torch
    import numpy as np

    from hpe_ros.evaluation.bench.report import BagResult
    from hpe_ros.evaluation.bench.stages import OutputTimer
    from hpe_ros.evaluation.bench.suite import BenchSettings
    from hpe_ros.io.message_classes import MessageClasses
    from hpe_ros.pipelines.base import PoseResult

BAG_START_NS = 1_700_000_000 * 10**9  # a wall-clock epoch, as recordings have


def add_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="benchmark the pipelines: stages, networks against their overhead, backends, bags",
        description="Per-stage latency and throughput of the RGB (blazepose, topdown) and event (eventhpe) "
        "pipelines at crowd sizes, each backend against torch eager in the same run, message conversion, "
        "and `hpe-ros process` frames/s on bags made here. Random weights where checkpoints are not set.",
    )
    parser.set_defaults(full=False)
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
    parser.add_argument("--warmup", type=int, help="untimed frames first (default 1; --full: 2)")
    parser.add_argument("--bag-frames", type=int, help="images (or 50 ms windows) per bag; 0: no bags")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="PIPELINE.OPTION=VALUE",
                        help="a pipeline option, e.g. topdown.pose_checkpoint=hrnet.pth (repeatable)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda where torch sees one")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, OMP_NUM_THREADS)")


def settings_from_arguments(args: argparse.Namespace) -> BenchSettings:
    from hpe_ros.evaluation.bench.suite import FULL, PIPELINES, QUICK, default_device
    from hpe_ros.io.config import parse_assignments

    settings = FULL if args.full else QUICK
    options: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(args.assignments).items():
        pipeline, dot, option = key.partition(".")
        if not dot or pipeline not in PIPELINES:
            raise ValueError(f"--set {key}: expected PIPELINE.OPTION with PIPELINE one of {PIPELINES}")
        options.setdefault(pipeline, {})[option] = value
    changes: dict[str, Any] = {"device": args.device or default_device(), "options": options}
    for name in ("pipelines", "backends", "people"):
        if getattr(args, name):
            changes[name] = tuple(getattr(args, name))
    for name in ("frames", "warmup", "bag_frames"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return replace(settings, **changes)


def node_message_classes() -> MessageClasses:
    """The message classes a node publishes (rclpy's), or rosbags' where those do not import."""
    from hpe_ros.io.message_classes import RclpyMessageClasses, RosbagsMessageClasses

    try:
        import hpe_ros_msgs.msg  # noqa: F401
        import visualization_msgs.msg  # noqa: F401
    except ImportError:
        return RosbagsMessageClasses()
    return RclpyMessageClasses()


def message_timer() -> OutputTimer:
    """Seconds to build each output message of a result, as a node builds them by default: its
    message classes, markers on, one :class:`~hpe_ros.io.outputs.ResultMessages` kept from frame
    to frame (the mesh markers refill their point messages)."""
    from hpe_ros.io.outputs import OutputOptions, ResultMessages

    messages, options = ResultMessages(node_message_classes()), OutputOptions()

    def times(result: PoseResult, faces: np.ndarray | None) -> dict[str, float]:
        messages.messages(result, faces, options)
        return dict(messages.seconds)

    return times


def _write_bag(pipeline: str, settings: BenchSettings, path: Path) -> str:
    """The input bag of ``pipeline``'s bag case; what it holds, in words."""
    from hpe_ros.evaluation.bench.scenes import bench_camera, crowd_image, frame_stamps, moving_block_frames

    count = settings.bag_frames
    if pipeline == "eventhpe":
        from hpe_ros.io.event_bags import simulate_event_bag

        frames = moving_block_frames(count * 10 + 1)  # 200 frames/s: 10 per 50 ms window
        simulate_event_bag(frames, BAG_START_NS + frame_stamps(len(frames)), path, gray_topic=None)
        return f"{count} x 50 ms of simulated events (346 x 260)"
    from hpe_ros.cli.demo import write_image_bag

    image, _ = crowd_image(3)
    write_image_bag(path, [image] * count, bench_camera(image.shape[1], image.shape[0]))
    return f"{count} images of 3 people (1280 x 720)"


def _bag_assignments(pipeline: str, settings: BenchSettings, smpl_path: Path) -> list[str]:
    from hpe_ros.evaluation.bench.suite import pipeline_options

    options = pipeline_options(pipeline, "", settings, smpl_path)
    options.pop("backend", None)  # the backend the configuration chooses, as `hpe-ros process` runs
    if pipeline == "topdown":  # a bag has no upstream boxes: BlazePose's detector gives them
        options.setdefault("box_source", "blazepose")
    return [f"{pipeline}.{name}={value}" for name, value in options.items()]


def run_bags(settings: BenchSettings, folder: Path) -> list[BagResult]:
    """``hpe-ros process`` (its settings, from the package's config) over a bag per pipeline."""
    from hpe_ros.cli.main import build_parser
    from hpe_ros.cli.process_bags import jobs_from_args
    from hpe_ros.evaluation.bench.report import BagResult
    from hpe_ros.evaluation.bench.suite import synthetic_smpl_file
    from hpe_ros.io.bag_batch import run_job

    results = []
    # the topdown bag runs HRNet + CA-PF over every frame (seconds each on a CPU): --full only
    pipelines = [p for p in settings.pipelines if p != "topdown" or settings.full]
    for pipeline in pipelines:
        in_bag, out_dir = folder / f"{pipeline}_input", folder / f"{pipeline}_output"
        what = _write_bag(pipeline, settings, in_bag)
        argv = ["process-bags", str(in_bag), "--output-dir", str(out_dir), "--pipeline", pipeline]
        for assignment in _bag_assignments(pipeline, settings, synthetic_smpl_file(folder)):
            argv += ["--set", assignment]
        (job,) = jobs_from_args(build_parser().parse_args(argv))
        with warnings.catch_warnings():  # random weights, the synthetic body: known here
            warnings.simplefilter("ignore", UserWarning)
            outcome = run_job(job)
        if outcome.report is None:
            raise RuntimeError(f"hpe-ros process on the {pipeline} bag failed: {outcome.error}")
        report = outcome.report
        results.append(BagResult(
            pipeline=pipeline, input=what, input_frames=report.input_frames, processed=report.processed,
            people=report.people, seconds=report.seconds,
            frames_per_s=report.processed / report.seconds if report.seconds else 0.0,
            messages_written=sum(report.written.values()),
        ))
    return results


def bench_command(args: argparse.Namespace) -> int:
    import torch

    from hpe_ros.evaluation.bench.report import BenchReport, format_report
    from hpe_ros.evaluation.bench.suite import machine_facts, run_cases

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = settings_from_arguments(args)
    started = time.perf_counter()
    report = BenchReport(machine_facts(settings.device), settings.as_json())

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="hpe_ros_bench_") as folder:
        report.cases = run_cases(settings, Path(folder), outputs=message_timer(), progress=progress)
        if settings.bag_frames > 0:
            progress("bags: hpe-ros process")
            report.bags = run_bags(settings, Path(folder))
    report.seconds = time.perf_counter() - started
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0
