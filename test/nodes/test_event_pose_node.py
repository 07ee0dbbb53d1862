"""The event pose node in a real ROS 2 graph, fed the real EVT 3.0 recording of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.events import EventPacketDecoder
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import skeleton_array_to_result
from hpe_ros.pipelines.event_repr import EventWindower

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


def test_event_node_windows_packets_and_skips_a_corrupt_one(ros_graph, shared_data: Path, tmp_path: Path) -> None:
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
