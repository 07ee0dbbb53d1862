"""``hpe-ros process IN_BAG OUT_BAG``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hpe_ros.cli.interruption import Interrupted, as_interrupted
from hpe_ros.cli.settings import resolve_settings
from hpe_ros.io.bag_processing import process_bag
from hpe_ros.io.bags import BagError, BagReader, BagWriter
from hpe_ros.pipelines.registry import create_pipeline, pipeline_specs
from hpe_ros.pipelines.tracking.stage import tracking_from_options


def _is_event_pipeline(args: argparse.Namespace) -> bool:
    spec = pipeline_specs().get(args.pipeline or "")
    return spec is not None and spec.input_kind == "events"


def _check_bags(in_bag: Path, out_bag: Path, storage: str) -> None:
    """Refuse a missing or unreadable input and an existing output before any model is loaded."""
    with BagReader(in_bag):
        pass
    BagWriter(out_bag, storage=storage)  # refuses an existing path; creates nothing


def written_so_far(out_bag: Path) -> str:
    """What an interrupted command leaves in ``out_bag``, read back from the closed bag."""
    if not out_bag.exists():
        return f"nothing was written ({out_bag} not created)"
    try:
        with BagReader(out_bag) as reader:
            count = reader.message_count
    except BagError as error:
        return f"{out_bag} cannot be read back: {error}"
    return f"{out_bag} is closed and holds the {count} messages written before it"


def _interrupted(error: KeyboardInterrupt, out_bag: Path) -> Interrupted:
    interrupted = as_interrupted(error)
    interrupted.detail = written_so_far(out_bag)
    return interrupted


def process_command(args: argparse.Namespace) -> int:
    _check_bags(args.in_bag, args.out_bag, args.storage)
    settings = resolve_settings(args, node_name="hpe_event_pose" if _is_event_pipeline(args) else "hpe_pose")
    try:
        pipeline = create_pipeline(settings.pipeline, settings.options)
    except KeyboardInterrupt as error:  # while the models load
        raise _interrupted(error, args.out_bag) from None
    tracking = tracking_from_options({k.split(".", 1)[1]: v for k, v in settings.params.items()
                                      if k.startswith("tracking.")})
    try:
        report = process_bag(args.in_bag, args.out_bag, pipeline, image_topic=args.image_topic,
                             camera_info_topic=args.camera_info_topic, events_topic=args.events_topic,
                             window_ms=args.window_ms, window_events=args.window_events, storage=args.storage,
                             output_prefix=args.prefix.rstrip("/"), markers=not args.no_markers, tf=args.tf,
                             copy_inputs=args.copy_inputs, progress=not args.quiet, tracking=tracking)
    except KeyboardInterrupt as error:  # the writer was closed on the way out
        raise _interrupted(error, args.out_bag) from None
    finally:
        pipeline.close()
    rate = report.processed / report.seconds if report.seconds else 0.0
    print(f"{args.in_bag} -> {args.out_bag}: {report.processed}/{report.input_frames} frames processed "
          f"({rate:.1f} frames/s), {report.people} people, {report.skipped} skipped")
    for topic, count in sorted(report.written.items()):
        print(f"  {topic}: {count} messages")
    if report.event_counts:
        print("  events: " + ", ".join(f"{name} {count}" for name, count in report.event_counts.items()))
    for problem in report.errors:
        print(f"  skipped: {problem}")
    return 0 if report.processed or not report.input_frames else 1
