"""EventHPE's data_event layout: event partitions, the clip list (plain pickle), the joblib files."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_ros.datasets.mmhpsd import MMHPSDFolder

ACTION = "subject01_group1_time1"


def _write_partitions(root: Path, frames: range, rng: np.random.Generator) -> dict[int, np.ndarray]:
    folder = root / "events_256" / ACTION
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for frame in frames:
        image = (rng.random((256, 256, 4)) < 0.05).astype(np.uint8)
        assert cv2.imwrite(str(folder / f"event{frame:04d}.png"), image)
        written[frame] = image
    return written


def test_partitions_of_a_step_are_stacked_in_frame_and_channel_order(tmp_path: Path):
    written = _write_partitions(tmp_path, range(3), np.random.default_rng(0))
    data = MMHPSDFolder(tmp_path)
    step = data.step_partitions(ACTION, 0, 2)
    assert step.shape == (8, 256, 256) and step.dtype == np.uint8
    np.testing.assert_array_equal(step[:4], np.moveaxis(written[0], -1, 0))
    np.testing.assert_array_equal(step[5], written[1][:, :, 1])
    with pytest.raises(FileNotFoundError, match="event0009"):
        data.partitions(ACTION, 9)


def test_clip_list_is_read_without_running_code(tmp_path: Path):
    _write_partitions(tmp_path, range(1), np.random.default_rng(1))
    clips = [(ACTION, np.int64(12)), ("subject02_group2_time1", 40)]
    (tmp_path / "test_track0802.pkl").write_bytes(pickle.dumps(clips))
    assert MMHPSDFolder(tmp_path).test_clips() == [(ACTION, 12), ("subject02_group2_time1", 40)]

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - what a malicious list would carry
            return (print, ("ran",))

    (tmp_path / "test_track0802.pkl").write_bytes(pickle.dumps([(ACTION, Payload())]))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        MMHPSDFolder(tmp_path).test_clips()


def test_not_the_layout(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="events_256"):
        MMHPSDFolder(tmp_path)


def test_joblib_files_flows_poses_and_starts(tmp_path: Path):
    joblib = pytest.importorskip("joblib")
    _write_partitions(tmp_path, range(1), np.random.default_rng(2))
    flows = tmp_path / "pred_flow_events_256" / ACTION
    flows.mkdir(parents=True)
    joblib.dump(np.full((2, 256, 256), 150, np.int16), flows / "flow0000.pkl", compress=3)
    joblib.dump(np.full((2, 256, 256), -50, np.int16), flows / "flow0002.pkl", compress=3)
    data = MMHPSDFolder(tmp_path)
    np.testing.assert_allclose(data.step_flow(ACTION, 0, 4, skip=2), 1.0)  # (150 - 50) / 100
    poses = tmp_path / "pose_events" / ACTION
    poses.mkdir(parents=True)
    joints = np.arange(72, dtype=np.float64).reshape(24, 3)
    joblib.dump([np.ones((1, 10)), np.zeros((1, 72)), np.array([[0.1, 0.2, 3.0]]), joints, np.zeros((24, 3))],
                poses / "pose0004.pkl", compress=3)
    pose = data.pose(ACTION, 4)
    np.testing.assert_array_equal(pose.joints, joints)
    np.testing.assert_array_equal(pose.translation, [0.1, 0.2, 3.0])
    vibe = tmp_path / "vibe_results_0802" / ACTION
    vibe.mkdir(parents=True)
    params = np.arange(85, dtype=np.float64)[None].repeat(8, axis=0)
    joblib.dump([None, None, params, np.array([[1.0, 2.0, 3.0]] * 8)], vibe / "fullpic0000_vibe08.pkl")
    start = data.vibe_start(ACTION, 0)
    np.testing.assert_array_equal(start, np.concatenate([[1.0, 2.0, 3.0], np.arange(3, 85)]))
