"""The RViz view that pose.launch.py renders from its arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpe_ros.cli.rviz_config import (
    RvizSettings,
    is_true,
    render_rviz_config,
    resolve_topic,
    write_rviz_config,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "config" / "hpe_ros.rviz"


def _shown(text: str) -> tuple[str, str, str]:
    config = yaml.safe_load(text)["Visualization Manager"]
    topics = {d["Class"]: d.get("Topic", {}).get("Value") for d in config["Displays"]}
    return (topics["rviz_default_plugins/Image"], topics["rviz_default_plugins/MarkerArray"],
            config["Global Options"]["Fixed Frame"])


def test_the_defaults_render_the_template_unchanged() -> None:
    template = TEMPLATE.read_text()
    assert yaml.safe_load(render_rviz_config(template, RvizSettings())) == yaml.safe_load(template)
    assert _shown(template) == ("/camera/image_raw", "/markers", "camera_optical_frame")


def test_namespace_topics_and_frame_follow_the_arguments(tmp_path: Path) -> None:
    settings = RvizSettings(namespace="/robot1/", image_topic="front/color/image_raw",
                            fixed_frame="front_optical")
    path = write_rviz_config(TEMPLATE, settings, directory=tmp_path)
    assert path.parent == tmp_path and path.suffix == ".rviz"
    assert _shown(path.read_text()) == ("/robot1/front/color/image_raw", "/robot1/markers", "front_optical")
    absolute = RvizSettings(namespace="robot1", image_topic="/camera/image_raw")
    shown = _shown(render_rviz_config(TEMPLATE.read_text(), absolute))
    assert shown[:2] == ("/camera/image_raw", "/robot1/markers")


@pytest.mark.parametrize("namespace, topic, resolved", [
    ("", "markers", "/markers"), ("/", "markers", "/markers"), ("a/b", "markers", "/a/b/markers"),
    ("a", "/x/y/", "/x/y"), ("/a/", "c/d", "/a/c/d"),
])
def test_resolve_topic(namespace: str, topic: str, resolved: str) -> None:
    assert resolve_topic(namespace, topic) == resolved


def test_refusals() -> None:
    with pytest.raises(ValueError, match="fixed frame is empty"):
        render_rviz_config(TEMPLATE.read_text(), RvizSettings(fixed_frame=" "))
    with pytest.raises(ValueError, match="no rviz_default_plugins/Image display"):
        render_rviz_config("Visualization Manager:\n  Displays: []\n", RvizSettings())
    assert is_true("True") and not is_true("false")
    with pytest.raises(ValueError, match="expected true or false"):
        is_true("maybe")
