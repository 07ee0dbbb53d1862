"""``hpe-ros process-bags BAG... --output-dir DIR [--ray [ADDRESS]]``: many bags, one configuration.

Without ``--ray`` the bags are processed one after the other in this process; ``--ray`` starts a
Ray instance on this machine, ``--ray ADDRESS`` (``auto``, ``head:6379``, ``ray://head:10001``)
sends one task per bag to that cluster. Each output bag is the one ``hpe-ros process IN OUT``
writes; a failed bag is listed with its error and the others are kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built without loading bag or pipeline code
    from hpe_ros.io.bag_batch import BagJob, BagOutcome
    from hpe_ros.io.bag_processing import ProcessReport

LOCAL = "local"  # hpe_ros.io.bag_batch.LOCAL


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", nargs="+", type=Path, help="input bags")
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="folder for the output bags (one per input, named after it)")
    parser.add_argument("--ray", nargs="?", const=LOCAL, metavar="ADDRESS",
                        help="run the bags as Ray tasks: alone, on a Ray instance started here; with an "
                             "address (auto, HOST:6379, ray://HOST:10001), on that cluster")
    parser.add_argument("--num-cpus", type=int, help="--ray alone: CPUs of the local Ray instance")
    parser.add_argument("--cpus-per-bag", type=float, default=1.0,
                        help="CPUs Ray reserves for each running bag")


def process_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``process_bag`` keywords that the shared ``process`` arguments select."""
    return {"image_topic": args.image_topic, "camera_info_topic": args.camera_info_topic,
            "events_topic": args.events_topic, "window_ms": args.window_ms,
            "window_events": args.window_events, "storage": args.storage,
            "output_prefix": args.prefix.rstrip("/"), "markers": not args.no_markers, "tf": args.tf,
            "copy_inputs": args.copy_inputs}


def _output_paths(bags: list[Path], output_dir: Path) -> list[Path]:
    names = [bag.resolve().name for bag in bags]
    if len(set(names)) != len(names):
        raise ValueError(f"input bags with the same name would write the same output: {names}")
    outputs = [output_dir / name for name in names]
    existing = [str(path) for path in outputs if path.exists()]
    if existing:
        raise ValueError(f"output bag(s) already exist: {existing}; remove them or choose another "
                         "--output-dir")
    return outputs


def jobs_from_args(args: argparse.Namespace) -> list[BagJob]:
    from hpe_ros.cli.settings import resolve_settings
    from hpe_ros.io.bag_batch import BagJob
    from hpe_ros.pipelines.registry import pipeline_specs

    spec = pipeline_specs().get(args.pipeline or "")
    node = "hpe_event_pose" if spec is not None and spec.input_kind == "events" else "hpe_pose"
    settings = resolve_settings(args, node_name=node)
    tracking = {k.split(".", 1)[1]: v for k, v in settings.params.items() if k.startswith("tracking.")}
    options = process_options(args)
    return [BagJob(bag, out, settings.pipeline, settings.options, tracking, options)
            for bag, out in zip(args.bags, _output_paths(args.bags, args.output_dir), strict=True)]


def _summary(report: ProcessReport) -> str:
    rate = report.processed / report.seconds if report.seconds else 0.0
    return (f"{report.processed}/{report.input_frames} frames ({rate:.1f} frames/s), {report.people} people, "
            f"{report.skipped} skipped")


def _print_outcome(outcome: BagOutcome) -> None:
    where = f" [{outcome.host}]" if outcome.host else ""
    if outcome.report is not None:
        print(f"{outcome.job.in_bag} -> {outcome.job.out_bag}: {_summary(outcome.report)}{where}", flush=True)
    else:
        print(f"{outcome.job.in_bag}: FAILED: {outcome.error}{where}", flush=True)


def process_bags_command(args: argparse.Namespace) -> int:
    from hpe_ros.io.bag_batch import process_bags

    jobs = jobs_from_args(args)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    outcomes = process_bags(jobs, ray_address=args.ray, num_cpus=args.num_cpus,
                            cpus_per_bag=args.cpus_per_bag, on_done=_print_outcome)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)}/{len(outcomes)} bags processed"
          + (f"; failed: {', '.join(str(o.job.in_bag) for o in failed)}" if failed else ""))
    return 1 if failed else 0
