"""Where the .msg definitions live, for bag I/O without a ROS install.

The interface package ``msg/`` (hpe_ros_msgs) is the one source of truth: in a source
checkout its files are read in place, an installed wheel carries a copy made at build time,
and a ROS install has them under ``share/hpe_ros_msgs/msg``. The other folders below
``hpe_ros/io/interfaces`` hold the few third-party definitions that have no wheel here
(tf2_msgs, event_camera_msgs, dvs_msgs, hri_msgs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_BUNDLED = _HERE / "interfaces"
_SOURCE_MSG_DIR = _HERE.parents[1] / "msg" / "msg"

# Bags recorded before event_camera_msgs was renamed use the old package name.
TYPE_ALIASES: dict[str, str] = {"event_array_msgs/msg/EventArray": "event_camera_msgs/msg/EventPacket"}


@dataclass(frozen=True)
class MessageDefinition:
    type_name: str  # "pkg/msg/Name"
    text: str


def _ament_share_dirs(package: str) -> list[Path]:
    prefixes = os.environ.get("AMENT_PREFIX_PATH", "")
    return [Path(p) / "share" / package / "msg" for p in prefixes.split(os.pathsep) if p]


def _first_existing(candidates: list[Path]) -> Path | None:
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.msg")):
            return folder
    return None


def message_folders() -> dict[str, Path]:
    """Package name -> folder of its .msg files."""
    folders: dict[str, Path] = {}
    ours = _first_existing([_SOURCE_MSG_DIR, _BUNDLED / "hpe_ros_msgs", *_ament_share_dirs("hpe_ros_msgs")])
    if ours is None:
        raise FileNotFoundError(
            "cannot find the hpe_ros_msgs .msg files (looked in the source tree, the installed package "
            "and AMENT_PREFIX_PATH); reinstall hpe_ros"
        )
    folders["hpe_ros_msgs"] = ours
    for folder in sorted(p for p in _BUNDLED.iterdir() if p.is_dir() and p.name != "hpe_ros_msgs"):
        folders[folder.name] = folder
    return folders


def message_definitions() -> list[MessageDefinition]:
    """Every .msg definition hpe_ros needs beyond the standard ROS 2 Jazzy set."""
    definitions = []
    for package, folder in message_folders().items():
        for path in sorted(folder.glob("*.msg")):
            definitions.append(MessageDefinition(f"{package}/msg/{path.stem}", path.read_text()))
    return definitions
