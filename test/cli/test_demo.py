"""`hpe-ros demo`: the README's main job, offline and through a real ROS 2 graph."""

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import read_results
from hpe_ros.cli.main import main
from hpe_ros.io.bags import BagReader
from hpe_ros.pipelines.rgb.blazepose_models import blazepose_available

if not blazepose_available():
    pytest.skip("BlazePose (mediapipe wheel + ai-edge-litert) is not installed", allow_module_level=True)
pytest.importorskip("skimage", reason="scikit-image (the demo picture) is not installed")


def _check_outputs(out: Path, topic: str) -> None:
    assert (out / "overlay_2d.png").stat().st_size > 10_000
    assert (out / "skeleton_3d.png").stat().st_size > 10_000
    results = read_results(out / "output", topic)
    assert len(results) == 3 and all(len(r.people) == 3 for r in results)  # the three astronauts
    for person in results[0].people:
        joints = person.joints_3d
        # a plausible upright human: head above the pelvis (y down), limbs of human length
        assert joints[10, 1] < joints[0, 1] - 0.3
        for parent, child in ((1, 2), (2, 3), (4, 5), (5, 6)):  # thighs and shins
            assert 0.25 < np.linalg.norm(joints[child] - joints[parent]) < 0.6
        assert person.metric and 0.3 < joints[0, 2] < 10.0
    # the same person drawn smaller is placed farther away, left to right as in the picture
    by_size = sorted(results[0].people, key=lambda p: p.box[3] - p.box[1], reverse=True)
    depths = [p.joints_3d[0, 2] for p in by_size]
    assert depths[0] < depths[1] < depths[2]
    assert [p.joints_3d[0, 0] for p in by_size] == sorted(p.joints_3d[0, 0] for p in by_size)


def test_demo_offline(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--offline", "--output", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    assert "3D plot" in printed and "RANDOM weights" in printed
    _check_outputs(tmp_path / "demo", "/hpe/skeletons")
    with BagReader(tmp_path / "demo" / "events_output") as reader:
        bodies = [m.message for m in reader.messages(["/hpe/bodies"])]
    assert bodies and all(len(b.bodies) == 1 and len(b.bodies[0].vertices) > 0 for b in bodies)


@pytest.mark.ros
def test_demo_through_the_ros_graph(tmp_path: Path) -> None:
    pytest.importorskip("rclpy")
    assert main(["demo", "--no-events", "--output", str(tmp_path / "demo")]) == 0
    _check_outputs(tmp_path / "demo", "/skeletons")
