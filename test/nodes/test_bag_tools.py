"""`hpe-ros play` and `hpe-ros record` as real processes: an interrupted recording is closed and readable."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import IMAGE_TOPIC, write_image_bag
from hpe_ros.io.bags import BagReader
from hpe_ros.io.messages import stamp_to_ns
from hpe_ros.simulation.people import default_camera

FRAMES = 600  # 20 s at 30 fps: the recorder is stopped long before the player ends


@pytest.mark.parametrize("storage, signum, code",
                         [("sqlite3", signal.SIGINT, 130), ("mcap", signal.SIGTERM, 143)])
def test_an_interrupted_recording_holds_every_message_it_counted(ros_graph, tmp_path: Path, storage: str,
                                                                 signum: int, code: int) -> None:
    frames = [np.full((12, 16, 3), i % 256, np.uint8) for i in range(FRAMES)]
    stamps = write_image_bag(tmp_path / "in", frames, default_camera(16, 12))
    out = tmp_path / "recorded"
    recorder = ros_graph.start("record", "record", str(out),
                               "--topic", f"{IMAGE_TOPIC}:sensor_msgs/msg/Image",
                               "--duration", "120", "--storage", storage)
    ros_graph.wait_for_line("record", "hpe-ros record: recording", 60)
    ros_graph.start("play", "play", str(tmp_path / "in"), "--topics", IMAGE_TOPIC, "--wait-subscribers", "1")
    ros_graph.wait_for_line("play", "hpe-ros play: publishing", 60)
    time.sleep(1.5)  # about 45 images
    recorder.send_signal(signum)
    assert recorder.wait(timeout=30) == code, ros_graph.log("record")

    log = ros_graph.log("record")
    assert "Traceback" not in log
    name = signal.Signals(signum).name
    last = log.strip().splitlines()[-1]
    match = re.fullmatch(rf"hpe-ros record: interrupted by {name}; {re.escape(str(out))} is closed and holds "
                         rf"{IMAGE_TOPIC}: (\d+) messages", last)
    assert match, log
    with BagReader(out) as reader:
        assert reader.topics == {IMAGE_TOPIC: "sensor_msgs/msg/Image"}
        received = [m.message for m in reader.messages([IMAGE_TOPIC])]
    count = len(received)
    assert count == int(match.group(1)) and 0 < count < FRAMES
    # reliable, matched before the first message: exactly the first `count` images, byte for byte
    assert [stamp_to_ns(m.header.stamp) for m in received] == stamps[:count]
    assert all(int(m.data[0]) == i % 256 for i, m in enumerate(received))
