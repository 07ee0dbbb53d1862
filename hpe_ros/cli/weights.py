"""``hpe-ros weights check DIR``: which known checkpoints a folder holds, verified, and the node YAML
that uses them; ``hpe-ros weights list``: the table; ``hpe-ros weights fetch DIR --from URL``: download
them from a mirror, keeping only files that pass the checks."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("weights", help="the model zoo: verify a folder of downloaded checkpoints")
    actions = parser.add_subparsers(dest="weights_command", required=True)
    check = actions.add_parser(
        "check", help="find the known files in DIR, verify size/sha256, print the YAML"
    )
    check.add_argument("folder", type=Path)
    check.add_argument("--yaml", type=Path, help="also write the node parameters to this file")
    actions.add_parser("list", help="the table of known checkpoints")
    fetch = actions.add_parser(
        "fetch", help="download the known files from a mirror into DIR, verifying them"
    )
    fetch.add_argument("folder", type=Path)
    fetch.add_argument(
        "--from",
        dest="base_url",
        required=True,
        metavar="URL",
        help="a server holding the files by their official names (e.g. a lab mirror)",
    )
    fetch.add_argument(
        "--only", nargs="+", metavar="KEY", help="zoo keys to fetch (default: all not packaged)"
    )


def format_report(report: object) -> str:
    from hpe_ros.models.zoo import MISMATCH, WeightsReport

    assert isinstance(report, WeightsReport)
    lines = [f"known checkpoints in {report.folder}:"]
    for item in report.found:
        detail = f": {item.problem}" if item.status == MISMATCH else ""
        lines.append(f"  {item.status:<30} {item.entry.key:<24} {item.path}{detail}")
    if not report.found:
        lines.append("  none")
    lines.append(f"not found: {', '.join(e.key for e in report.missing if not e.packaged) or 'none'}")
    lines.append("pipelines enabled:")
    lines += [f"  {text}" for text in report.enabled]
    return "\n".join(lines)


def node_yaml(parameters: dict[str, dict[str, object]]) -> str:
    import yaml

    return yaml.safe_dump(parameters, sort_keys=False, default_flow_style=False)


def weights_command(args: argparse.Namespace) -> int:
    from hpe_ros.models.zoo import ZOO, check

    if args.weights_command == "list":
        for entry in ZOO:
            print(f"{entry.key:<24} {entry.file_name:<44} {entry.published_at}")
        return 0
    if args.weights_command == "fetch":
        return _fetch(args)
    report = check(args.folder)
    print(format_report(report))
    text = node_yaml(report.parameters)
    print("# node parameters (hpe-ros run --config FILE, or merge into config/pose.yaml):")
    print(text, end="")
    if args.yaml is not None:
        args.yaml.write_text(text)
    return 0 if report.ok else 1


def _fetch(args: argparse.Namespace) -> int:
    from hpe_ros.models.zoo import fetch

    report = fetch(args.base_url, args.folder, keys=args.only)
    for item in report.fetched:
        print(f"fetched  {item.status:<30} {item.entry.key:<24} {item.path}")
    for item in report.present:
        print(f"present  {item.status:<30} {item.entry.key:<24} {item.path}")
    for entry in report.not_on_server:
        print(f"absent   {'not on the server':<30} {entry.key}")
    for entry, reason in report.failed:
        print(f"REFUSED  {entry.key}: {reason}")
    return 1 if report.failed or not (report.fetched or report.present) else 0
