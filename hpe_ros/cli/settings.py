"""The pipeline name and options that a command's --config / --pipeline / --set arguments select."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpe_ros.io.config import config_dir, load_node_parameters, parse_assignments, pipeline_options


@dataclass(frozen=True)
class PipelineSettings:
    config: Path
    params: dict[str, Any]  # flattened node parameters after --set
    pipeline: str
    options: dict[str, Any]


def resolve_settings(args: argparse.Namespace, node_name: str = "hpe_pose") -> PipelineSettings:
    config = args.config or config_dir() / "pose.yaml"
    params = load_node_parameters(config, node_name)
    params.update(parse_assignments(args.assignments))
    if args.pipeline:
        params["pipeline"] = args.pipeline
    pipeline = str(params.get("pipeline", "blazepose"))
    return PipelineSettings(Path(config), params, pipeline, pipeline_options(params, pipeline))
