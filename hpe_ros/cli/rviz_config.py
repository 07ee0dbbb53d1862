"""The RViz view of ``pose.launch.py rviz:=true``, filled in from the launch arguments.

``config/hpe_ros.rviz`` is a working RViz file for the default arguments and serves as the
template: :func:`render_rviz_config` sets its camera image topic, marker topic and fixed frame
from the launch configuration (``launch``/``launch_ros`` are not needed here).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class RvizSettings:
    """What the view shows; topics as the launch arguments give them (relative ones resolve in
    ``namespace``)."""

    namespace: str = ""
    image_topic: str = "/camera/image_raw"
    fixed_frame: str = "camera_optical_frame"
    markers_topic: str = "markers"  # the nodes publish it relative to their namespace


def resolve_topic(namespace: str, topic: str) -> str:
    """``topic`` as ROS resolves it for a node in ``namespace`` (``~`` is not used by these topics)."""
    if topic.startswith("/"):
        return "/" + topic.strip("/")
    parts = [p for p in namespace.strip("/").split("/") + topic.strip("/").split("/") if p]
    return "/" + "/".join(parts)


def _display(config: dict[str, Any], display_class: str) -> dict[str, Any]:
    for display in config["Visualization Manager"]["Displays"]:
        if display.get("Class") == display_class:
            return display
    raise ValueError(f"the RViz template has no {display_class} display")


def render_rviz_config(template: str, settings: RvizSettings) -> str:
    """The template's YAML text with ``settings`` applied."""
    if not settings.fixed_frame.strip():
        raise ValueError("the RViz fixed frame is empty; set fixed_frame:= to your camera's optical frame")
    config = yaml.safe_load(template)
    _display(config, "rviz_default_plugins/Image")["Topic"]["Value"] = resolve_topic(settings.namespace,
                                                                                     settings.image_topic)
    _display(config, "rviz_default_plugins/MarkerArray")["Topic"]["Value"] = resolve_topic(settings.namespace,
                                                                                           settings.markers_topic)
    config["Visualization Manager"]["Global Options"]["Fixed Frame"] = settings.fixed_frame.strip()
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write_rviz_config(
    template_path: str | Path, settings: RvizSettings, directory: str | Path | None = None
) -> Path:
    """Render ``template_path`` into a new ``.rviz`` file (in the temporary folder by default)."""
    text = render_rviz_config(Path(template_path).read_text(), settings)
    with tempfile.NamedTemporaryFile(
        "w", prefix="hpe_ros_", suffix=".rviz", dir=directory, delete=False
    ) as handle:
        handle.write(text)
    return Path(handle.name)


def is_true(value: str) -> bool:
    """A launch argument's boolean, spelled as ``launch`` accepts it."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")
