from pathlib import Path

import pytest

from hpe_ros.io.config import config_dir, load_node_parameters, parse_assignments, pipeline_options
from hpe_ros.pipelines.registry import pipeline_specs


def test_packaged_config_declares_every_option_of_its_pipelines() -> None:
    path = config_dir() / "pose.yaml"
    for node in ("hpe_pose", "hpe_event_pose"):
        params = load_node_parameters(path, node)
        spec = pipeline_specs()[params["pipeline"]]
        assert set(pipeline_options(params, spec.name)) == set(spec.defaults)


def test_flattening_and_assignments(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    a: 1\n"
                    "node:\n  ros__parameters:\n    x:\n      y: true\n      z: s\n")
    assert load_node_parameters(path, "node") == {"a": 1, "x.y": True, "x.z": "s"}
    assert parse_assignments(["k=3", "b=false", "s=text", "e="]) == {"k": 3, "b": False, "s": "text", "e": ""}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_assignments(["novalue"])
