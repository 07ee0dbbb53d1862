"""The RGB pose node in a real ROS 2 graph: node, player and recorder in three processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import INFO_TOPIC, pinhole_for, write_image_bag, write_sample_recording
from hpe_ros.core.joints import H36M_17
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import skeleton_array_to_result, stamp_to_ns
from hpe_ros.pipelines.rgb.blazepose_models import blazepose_available

pytestmark = pytest.mark.ros

REPO_ROOT = Path(__file__).resolve().parents[2]

BAD_FRAME = 10


def _with_bad_image(source: Path, target: Path) -> list[int]:
    """Copy ``source`` with image BAD_FRAME's step made too short; returns the stamps of good images."""
    classes = RosbagsMessageClasses()
    good, image_index = [], 0
    with BagReader(source) as reader, BagWriter(target, typestore=classes.typestore) as writer:
        for item in reader.messages():
            msg = item.message
            if item.topic == "/camera/image_raw":
                if image_index == BAD_FRAME:
                    msg.step = msg.width  # rgb8 needs 3 bytes per pixel: inconsistent
                else:
                    good.append(stamp_to_ns(msg.header.stamp))
                image_index += 1
            writer.write(item.topic, msg, item.timestamp_ns)
    return good


def _level(status) -> int:
    return status.level if isinstance(status.level, int) else status.level[0]


def test_node_publishes_skeletons_markers_and_reports_bad_images(ros_graph, tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    clean_bag, truth = write_sample_recording(tmp_path / "sample", num_frames=20)
    bag = tmp_path / "with_bad_image"
    good_stamps = _with_bad_image(clean_bag, bag)

    ros_graph.start("node", "run", "--pipeline", "replay", "--set", f"replay.path={truth}",
                    "--set", "replay.match=stamp", "--set", "input.qos=reliable",
                    "--set", "input.queue_size=100", "--set", "diagnostics_period_s=0.2")
    ros_graph.wait_for_line("node", "active:", timeout_s=30)
    recorded = tmp_path / "recorded"
    ros_graph.start("recorder", "record", str(recorded),
                    "--topic", "/skeletons:hpe_ros_msgs/msg/Skeleton3DArray",
                    "--topic", "/markers:visualization_msgs/msg/MarkerArray",
                    "--topic", "/diagnostics:diagnostic_msgs/msg/DiagnosticArray",
                    "--until", f"/skeletons={len(good_stamps)}", "--until", f"/markers={len(good_stamps)}",
                    "--duration", "60", "--wait-publishers", "20")
    ros_graph.wait_for_line("recorder", "recording", timeout_s=30)
    player = ros_graph.start("player", "play", str(bag), "--wait-subscribers", "1", "--rate", "1")
    assert player.wait(timeout=60) == 0, ros_graph.log("player")
    recorder = ros_graph.processes[1][0]
    assert recorder.wait(timeout=60) == 0, ros_graph.log("recorder")

    truth_data = np.load(truth)
    truth_by_stamp = dict(zip(truth_data["stamps_ns"].tolist(), truth_data["joints_3d"], strict=True))
    with BagReader(recorded) as reader:
        arrays = [skeleton_array_to_result(m.message) for m in reader.messages(["/skeletons"])]
        markers = [m.message for m in reader.messages(["/markers"])]
        diagnostics = [m.message for m in reader.messages(["/diagnostics"])]

    # one output per good input, stamped with the input's stamp, holding the replayed 3D pose
    assert sorted(a.stamp_ns for a in arrays) == good_stamps
    for array in arrays:
        assert array.frame_id == "camera_optical_frame"
        (person,) = array.people
        np.testing.assert_allclose(person.joints_3d, truth_by_stamp[array.stamp_ns], atol=1e-9)
        assert person.metric
    # markers: one joints + one bones marker in the person's own namespace
    assert len(markers) == len(good_stamps)
    assert {(m.ns, m.id) for m in markers[0].markers} == {("skeleton/replay_0", 0), ("skeleton/replay_0", 1)}
    # the bad image was reported on /diagnostics and the node went on
    values = [{kv.key: kv.value for kv in d.status[0].values} for d in diagnostics]
    after_rejection = [int(v["processed"]) for v in values if v["rejected (bad input)"] == "1"]
    assert after_rejection and max(after_rejection) > BAD_FRAME  # frames after the bad one were processed
    assert all(v["rejected (bad input)"] in ("0", "1") and v["failed (pipeline error)"] == "0"
               for v in values)
    warned = [d.status[0] for d in diagnostics if "step" in d.status[0].message]
    assert warned and all(_level(s) == 1 for s in warned)  # WARN


def _without_first_camera_info(source: Path, target: Path) -> None:
    """Copy ``source`` without its first CameraInfo: the first image's intrinsics come one frame late."""
    classes = RosbagsMessageClasses()
    dropped = False
    with BagReader(source) as reader, BagWriter(target, typestore=classes.typestore) as writer:
        for item in reader.messages():
            if item.topic == INFO_TOPIC and not dropped:
                dropped = True
                continue
            writer.write(item.topic, item.message, item.timestamp_ns)


def _blazepose_skeletons(ros_graph, tmp_path: Path, bag: Path, frames: int, *settings: str,
                         wait_subscribers: int = 1) -> list:
    """The skeletons the RGB node (BlazePose, reliable input, ``settings`` as NAME=VALUE) publishes
    for the ``frames`` images of ``bag``, as a recorder in its own process saw them.

    Every process uses the shipped Fast DDS profile: the 512x512 images and depth images are
    larger than Fast DDS's default shared-memory segment, and over UDP a lost fragment of a
    reliable message waits for the writer's next heartbeat (seconds), longer than the node waits
    for a depth image (docs/reliability.md, "Choosing QoS")."""
    ros_graph.env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(REPO_ROOT / "config" / "fastdds_large_images.xml")
    extra = [arg for setting in settings for arg in ("--set", setting)]
    ros_graph.start("node", "run", "--set", "pipeline=blazepose", "--set", "input.qos=reliable",
                    "--set", "input.queue_size=100", "--set", "input.qos_depth=100", *extra)
    ros_graph.wait_for_line("node", "active:", timeout_s=60)
    recorded = tmp_path / "recorded"
    recorder = ros_graph.start("recorder", "record", str(recorded),
                               "--topic", "/skeletons:hpe_ros_msgs/msg/Skeleton3DArray",
                               "--until", f"/skeletons={frames}", "--duration", "60",
                               "--wait-publishers", "30")
    ros_graph.wait_for_line("recorder", "recording", timeout_s=30)
    player = ros_graph.start("player", "play", str(bag), "--wait-subscribers", str(wait_subscribers),
                             "--rate", "1")
    assert player.wait(timeout=60) == 0, ros_graph.log("player")
    assert recorder.wait(timeout=90) == 0, ros_graph.log("recorder") + ros_graph.log("node")
    with BagReader(recorded) as reader:
        return [skeleton_array_to_result(m.message) for m in reader.messages(["/skeletons"])]


def test_first_image_waits_for_a_late_camera_info(ros_graph, tmp_path: Path) -> None:
    if not blazepose_available():
        pytest.skip("BlazePose (mediapipe wheel + ai-edge-litert) is not installed")
    skimage_data = pytest.importorskip("skimage.data",
                                       reason="scikit-image (the test picture) is not installed")
    picture = skimage_data.astronaut()
    frames = 3
    source, bag = tmp_path / "in_order", tmp_path / "late_info"
    write_image_bag(source, [picture] * frames, pinhole_for(picture, horizontal_fov_deg=60.0))
    _without_first_camera_info(source, bag)

    results = _blazepose_skeletons(ros_graph, tmp_path, bag, frames)
    assert len(results) == frames and all(len(r.people) == 1 for r in results)
    # the first image arrived 0.1 s before any CameraInfo: it waited for it and was placed metrically
    assert all(r.people[0].metric for r in results)


def _with_depth(source: Path, target: Path, metres: float, topic: str) -> None:
    """Copy ``source`` adding, before each image, a 16UC1 depth image of a wall ``metres`` away."""
    classes = RosbagsMessageClasses()
    with BagReader(source) as reader, BagWriter(target, typestore=classes.typestore) as writer:
        for item in reader.messages():
            msg = item.message
            if item.topic == "/camera/image_raw":
                millimetres = np.full((msg.height, msg.width), round(1000 * metres), dtype="<u2")
                millimetres[::7, ::5] = 0  # holes
                depth = classes.new("sensor_msgs/msg/Image", header=msg.header,
                                    height=msg.height, width=msg.width,
                                    encoding="16UC1", is_bigendian=0, step=2 * msg.width,
                                    data=np.frombuffer(millimetres.tobytes(), dtype=np.uint8))
                writer.write(topic, depth, item.timestamp_ns)
            writer.write(item.topic, msg, item.timestamp_ns)


def test_an_aligned_depth_image_places_the_person_at_the_measured_distance(ros_graph, tmp_path: Path) -> None:
    if not blazepose_available():
        pytest.skip("BlazePose (mediapipe wheel + ai-edge-litert) is not installed")
    skimage_data = pytest.importorskip("skimage.data",
                                       reason="scikit-image (the test picture) is not installed")
    picture = skimage_data.astronaut()
    frames, metres, topic = 3, 1.0, "/camera/aligned_depth_to_color/image_raw"
    plain, bag = tmp_path / "plain", tmp_path / "rgbd"
    write_image_bag(plain, [picture] * frames, pinhole_for(picture, horizontal_fov_deg=60.0))
    _with_depth(plain, bag, metres, topic)

    # a loaded machine can deliver the first CameraInfo and depth images late; two subscribers per
    # topic never come, so the player's 30 s wait lets every subscription match before it plays
    results = _blazepose_skeletons(ros_graph, tmp_path, bag, frames, f"input.depth_topic={topic}",
                                   "input.depth_wait_s=2.0", "input.camera_info_wait_s=2.0",
                                   wait_subscribers=2)
    assert len(results) == frames
    for result in results:
        (person,) = result.people
        assert person.metric and person.root_confidence == pytest.approx(0.95), ros_graph.log("node")[-3000:]
        # the torso's surface is the wall at 1 m (the size prior put her at 0.78 m); its joints lie behind it
        torso = person.joints_3d[H36M_17.indices(["spine", "thorax", "left_shoulder", "right_shoulder"]), 2]
        assert metres < torso.mean() < metres + 0.3
