"""``hpe-ros simulate-events``: frames -> simulated events -> EVT 3.0 packets in a bag, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpe_ros.cli.main import main
from hpe_ros.io.bags import BagReader
from hpe_ros.io.event_bags import animate_image, open_frame_source, simulate_event_bag
from hpe_ros.io.events import EventPacketDecoder
from hpe_ros.io.images import image_to_numpy
from hpe_ros.io.messages import stamp_to_ns
from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events

WIDTH, HEIGHT = 40, 30


def _moving_frames(count: int = 8) -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = [np.where((xs >= 4 + 3 * i) & (xs < 14 + 3 * i) & (ys >= 8) & (ys < 22),
                       220, 20 + ys).astype(np.uint8) for i in range(count)]
    return np.stack(frames)


def _write_folder(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{index:03d}.png")


def _decode(bag: Path, topic: str, time_reference: str = "ros") -> tuple[np.ndarray, list]:
    decoder = EventPacketDecoder(time_reference)  # type: ignore[arg-type]
    events, messages = [], []
    with BagReader(bag) as reader:
        for item in reader.messages([topic]):
            decoded = decoder.decode(item.message)
            assert decoded.dropped == 0
            events.append(decoded.cd)
            messages.append((item.timestamp_ns, item.message, decoded.cd))
    return np.concatenate(events), messages


def test_command_writes_packets_that_decode_to_the_simulated_events(tmp_path: Path, capsys) -> None:
    frames = _moving_frames()
    _write_folder(tmp_path / "frames", frames)
    out = tmp_path / "events_bag"
    code = main(["simulate-events", str(tmp_path / "frames"), str(out), "--fps", "200", "--contrast", "0.15",
                 "--noise-rate", "20", "--refractory-us", "50", "--seed", "3", "--packet-us", "700",
                 "--start-s", "1700000000.25"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "8 images" in printed and "evt3 packets" in printed

    start = 1_700_000_000_250_000_000
    stamps = start + np.round(np.arange(len(frames)) * 1e9 / 200).astype(np.int64)
    config = EventSimulatorConfig(contrast_pos=0.15, contrast_neg=0.15, noise_rate_hz=20,
                                  refractory_ns=50_000, seed=3)
    expected = simulate_events(frames, stamps, config)
    expected["t"] = expected["t"] // 1000 * 1000  # EVT 3.0 holds microseconds
    assert expected.size > 500 and 0 < np.count_nonzero(expected["p"]) < expected.size

    decoded, messages = _decode(out, "/event_camera/events")
    assert np.array_equal(decoded, expected)  # every field, every event, in order
    assert f"{expected.size} events" in printed and f"in {len(messages)} evt3 packets" in printed

    bag_times = [t for t, _, _ in messages]
    assert bag_times == sorted(bag_times)
    for seq, (bag_time, msg, events) in enumerate(messages):
        assert msg.encoding == "evt3" and (msg.width, msg.height) == (WIDTH, HEIGHT) and msg.seq == seq
        assert stamp_to_ns(msg.header.stamp) == events["t"][0]  # stamped with its first event
        slot = (events["t"] - start) // 700_000
        assert (slot == slot[0]).all() and bag_time == min(start + (slot[0] + 1) * 700_000, stamps[-1])

    sensor, _ = _decode(out, "/event_camera/events", "sensor")
    assert np.array_equal(sensor["t"], expected["t"] - start)  # the sensor clock starts at the first frame

    with BagReader(out) as reader:
        images = [m.message for m in reader.messages(["/event_camera/image_raw"])]
    assert [stamp_to_ns(m.header.stamp) for m in images] == stamps.tolist()
    assert all(m.encoding == "mono8" for m in images)
    assert np.array_equal(np.stack([image_to_numpy(m) for m in images]), frames)


def test_single_image_is_animated_into_an_mcap_bag_without_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "still.png")
    out = tmp_path / "still_bag"
    code = main(["simulate-events", str(tmp_path / "still.png"), str(out), "--animate-frames", "6",
                 "--storage", "mcap", "--gray-topic", "", "--size", "16x12"])
    assert code == 0
    with BagReader(out) as reader:
        assert reader.topics == {"/event_camera/events": "event_camera_msgs/msg/EventPacket"}
    events, messages = _decode(out, "/event_camera/events")
    assert events.size > 0 and events["x"].max() < 16 and events["y"].max() < 12
    assert messages[-1][2]["t"][-1] <= 5 * round(1e9 / 30)

    frames = list(animate_image(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1)), 4))
    assert frames[0].shape == (24, 32) and not np.array_equal(frames[0], frames[-1])  # it moves


def test_video_frames_are_read_with_opencv(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (WIDTH, HEIGHT))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG")
    for frame in _moving_frames(5):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    source = open_frame_source(path, max_frames=4)
    frames = list(source.frames)
    assert source.fps == pytest.approx(25) and len(frames) == 4 and frames[0].shape == (HEIGHT, WIDTH)
    report = simulate_event_bag(frames, source.stamps_ns(), tmp_path / "video_bag", gray_topic=None)
    assert report.frames == 4 and report.events > 0 and report.images == 0


def test_bad_inputs_are_reported(tmp_path: Path, capsys) -> None:
    assert main(["simulate-events", str(tmp_path / "missing.mp4"), str(tmp_path / "out")]) == 2
    assert "no such video" in capsys.readouterr().err
    frames = [np.zeros((HEIGHT, WIDTH), np.uint8), np.zeros((HEIGHT + 1, WIDTH), np.uint8)]
    with pytest.raises(ValueError, match="the first was"):
        simulate_event_bag(frames, [0, 1000], tmp_path / "sizes")
    with pytest.raises(ValueError, match="must increase"):
        simulate_event_bag([frames[0], frames[0]], [5, 5], tmp_path / "stamps")
    with pytest.raises(ValueError, match="EVT 3.0"):
        simulate_event_bag([np.zeros((10, 2049), np.uint8)], [0], tmp_path / "wide")
