"""`hpe-ros run --cameras`: one pose node per camera, each in its own namespace, on its own topics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpe_ros.cli.demo import write_sample_recording
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import skeleton_array_to_result

FRAMES = {"front": 6, "left": 4}


def _recording_of(camera: str, folder: Path) -> tuple[Path, Path]:
    """The sample recording with its topics under /<camera>/."""
    folder.mkdir()
    bag, truth = write_sample_recording(folder, num_frames=FRAMES[camera])
    renamed = folder / f"{camera}_bag"
    classes = RosbagsMessageClasses()
    with BagReader(bag) as reader, BagWriter(renamed, typestore=classes.typestore) as writer:
        for item in reader.messages():
            writer.write(item.topic.replace("/camera/", f"/{camera}/"), item.message, item.timestamp_ns)
    return renamed, truth


def test_each_camera_gets_its_own_node_and_outputs(ros_graph, tmp_path: Path) -> None:
    recordings = {camera: _recording_of(camera, tmp_path / camera) for camera in FRAMES}
    poses = tmp_path / "poses.npz"  # one file for both nodes: pose n of the file for image n of a camera
    np.savez(poses, joints_3d=np.load(recordings["front"][1])["joints_3d"])
    ros_graph.start("nodes", "run", "--cameras", "front,left", "--namespace", "robot", "--pipeline", "replay",
                    "--set", f"replay.path={poses}", "--set", "input.qos=reliable",
                    "--set", "input.queue_size=100")
    for camera in FRAMES:  # /robot/<camera>/hpe_pose, subscribed to /<camera>/...
        ros_graph.wait_for_line("nodes", f"[robot.{camera}.hpe_pose]: active: /{camera}/camera_info, "
                                f"/{camera}/image_raw", timeout_s=60)
    recorded = tmp_path / "recorded"
    topics = [f"/robot/{camera}/skeletons" for camera in FRAMES]
    ros_graph.start("recorder", "record", str(recorded),
                    *[a for t in topics for a in ("--topic", f"{t}:hpe_ros_msgs/msg/Skeleton3DArray")],
                    *[a for c, t in zip(FRAMES, topics, strict=True)
                      for a in ("--until", f"{t}={FRAMES[c]}")],
                    "--duration", "60", "--wait-publishers", "20")
    ros_graph.wait_for_line("recorder", "recording", timeout_s=30)
    players = [ros_graph.start(f"player_{camera}", "play", str(bag), "--wait-subscribers", "1")
               for camera, (bag, _) in recordings.items()]
    for camera, player in zip(FRAMES, players, strict=True):
        assert player.wait(timeout=60) == 0, ros_graph.log(f"player_{camera}")
    recorder = ros_graph.processes[1][0]
    assert recorder.wait(timeout=60) == 0, ros_graph.log("recorder")

    truth = np.load(poses)["joints_3d"]
    with BagReader(recorded) as reader:
        for camera, topic in zip(FRAMES, topics, strict=True):
            results = [skeleton_array_to_result(m.message) for m in reader.messages([topic])]
            assert len(results) == FRAMES[camera]  # each node saw its own camera's images only
            for index, result in enumerate(results):
                np.testing.assert_allclose(result.people[0].joints_3d, truth[index], atol=1e-9)
