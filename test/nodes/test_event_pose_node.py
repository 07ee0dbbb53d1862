"""The event pose node in a real ROS 2 graph, fed the real EVT 3.0 recording of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.events import EventPacketDecoder
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import skeleton_array_to_result
from hpe_ros.pipelines.events.representations import EventWindower

pytestmark = pytest.mark.ros
WINDOW_MS = 50.0
CORRUPT_PACKET = 3


def _expected_window_stamps(messages: list) -> list[int]:
    decoder = EventPacketDecoder()
    windower = None
    stamps = []
    for index, msg in enumerate(messages):
        if index == CORRUPT_PACKET:
            continue
        events = decoder.decode(msg).cd
        if windower is None:
            windower = EventWindower(int(msg.width), int(msg.height), duration_ns=int(WINDOW_MS * 1e6))
        stamps += [w.stamp_ns for w in windower.add(events)]
    return stamps


def test_event_node_windows_packets_and_skips_a_corrupt_one(
    ros_graph, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "events" / "evt3_trigger"
    bag = tmp_path / "events"
    classes = RosbagsMessageClasses()
    messages = []
    with BagReader(source) as reader, BagWriter(bag, typestore=classes.typestore) as writer:
        for index, item in enumerate(reader.messages()):
            if index == CORRUPT_PACKET:
                item.message.encoding = "evt9"
            messages.append(item.message)
            writer.write(item.topic, item.message, item.timestamp_ns)
    expected = _expected_window_stamps(messages)
    assert len(expected) >= 10

    truth = tmp_path / "poses.npz"
    joints = np.random.default_rng(0).normal(size=(4, 17, 3)) + [0, 0, 3]
    np.savez(truth, joints_3d=joints, joint_set="h36m_17")
    ros_graph.start("node", "run", "--node", "event", "--set", f"event_replay.path={truth}",
                    "--set", "input.qos=reliable", "--set", "input.queue_size=1000",
                    "--set", f"input.window_ms={WINDOW_MS}", "--set", "diagnostics_period_s=0.2")
    ros_graph.wait_for_line("node", "active:", timeout_s=30)
    recorded = tmp_path / "recorded"
    ros_graph.start("recorder", "record", str(recorded),
                    "--topic", "/skeletons:hpe_ros_msgs/msg/Skeleton3DArray",
                    "--topic", "/diagnostics:diagnostic_msgs/msg/DiagnosticArray",
                    "--until", f"/skeletons={len(expected)}", "--duration", "60", "--wait-publishers", "20")
    ros_graph.wait_for_line("recorder", "recording", timeout_s=30)
    player = ros_graph.start("player", "play", str(bag), "--wait-subscribers", "1", "--rate", "0.5")
    assert player.wait(timeout=60) == 0, ros_graph.log("player")
    recorder = ros_graph.processes[1][0]
    assert recorder.wait(timeout=60) == 0, ros_graph.log("recorder")

    with BagReader(recorded) as reader:
        results = [skeleton_array_to_result(m.message) for m in reader.messages(["/skeletons"])]
        diagnostics = [m.message for m in reader.messages(["/diagnostics"])]
    assert [r.stamp_ns for r in results] == expected  # one output per window, stamped with the window's end
    for index, result in enumerate(results):
        np.testing.assert_allclose(result.people[0].joints_3d, joints[index % 4])
    rejected = [{kv.key: kv.value for kv in d.status[0].values}["rejected (bad input)"] for d in diagnostics]
    assert "1" in rejected
    assert any("evt9" in d.status[0].message for d in diagnostics)


# ---- a demanding user: clock jumps, an oversized sensor, bad side inputs ------------------------

MONO_WIDTH, MONO_HEIGHT = 32, 24


def _mono(stamp_ns: int, dts_ns: list[int], width: int = MONO_WIDTH, height: int = MONO_HEIGHT, seq: int = 0):
    from event_camera_msgs.msg import EventPacket

    n = len(dts_ns)
    x = np.arange(n, dtype=np.uint64) % 20
    y = np.arange(n, dtype=np.uint64) % 10
    dts = np.asarray(dts_ns, np.uint64)
    words = (np.uint64(1) << np.uint64(63)) | (y << np.uint64(48)) | (x << np.uint64(32)) | dts
    msg = EventPacket(width=width, height=height, encoding="mono", seq=seq, is_bigendian=False)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "event_camera"
    msg.events = words.astype("<u8").tobytes()
    return msg


def test_event_node_survives_a_clock_jump_and_an_oversized_packet(ros_graph, tmp_path: Path) -> None:
    import time

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from event_camera_msgs.msg import EventPacket
    from hpe_ros_msgs.msg import Skeleton3DArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    truth = tmp_path / "poses.npz"
    joints = np.random.default_rng(1).normal(size=(3, 17, 3)) + [0, 0, 3]
    np.savez(truth, joints_3d=joints, joint_set="h36m_17")
    node = ros_graph.start("node", "run", "--node", "event", "--set", f"event_replay.path={truth}",
                           "--set", "input.qos=reliable", "--set", "input.queue_size=100",
                           "--set", f"input.window_ms={WINDOW_MS}", "--set", "diagnostics_period_s=0.2",
                           "--set", "input.camera_info_topic=/ev/info", "--set", "input.gray_topic=/ev/gray")
    ros_graph.wait_for_line("node", "active:", timeout_s=30)

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_graph.env["ROS_DOMAIN_ID"]))
    user = rclpy.create_node("demanding_event_user", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(user)
    stamps: list[int] = []
    values: dict[str, str] = {}

    def on_skeletons(msg):
        stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)

    def on_diagnostics(msg):
        for status in msg.status:
            if "hpe_event_pose" in status.name:
                values.clear()
                values.update({kv.key: kv.value for kv in status.values})

    def spin_until(done, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not done():
            executor.spin_once(timeout_sec=0.05)
        return done()

    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    try:
        user.create_subscription(Skeleton3DArray, "/skeletons", on_skeletons, reliable)
        user.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 50)
        events = user.create_publisher(EventPacket, "/event_camera/events", reliable)
        info = user.create_publisher(CameraInfo, "/ev/info", reliable)
        gray = user.create_publisher(Image, "/ev/gray", reliable)
        assert spin_until(lambda: all(p.get_subscription_count() > 0 for p in (events, info, gray)), 20.0)
        time.sleep(0.3)
        now = time.time_ns()
        ms = 1_000_000
        packets = [
            _mono(5 * ms, [0, 1 * ms, 2 * ms], seq=1),  # the driver's clock not set yet
            _mono(now, [0, 10 * ms, 20 * ms], seq=2),  # ... and now it is: 5.6e10 s later
            _mono(now + 30 * ms, [0, 1 * ms], width=100_000, height=100_000, seq=3),  # a 37 GiB sensor
            _mono(now + 60 * ms, [0, 5 * ms], seq=4),  # good again: closes the window of packet 2
            _mono(now + 130 * ms, [0], seq=5),  # closes the window of packet 4
        ]
        bad_info = CameraInfo(width=MONO_WIDTH, height=MONO_HEIGHT, k=[0.0] * 9)
        bad_gray = Image(width=4, height=4, encoding="rgb8", step=12, data=bytes(5))
        for index, packet in enumerate(packets):
            events.publish(packet)
            if index == 2:
                info.publish(bad_info)
                gray.publish(bad_gray)
            spin_until(lambda: False, 0.05)
        window = int(WINDOW_MS * ms)
        expected = [5 * ms + window, now + window, now + 2 * window]
        assert spin_until(lambda: len(stamps) >= 3, 30.0), (stamps, ros_graph.log("node"))
        # the pre-jump window, then the new grid from `now`; the big packet is skipped
        assert stamps == expected

        def reported() -> bool:
            return (values.get("window grid resyncs (clock jumps)") == "1"
                    and values.get("rejected event packet mono") == "1"
                    and values.get("rejected camera_info") == "1"
                    and values.get("rejected gray image") == "1"
                    and values.get("event packets decoded mono") == "4"
                    and values.get("events decoded") == "9")

        assert spin_until(reported, 20.0), values  # a status from after the last packet
        assert node.poll() is None
    finally:
        executor.shutdown()
        user.destroy_node()
        rclpy.shutdown(context=context)
    log = ros_graph.log("node")
    assert "100000x100000 sensor; each side must be 1..8192" in log
