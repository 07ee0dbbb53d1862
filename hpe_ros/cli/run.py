"""``hpe-ros run``: the nodes of ``pose.launch.py`` in one process, from the same YAML."""

from __future__ import annotations

import argparse

import yaml

from hpe_ros.cli.settings import resolve_settings
from hpe_ros.io.config import parse_assignments


def _node_classes(selected: list[str]) -> list[type]:
    classes: list[type] = []
    if "pose" in selected:
        from hpe_ros.nodes.pose_node import PoseNode

        classes.append(PoseNode)
    if "event" in selected:
        from hpe_ros.nodes.event_pose_node import EventPoseNode

        classes.append(EventPoseNode)
    return classes


def run_command(args: argparse.Namespace) -> int:
    from hpe_ros.nodes.runner import run_nodes

    settings = resolve_settings(args)
    selected = args.node or ["pose"]
    ros_args = ["--ros-args", "--params-file", str(settings.config)]
    overrides = parse_assignments(args.assignments)
    if args.pipeline:
        overrides["pipeline"] = args.pipeline
    for name, value in overrides.items():
        ros_args += [
            "-p",
            f"{name}:={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}",
        ]
    if args.namespace:
        ros_args += ["-r", f"__ns:={args.namespace}"]
    extra = [a for a in args.ros_args if a != "--ros-args"]
    return run_nodes(_node_classes(selected), args=["hpe-ros", *ros_args, *extra],
                     autostart=False if args.no_autostart else None)
