"""Bags in and out: `hpe-ros process` output read back by rosbags and by an independent mcap reader."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import write_sample_recording
from hpe_ros.cli.main import main as cli_main
from hpe_ros.io.bag_processing import process_bag
from hpe_ros.io.bags import BagError, BagReader, BagWriter
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import skeleton_array_to_result
from hpe_ros.pipelines.replay import ReplayPipeline


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "sample"
    folder.mkdir()
    return write_sample_recording(folder, num_frames=8)


def test_process_writes_one_stamped_skeleton_array_per_image(sample, tmp_path: Path) -> None:
    bag, truth = sample
    out = tmp_path / "out"
    report = process_bag(bag, out, ReplayPipeline(truth, match="stamp"), tf=True, progress=False)
    assert (report.input_frames, report.processed, report.skipped, report.people) == (8, 8, 0, 8)
    data = np.load(truth)
    with BagReader(out) as reader:
        assert reader.topics == {"/hpe/skeletons": "hpe_ros_msgs/msg/Skeleton3DArray",
                                 "/hpe/markers": "visualization_msgs/msg/MarkerArray",
                                 "/tf": "tf2_msgs/msg/TFMessage"}
        results = [skeleton_array_to_result(m.message) for m in reader.messages(["/hpe/skeletons"])]
    assert [r.stamp_ns for r in results] == data["stamps_ns"].tolist()
    for result, joints in zip(results, data["joints_3d"], strict=True):
        np.testing.assert_allclose(result.people[0].joints_3d, joints)


def test_mcap_output_is_readable_by_an_independent_reader(sample, tmp_path: Path) -> None:
    mcap_reader = pytest.importorskip("mcap_ros2.reader")
    bag, truth = sample
    out = tmp_path / "out_mcap"
    assert cli_main(["process", str(bag), str(out), "--pipeline", "replay", "--set", f"replay.path={truth}",
                     "--set", "replay.match=stamp", "--storage", "mcap", "--quiet"]) == 0
    (mcap_file,) = out.glob("*.mcap")
    data = np.load(truth)
    decoded = list(mcap_reader.read_ros2_messages(str(mcap_file), topics=["/hpe/skeletons"]))
    assert len(decoded) == 8
    first = decoded[0].ros_msg
    assert first.header.stamp.sec * 10**9 + first.header.stamp.nanosec == int(data["stamps_ns"][0])
    positions = np.array([[p.x, p.y, p.z] for p in first.skeletons[0].positions])
    np.testing.assert_allclose(positions, data["joints_3d"][0])
    assert first.skeletons[0].skeleton_type == 0  # SKELETON_H36M_17


def test_bad_images_are_skipped_and_reported(sample, tmp_path: Path) -> None:
    bag, truth = sample
    broken = tmp_path / "broken"
    classes = RosbagsMessageClasses()
    images = 0
    with BagReader(bag) as reader, BagWriter(broken, typestore=classes.typestore) as writer:
        for item in reader.messages():
            if item.topic == "/camera/image_raw":
                images += 1
                if images == 3:
                    item.message.encoding = "rgb12"
            writer.write(item.topic, item.message, item.timestamp_ns)
    report = process_bag(broken, tmp_path / "out", ReplayPipeline(truth, match="stamp"), progress=False)
    assert report.processed == 7 and report.skipped == 1 and "rgb12" in report.errors[0]


def test_clear_errors_for_wrong_topics_and_existing_output(sample, tmp_path: Path) -> None:
    bag, truth = sample
    pipeline = ReplayPipeline(truth)
    with pytest.raises(BagError, match="not in the bag"):
        process_bag(bag, tmp_path / "o1", pipeline, image_topic="/nope", progress=False)
    with pytest.raises(BagError, match="expected one of"):
        process_bag(bag, tmp_path / "o2", pipeline, image_topic="/camera/camera_info", progress=False)
    with pytest.raises(BagError, match="already exists"):
        process_bag(bag, bag, pipeline, progress=False)
    with pytest.raises(BagError, match="not found"):
        BagReader(tmp_path / "missing")


def test_cli_reports_configuration_errors(sample, tmp_path: Path, capsys) -> None:
    bag, _ = sample
    argv = ["process", str(bag), str(tmp_path / "o"), "--pipeline", "replay", "--set", "replay.path="]
    assert cli_main(argv) == 2
    assert "needs option 'path'" in capsys.readouterr().err
    assert cli_main(["process", str(bag), str(tmp_path / "o"), "--pipeline", "nope"]) == 2
    assert "unknown pipeline" in capsys.readouterr().err


def test_event_bags_are_cut_into_windows(shared_data: Path, tmp_path: Path) -> None:
    poses = tmp_path / "poses.npz"
    np.savez(poses, joints_3d=np.zeros((3, 17, 3)) + [0, 0, 2])
    out = tmp_path / "out_events"
    assert cli_main(["process", str(shared_data / "events" / "evt3_trigger"), str(out),
                     "--pipeline", "event_replay", "--set", f"event_replay.path={poses}",
                     "--window-ms", "100", "--quiet"]) == 0
    with BagReader(out) as reader:
        results = [skeleton_array_to_result(m.message) for m in reader.messages(["/hpe/skeletons"])]
    stamps = [r.stamp_ns for r in results]
    # 0.84 s of events in 100 ms windows, stamped with their ends, 100 ms apart
    assert len(results) >= 7 and all(b - a == 100_000_000 for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(len(r.people) == 1 for r in results)


def test_meshes_are_written_with_faces_once(sample, tmp_path: Path) -> None:
    """An RGB pipeline with a SMPL model configured writes bodies, the faces once and mesh markers."""
    from hpe_ros.models.smpl_synthetic import save_synthetic_smpl
    from hpe_ros.pipelines.registry import create_pipeline

    bag, _ = sample
    smpl_path = tmp_path / "smpl.npz"
    save_synthetic_smpl(smpl_path, "npz", num_vertices=300)
    pipeline = create_pipeline("topdown", {"allow_random_weights": True, "box_source": "whole_image",
                                           "lifter": "default", "smpl_model_path": str(smpl_path),
                                           "flip_test": False})
    out = tmp_path / "meshes"
    report = process_bag(bag, out, pipeline, progress=False)
    assert report.written["/hpe/mesh_faces"] == 1 and report.written["/hpe/bodies"] == report.processed == 8
    with BagReader(out) as reader:
        (faces,) = [m.message for m in reader.messages(["/hpe/mesh_faces"])]
        body = next(m.message for m in reader.messages(["/hpe/bodies"])).bodies[0]
        markers = next(m.message for m in reader.messages(["/hpe/markers"])).markers
    assert faces.num_vertices == 300 == len(body.vertices) // 3 and len(faces.triangles) % 3 == 0
    assert any(m.type == 11 and m.ns.startswith("mesh/") for m in markers)  # TRIANGLE_LIST


def _mono_packet_message(classes: RosbagsMessageClasses, stamp_ns: int, dts_ns: list[int], xs: list[int],
                         width: int = 16, height: int = 8) -> object:
    words = (np.asarray(xs, np.uint64) << np.uint64(32)) | np.asarray(dts_ns, np.uint64)
    header = classes.new("std_msgs/msg/Header", stamp=classes.new("builtin_interfaces/msg/Time",
                         sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id="ev")
    return classes.new("event_camera_msgs/msg/EventPacket", header=header, height=height, width=width, seq=0,
                       time_base=0, encoding="mono", is_bigendian=False,
                       events=np.frombuffer(words.astype("<u8").tobytes(), np.uint8))


def test_event_bag_with_a_clock_jump_outside_events_and_a_last_partial_window(tmp_path: Path) -> None:
    classes = RosbagsMessageClasses()
    bag, out = tmp_path / "jump", tmp_path / "out"
    ms, now = 1_000_000, 1_780_000_000 * 10**9
    packets = [
        (5 * ms, [0, 1 * ms], [1, 2]),  # the driver's clock not set yet
        (now, [0, 10 * ms, 20 * ms], [3, 40, 4]),  # x = 40 is outside the 16 x 8 sensor: dropped
        (now + 60 * ms, [0, 10 * ms], [5, 6]),  # closes the window of `now`; stays open at the end
    ]
    with BagWriter(bag, typestore=classes.typestore) as writer:
        for stamp, dts, xs in packets:
            writer.write("/ev", _mono_packet_message(classes, stamp, dts, xs), stamp)
    poses = tmp_path / "poses.npz"
    np.savez(poses, joints_3d=np.zeros((3, 17, 3)) + [0, 0, 2])
    from hpe_ros.pipelines.registry import create_pipeline

    pipeline = create_pipeline("event_replay", {"path": str(poses)})
    started = time.perf_counter()
    report = process_bag(bag, out, pipeline, window_ms=50.0, progress=False)
    assert time.perf_counter() - started < 10.0
    with BagReader(out) as reader:
        stamps = [skeleton_array_to_result(m.message).stamp_ns for m in reader.messages(["/hpe/skeletons"])]
    # the pre-jump window, the first window of the new grid, and the last partial one (flushed)
    assert stamps == [5 * ms + 50 * ms, now + 50 * ms, now + 100 * ms]
    assert report.processed == report.input_frames == 3 and report.skipped == 0
    counts = report.event_counts
    assert counts["window grid resyncs (clock jumps)"] == 1
    assert counts["events dropped (outside the sensor / before the stream state)"] == 1
    assert counts["events decoded"] == 6
