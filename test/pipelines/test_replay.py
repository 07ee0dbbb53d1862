from pathlib import Path

import numpy as np
import pytest

from hpe_ros.pipelines.base import ImageFrame
from hpe_ros.pipelines.registry import create_pipeline, pipeline_specs
from hpe_ros.pipelines.replay import ReplayPipeline, load_pose_sequence


def _frame(stamp: int) -> ImageFrame:
    return ImageFrame(np.zeros((4, 4, 3), np.uint8), stamp, "cam")


def test_sequence_mode_wraps_and_skips_absent_people(tmp_path: Path) -> None:
    joints = np.random.default_rng(0).normal(size=(3, 2, 17, 3))
    joints[1, 1] = np.nan  # second person absent at step 1
    path = tmp_path / "p.npz"
    np.savez(path, joints_3d=joints, joint_set="h36m_17")
    pipeline = ReplayPipeline(path)
    counts = [len(pipeline.process(_frame(i)).people) for i in range(4)]
    assert counts == [2, 1, 2, 2]
    result = pipeline.process(_frame(99))  # 5th call -> step 1 again
    np.testing.assert_allclose(result.people[0].joints_3d, joints[1, 0])
    assert result.stamp_ns == 99 and result.frame_id == "cam"


def test_stamp_mode_matches_within_tolerance(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    joints = np.random.default_rng(1).normal(size=(2, 17, 3))
    np.savez(path, joints_3d=joints, stamps_ns=np.array([1_000_000_000, 2_000_000_000]), metric=False)
    pipeline = create_pipeline("replay", {"path": str(path), "match": "stamp", "stamp_tolerance_s": 0.01})
    hit = pipeline.process(_frame(2_005_000_000))
    np.testing.assert_allclose(hit.people[0].joints_3d, joints[1])
    assert not hit.people[0].metric
    assert pipeline.process(_frame(1_500_000_000)).people == []


def test_reads_mmpose_h36m_files(shared_data: Path) -> None:
    sequence = load_pose_sequence(shared_data / "h36m_frames" / "test_h36m_body3d.npz")
    assert sequence.joint_set.name == "h36m_17" and sequence.joints_3d.shape[1:] == (1, 17, 3)
    assert sequence.keypoints_2d is not None and sequence.metric
    assert 2.0 < np.linalg.norm(sequence.joints_3d[0, 0, 0]) < 10.0  # metres from the camera


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_pose_sequence(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(ValueError, match="neither"):
        load_pose_sequence(bad)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, joints_3d=np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match=r"\(T\[, P\], 17, 3\)"):
        load_pose_sequence(wrong)
    with pytest.raises(ValueError, match="unknown option"):
        create_pipeline("replay", {"path": str(wrong), "colour": "red"})
    with pytest.raises(ValueError, match="stamps_ns"):
        np.savez(tmp_path / "nostamps.npz", joints_3d=np.zeros((2, 17, 3)))
        ReplayPipeline(tmp_path / "nostamps.npz", match="stamp")


def test_every_registered_pipeline_declares_its_input_kind() -> None:
    specs = pipeline_specs()
    assert {"replay", "event_replay"} <= set(specs)
    assert all(spec.input_kind in ("image", "events") for spec in specs.values())
