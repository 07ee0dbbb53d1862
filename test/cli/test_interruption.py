"""Ctrl-C and SIGTERM during `hpe-ros process`: a closed, readable bag holding a consistent prefix."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import write_image_bag
from hpe_ros.io.bags import BagReader
from hpe_ros.io.messages import skeleton_array_to_result, stamp_to_ns
from hpe_ros.simulation.people import default_camera, walking_skeleton

FRAMES = 20_000  # about 15 s of processing here: long enough to be interrupted well inside the run


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[int]]:
    folder = tmp_path_factory.mktemp("long")
    camera = default_camera(16, 12)
    stamps = write_image_bag(folder / "in", [np.zeros((12, 16, 3), np.uint8)] * FRAMES, camera)
    truth = folder / "truth.npz"
    np.savez(truth, joints_3d=walking_skeleton(FRAMES, fps=30), joint_set="h36m_17",
             stamps_ns=np.array(stamps))
    return folder / "in", truth, stamps


def _wait_for_progress(log: Path, process: subprocess.Popen, frames: int, timeout_s: float = 60.0) -> int:
    """Frames done according to the progress bar, once at least ``frames``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        done = [int(n) for n in re.findall(rf"(\d+)/{FRAMES}", log.read_text())]
        if done and done[-1] >= frames:
            return done[-1]
        time.sleep(0.05)
    raise AssertionError(
        f"no progress to {frames} frames (exit {process.poll()}):\n{log.read_text()[-2000:]}"
    )


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_process_leaves_a_readable_prefix(long_recording, tmp_path: Path, storage: str,
                                                         signum: int, code: int) -> None:
    in_bag, truth, stamps = long_recording
    out, log = tmp_path / "out", tmp_path / "process.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpe_ros.cli.main", "process", str(in_bag), str(out),
             "--pipeline", "replay", "--set", f"replay.path={truth}", "--set", "replay.match=stamp",
             "--storage", storage],
            stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1"))
        try:
            _wait_for_progress(log, process, 200)
            process.send_signal(signum)
            assert process.wait(timeout=30) == code
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    match = re.fullmatch(rf"hpe-ros process: interrupted by {name}; {re.escape(str(out))} "
                         r"is closed and holds the (\d+) messages written before it", last)
    assert match, last

    with BagReader(out) as reader:
        total = reader.message_count
        skeletons = [skeleton_array_to_result(m.message) for m in reader.messages(["/hpe/skeletons"])]
        markers = [stamp_to_ns(m.message.markers[0].header.stamp) for m in reader.messages(["/hpe/markers"])]
    count = len(skeletons)
    assert 200 <= count < FRAMES  # stopped inside the run, after what the progress bar showed
    assert [r.stamp_ns for r in skeletons] == stamps[:count]  # every frame up to the signal, in order
    assert len(markers) in (count, count - 1) and markers == stamps[:len(markers)]
    assert total == int(match.group(1)) == count + len(markers)  # what the line said, and nothing else
    joints = np.load(truth)["joints_3d"]
    for index in (0, count // 2, count - 1):
        np.testing.assert_allclose(skeletons[index].people[0].joints_3d, joints[index])
