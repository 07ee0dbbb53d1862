"""CA-PF's protocols: the official metric tables and both runs end to end (random weights)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from hpe_ros.evaluation.protocols import EvalInputs, get_protocol
from hpe_ros.evaluation.protocols.capf import (
    MPI_SUMMARY,
    MPI_TEST_INTRINSICS,
    CapfSample,
    h36m_tables,
    mpi_samples,
    mpi_tables,
    prepare,
)
from hpe_ros.evaluation.protocols.capf_steps import Intrinsics


def _samples(joints_mm: np.ndarray, groups: list[str]) -> list[CapfSample]:
    camera = Intrinsics(1000.0, 1000.0, 500.0, 500.0)
    pairs = zip(joints_mm, groups, strict=True)
    return [CapfSample("", np.zeros((17, 2)), j, camera, (1000, 1000), g, g) for j, g in pairs]


def _poses(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 300, (count, 17, 3)) + np.array([0.0, 0.0, 4000.0])


def test_mpi_scores_14_joints_for_pck_and_zeroes_the_predicted_root():
    joints = _poses(6)
    samples = _samples(joints, ["TS1"] * 3 + ["TS5"] * 3)
    target = (joints - joints[:, 14:15]) / 1000.0
    predicted = target.copy()
    predicted[:, 14] += 0.5  # the official script overwrites the root estimate with 0
    predicted[:, 0, 0] += 0.102  # head top off by 102 mm
    predicted[:, 15, 0] += 0.4  # spine: not one of the 14 PCK joints
    summary, per_sequence, _ = mpi_tables(predicted, samples)
    values = summary.rows[0].values
    assert values["PCK"] == pytest.approx(100.0)
    # head top below 10 of the 31 thresholds (105..150 mm), the other 13 below 30 (all but 0 mm)
    assert values["AUC"] == pytest.approx(100 * (13 * 30 + 10) / (14 * 31))
    assert values["MPJPE"] == pytest.approx((102 + 400) / 17)
    assert [r.label for r in per_sequence.rows] == ["TS1", "TS5"]
    assert summary.title == MPI_SUMMARY


def test_h36m_averages_over_actions_not_frames():
    joints = _poses(4, seed=1)
    samples = _samples(joints, ["Eating", "Walking", "Walking", "Walking"])
    target = (joints - joints[:, :1]) / 1000.0
    predicted = target.copy()
    predicted[0] += [0.010, 0.0, 0.0]  # Eating: every joint 10 mm off
    predicted[1:] += [0.030, 0.0, 0.0]
    summary, per_action = h36m_tables(predicted, joints, [s.group for s in samples])
    by_label = {r.label: r.values for r in per_action.rows}
    assert by_label["MPJPE"]["Eating"] == pytest.approx(10.0)
    assert by_label["MPJPE"]["Walking"] == pytest.approx(30.0)
    assert summary.rows[0].values["MPJPE"] == pytest.approx(20.0)  # not the frame mean 25
    assert summary.rows[0].values["P-MPJPE"] == pytest.approx(0.0, abs=1e-9)  # a translation only


def _mpi_folder(root: Path) -> None:
    """TS1 (studio, 2048x2048): three frames, the middle one invalid; a white square at each root."""
    rng = np.random.default_rng(4)
    camera = MPI_TEST_INTRINSICS["studio"]
    poses = rng.normal(0, 250, (3, 17, 3)) + np.array([100.0, -50.0, 4200.0])
    uv = poses[..., :2] / poses[..., 2:] * [camera.fx, camera.fy] + [camera.cx, camera.cy]
    (root / "TS1" / "imageSequence").mkdir(parents=True)
    for i in range(3):
        image = np.full((2048, 2048, 3), 40, np.uint8)
        x, y = np.round(uv[i, 14]).astype(int)
        image[y - 60 : y + 60, x - 60 : x + 60] = 255
        cv2.imwrite(str(root / "TS1" / "imageSequence" / f"img_{i + 1:06d}.jpg"), image)
    savemat(root / "TS1" / "annot_data.mat", {
        "annot2": uv.transpose(2, 1, 0)[:, :, None, :],  # MATLAB (2, 17, 1, N)
        "annot3": poses.transpose(2, 1, 0)[:, :, None, :],
        "univ_annot3": poses.transpose(2, 1, 0)[:, :, None, :],
        "valid_frame": np.array([[1.0, 0.0, 1.0]]),
        "activity_annotation": np.array([[1.0, 2.0, 3.0]]),
    })


def test_mpi_crops_centre_on_the_root_and_the_protocol_runs(tmp_path: Path, published_tables):
    _mpi_folder(tmp_path)
    samples = mpi_samples(tmp_path)
    assert len(samples) == 2 and [s.activity for s in samples] == ["Standing/Walking", "Sitting"]
    crops = prepare(samples, root=14, jpeg_quality=95).crops_bgr
    # the crop is 2 m wide, centred 0.1 m below the root: the root 0.1 m above the crop centre
    root_row = int(round(127.5 - 100 * 191 / 2000))
    assert crops[:, root_row, 95].min() > 200 and crops[:, 5, 5].max() < 80
    protocol = get_protocol("capf_mpi_inf_3dhp")
    result = protocol.run(EvalInputs(paths={"mpi_inf_3dhp": tmp_path}, allow_random_weights=True,
                                     batch_size=2))
    summary = result.tables[0]
    assert summary.rows[0].label == "measured (2 frames)"
    assert np.isfinite(list(summary.rows[0].values.values())).all()
    text = published_tables(protocol, result)  # beside each released checkpoint's MPJPE
    assert "random weights" in text
    assert {p.checkpoint for p in protocol.published} >= {"HRNet_32_64_no_refine_24_3214.pth",
                                                          "HRNet_48_96_no_refine_45_3125.pth"}
    assert all(p.checkpoint for p in protocol.published)  # every published row needs the authors' file


def test_without_the_authors_checkpoint_the_protocol_refuses(tmp_path: Path):
    _mpi_folder(tmp_path)
    with pytest.raises(ValueError, match="--capf-checkpoint"):
        get_protocol("capf_mpi_inf_3dhp").run(EvalInputs(paths={"mpi_inf_3dhp": tmp_path}))


def test_h36m_protocol_on_the_reference_frames(shared_data: Path, published_tables):
    protocol = get_protocol("capf_h36m")
    result = protocol.run(EvalInputs(paths={"h36m_frames": shared_data / "h36m_frames"}, limit=2,
                                     allow_random_weights=True))
    summary, per_action = result.tables
    assert summary.rows[0].label == "measured (2 frames)"
    assert per_action.columns[-1] == "Avg" and len(per_action.columns) == 3
    assert all(np.isfinite(v) and v > 0 for v in summary.rows[0].values.values())
    published_tables(protocol, result)


def _label_file(frames: Path, folder: Path) -> Path:
    """The official label layout for the reference frames (their 2D as both CPN and ground truth)."""
    import pickle

    from hpe_ros.datasets.capf_labels import H36M_ACTION_NAMES
    from hpe_ros.datasets.samples import normalize_screen
    from hpe_ros.evaluation.protocols.capf import h36m_frame_samples
    from hpe_ros.evaluation.protocols.capf_steps import crop_matrix, root_box, to_crop

    entries = []
    for i, sample in enumerate(h36m_frame_samples(frames)):
        center, scale = root_box(sample.joints_mm[0], sample.intrinsics)
        action = 2 + H36M_ACTION_NAMES.index(sample.group.replace("WalkDog", "WalkingDog"))
        sub = f"s_09_act_{action:02d}_subact_01_ca_01"
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / f"{sub}_{i + 1:06d}.jpg").write_bytes(Path(sample.image_path).read_bytes())
        screen = normalize_screen(sample.keypoints, np.asarray(sample.image_size))
        crop = to_crop(sample.keypoints, crop_matrix(center, scale))
        entries.append({"subject": 9, "action": action, "subaction": 1, "camera_id": 0, "image_id": i + 1,
                        "center": tuple(center), "scale": tuple(scale), "joints_3d": sample.joints_mm / 1000,
                        "joints_2d_cpn": screen, "joints_2d_cpn_crop": crop, "joints_2d_gt": screen,
                        "joints_2d_gt_crop": crop})
    path = folder / "h36m_validation.pkl"
    path.write_bytes(pickle.dumps(entries))
    return path


def test_the_official_labels_give_what_the_frames_give(shared_data: Path, tmp_path: Path, published_tables):
    frames = shared_data / "h36m_frames"
    labels = _label_file(frames, tmp_path)
    options = {"flip_test": "false"}
    protocol = get_protocol("capf_h36m_labels")
    from_labels = protocol.run(EvalInputs(
        paths={"capf_labels": labels, "h36m_images": tmp_path}, limit=2, allow_random_weights=True,
        options=options))
    from_frames = get_protocol("capf_h36m").run(EvalInputs(
        paths={"h36m_frames": frames}, limit=2, allow_random_weights=True, options=options))
    a, b = from_labels.tables[0].rows[0].values, from_frames.tables[0].rows[0].values
    assert a["MPJPE"] == pytest.approx(b["MPJPE"], abs=1e-3)
    assert a["P-MPJPE"] == pytest.approx(b["P-MPJPE"], abs=1e-3)
    published_tables(protocol, from_labels)

