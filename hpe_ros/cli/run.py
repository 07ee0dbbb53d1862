"""``hpe-ros run``: the nodes of ``pose.launch.py`` in one process, from the same YAML."""

from __future__ import annotations

import argparse
from typing import Any

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


def _camera_node_kwargs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Constructor keywords of one pose node per ``--cameras`` entry (namespace, topic overrides)."""
    from rclpy.parameter import Parameter

    from hpe_ros.cli.cameras import camera_nodes, parse_cameras

    nodes = camera_nodes(parse_cameras(args.cameras), args.namespace, args.camera_image_topic,
                         args.camera_info_topic)
    return [{"namespace": node.namespace,
             "parameter_overrides": [Parameter(name, value=value) for name, value in node.parameters.items()]}
            for node in nodes]


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
    classes = _node_classes(selected)
    node_kwargs: list[dict[str, Any]] | None = None
    if args.cameras:  # one pose node per camera; a global __ns remap would override their namespaces
        cameras = _camera_node_kwargs(args)
        others = [c for c in classes if c.__name__ != "PoseNode"]
        pose = [c for c in classes if c.__name__ == "PoseNode"]
        if not pose:
            raise ValueError("--cameras starts pose nodes: add --node pose")
        classes = pose * len(cameras) + others
        node_kwargs = cameras + [{"namespace": "/" + args.namespace.strip("/")} for _ in others]
    elif args.namespace:
        ros_args += ["-r", f"__ns:={args.namespace}"]
    extra = [a for a in args.ros_args if a != "--ros-args"]
    return run_nodes(classes, args=["hpe-ros", *ros_args, *extra], node_kwargs=node_kwargs,
                     autostart=False if args.no_autostart else None)
