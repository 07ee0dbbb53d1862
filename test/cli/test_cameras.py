"""Per-camera node settings: namespaces, topics from the patterns, joint frames apart."""

from __future__ import annotations

import pytest

from hpe_ros.cli.cameras import camera_nodes, parse_cameras


def test_one_node_per_camera_in_its_namespace() -> None:
    front, left = camera_nodes(parse_cameras(" front, left "), namespace="/robot/")
    assert (front.namespace, left.namespace) == ("/robot/front", "/robot/left")
    assert front.parameters == {"input.image_topic": "/front/image_raw",
                                "input.camera_info_topic": "/front/camera_info",
                                "output.tf_prefix": "hpe/front"}
    (only,) = camera_nodes(["cam0"], image_topic="/{camera}/color/image_raw",
                           camera_info_topic="/{camera}/color/camera_info",
                           depth_topic="/{camera}/aligned_depth_to_color/image_raw")
    assert only.namespace == "/cam0" and only.parameters["input.image_topic"] == "/cam0/color/image_raw"
    assert only.parameters["input.depth_topic"] == "/cam0/aligned_depth_to_color/image_raw"


def test_bad_camera_lists_and_patterns_are_refused() -> None:
    assert parse_cameras("") == []
    with pytest.raises(ValueError, match="twice"):
        parse_cameras("a,b,a")
    with pytest.raises(ValueError, match="name tokens"):
        parse_cameras("front,1st")
    with pytest.raises(ValueError, match="must contain"):
        camera_nodes(["a", "b"], image_topic="/camera/image_raw")
