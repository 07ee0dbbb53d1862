"""ROS 2 parameter files (``config/*.yaml``) read without ROS, for ``hpe-ros process`` and friends.

The same files configure the nodes (``--params-file``) and the offline tools, so a pipeline
behaves the same live and on a bag.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "hpe_ros"


def config_dir() -> Path:
    """The folder of hpe_ros's YAML files: source checkout, ament share folder, or the venv's share."""
    candidates = [Path(__file__).resolve().parents[2] / "config"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / "config")
    candidates.append(Path(sys.prefix) / "share" / PACKAGE / "config")
    for folder in candidates:
        if (folder / "pose.yaml").is_file():
            return folder
    raise FileNotFoundError(
        f"cannot find hpe_ros's config folder; looked in: {', '.join(map(str, candidates))}"
    )


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML mappings -> dotted ROS parameter names."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def load_node_parameters(path: str | Path, node_name: str) -> dict[str, Any]:
    """The ``ros__parameters`` of ``node_name`` (or of ``/**``, ``/**/node_name``) in a parameter
    file, flattened."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read parameter file {path}: {error}") from error
    params: dict[str, Any] = {}
    for key in ("/**", f"/**/{node_name}", node_name, f"/{node_name}"):
        section = document.get(key)
        if isinstance(section, dict):
            params.update(flatten(section.get("ros__parameters", {}) or {}))
    return params


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["replay.path=/x.npz", "output.tf=true"]`` -> typed values (YAML scalars)."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        values[name.strip()] = yaml.safe_load(text) if text.strip() else ""
    return values


def pipeline_options(params: dict[str, Any], pipeline: str) -> dict[str, Any]:
    """The ``<pipeline>.<option>`` entries of ``params`` as options of that pipeline."""
    prefix = f"{pipeline}."
    return {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)}
