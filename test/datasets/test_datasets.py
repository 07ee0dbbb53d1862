"""Lifting data set loaders on small made files in the community layouts, and on the shared H36M frames."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from hpe_ros.core.h36m_cameras import load_h36m_cameras
from hpe_ros.core.joints import H36M_17
from hpe_ros.datasets import (
    LiftingSamples,
    concatenate_samples,
    denormalize_screen,
    normalize_screen,
)
from hpe_ros.datasets.h36m import (
    H36M_CAMERA_IDS,
    h36m_lifting_samples,
    load_h36m_detections_2d,
    load_h36m_poses_3d,
)
from hpe_ros.datasets.h36m_frames import load_h36m_frames, parse_h36m_frame_name
from hpe_ros.datasets.mpi_inf_3dhp import (
    MPI_INF_3DHP_17,
    MPI_TO_H36M,
    load_mpi_inf_3dhp_test,
)
from hpe_ros.datasets.safe_npz import UnsafeNpzError, load_npz

LEFT = [4, 5, 6, 11, 12, 13]
RIGHT = [1, 2, 3, 14, 15, 16]


def _write_cameras(path: Path, subjects: tuple[str, ...]) -> None:
    """A cameras.json in mmpose's layout: four cameras on a circle looking at the origin."""
    entries = {}
    for s_index, subject in enumerate(subjects):
        for c_index, camera_id in enumerate(H36M_CAMERA_IDS):
            angle = np.pi / 2 * c_index + 0.1 * s_index
            centre = np.array([4.5 * np.cos(angle), 4.5 * np.sin(angle), 1.6])
            z_axis = -centre / np.linalg.norm(centre)  # optical axis towards the origin
            x_axis = np.cross(z_axis, [0.0, 0.0, 1.0])
            x_axis /= np.linalg.norm(x_axis)
            y_axis = np.cross(z_axis, x_axis)
            rotation = np.stack([x_axis, y_axis, z_axis], axis=1)  # camera -> world, columns = axes
            entries[str((subject, camera_id))] = {
                "f": [[1145.0 + c_index], [1144.0]],
                "c": [[512.0], [515.0 - c_index]],
                "k": [[-0.2], [0.24], [-0.002]],
                "p": [[-0.001], [-0.0005]],
                "R": rotation.tolist(),
                "T": (1000.0 * centre).reshape(3, 1).tolist(),  # millimetres, as the dataset's files
                "w": 1000,
                "h": 1002,
                "name": f"camera{c_index + 1}",
                "id": camera_id,
            }
    path.write_text(json.dumps(entries))


def _world_poses(frames: int, seed: int) -> np.ndarray:
    """(frames, 32, 3) mocap-like poses near the origin, metres; joint k carries k in its height."""
    rng = np.random.default_rng(seed)
    poses = rng.uniform(-0.3, 0.3, (frames, 32, 3))
    poses[..., 2] = 0.9 + 0.02 * np.arange(32)
    return poses


@pytest.fixture
def community_files(tmp_path: Path) -> dict[str, Path]:
    subjects = ("S9", "S11")
    positions_3d = {
        s: {"Walking 1": _world_poses(12, 1 + i), "Eating": _world_poses(8, 7 + i)}
        for i, s in enumerate(subjects)
    }
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=positions_3d)
    rng = np.random.default_rng(9)
    # 2D sequences one frame longer than the mocap (the community files have such cases)
    positions_2d = {
        s: {
            a: [rng.uniform(0, 1000, (len(p) + 1, 17, 2)) for _ in H36M_CAMERA_IDS]
            for a, p in actions.items()
        }
        for s, actions in positions_3d.items()
    }
    metadata = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [LEFT, RIGHT]}
    np.savez(tmp_path / "data_2d_h36m_test.npz", positions_2d=positions_2d, metadata=metadata)
    _write_cameras(tmp_path / "cameras.json", subjects)
    return {
        "3d": tmp_path / "data_3d_h36m.npz",
        "2d": tmp_path / "data_2d_h36m_test.npz",
        "cameras": tmp_path / "cameras.json",
    }


def test_3d_poses_keep_the_17_joints(community_files: dict[str, Path]) -> None:
    poses = load_h36m_poses_3d(community_files["3d"])
    assert set(poses) == {"S9", "S11"} and set(poses["S9"]) == {"Walking 1", "Eating"}
    walking = poses["S9"]["Walking 1"]
    assert walking.shape == (12, 17, 3)
    # heights tell the source joint: the 17 of 32 mocap joints used by the lifting literature
    kept = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    np.testing.assert_allclose(walking[..., 2], np.broadcast_to(0.9 + 0.02 * np.array(kept), (12, 17)))


def test_2d_detections_are_read_with_their_symmetry(community_files: dict[str, Path]) -> None:
    detections = load_h36m_detections_2d(community_files["2d"])
    assert detections.layout_name == "h36m"
    assert detections.left_joints == tuple(LEFT) and detections.right_joints == tuple(RIGHT)
    assert len(detections.positions["S11"]["Eating"]) == 4
    assert detections.positions["S11"]["Eating"][2].shape == (9, 17, 2)


def test_2d_file_in_another_joint_order_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "coco_order.npz"
    metadata = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3, 5], [2, 4, 6]]}
    np.savez(path, positions_2d={"S9": {}}, metadata=metadata)
    with pytest.raises(ValueError, match="does not match"):
        load_h36m_detections_2d(path)


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.npz"
    np.savez(path, positions_3d={"S9": {"Walking": datetime.date(2020, 1, 1)}})
    with pytest.raises(UnsafeNpzError, match="datetime"):
        load_npz(path)
    plain = tmp_path / "plain.npz"
    np.savez(plain, values=np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(load_npz(plain)["values"], np.arange(6).reshape(2, 3))


def test_ground_truth_samples_project_the_mocap_into_each_camera(community_files: dict[str, Path]) -> None:
    poses = load_h36m_poses_3d(community_files["3d"])
    cameras = load_h36m_cameras(community_files["cameras"])
    samples = h36m_lifting_samples(poses, cameras, subjects=["S9"], stride=2)
    assert len(samples) == 4 * (6 + 4)  # cameras x (12 / 2 + 8 / 2) frames
    assert samples.joint_set is H36M_17
    first = (samples.actions == "Eating") & (samples.camera_ids == H36M_CAMERA_IDS[1])
    camera = cameras[("S9", H36M_CAMERA_IDS[1])]
    expected_3d = camera.world_to_camera(poses["S9"]["Eating"][::2])
    np.testing.assert_allclose(samples.joints_3d[first], expected_3d)
    np.testing.assert_allclose(samples.keypoints_2d[first], camera.camera.project(expected_3d))
    np.testing.assert_array_equal(samples.frame_indices[first], [0, 2, 4, 6])
    assert np.all(samples.joints_3d[..., 2] > 2.0)  # the cameras look at the people
    np.testing.assert_array_equal(samples.image_size[0], [1000, 1002])


def test_detection_samples_are_cut_to_the_mocap_length(community_files: dict[str, Path]) -> None:
    poses = load_h36m_poses_3d(community_files["3d"])
    detections = load_h36m_detections_2d(community_files["2d"])
    cameras = load_h36m_cameras(community_files["cameras"])
    samples = h36m_lifting_samples(
        poses,
        cameras,
        detections,
        subjects=["S11"],
        camera_ids=H36M_CAMERA_IDS[:2],
        skip={("S11", "Eating", H36M_CAMERA_IDS[0])},
    )
    assert len(samples) == 2 * 12 + 8
    chosen = (samples.actions == "Walking 1") & (samples.camera_ids == H36M_CAMERA_IDS[1])
    np.testing.assert_allclose(samples.keypoints_2d[chosen], detections.positions["S11"]["Walking 1"][1][:12])
    np.testing.assert_array_equal(samples.scores_2d, 1.0)


def test_screen_normalisation() -> None:
    size = np.array([[1000.0, 1002.0]])
    points = np.array([[[0.0, 501.0], [1000.0, 0.0]]])
    normalised = normalize_screen(points, size)
    np.testing.assert_allclose(normalised, [[[-1.0, 0.0], [1.0, -1.002]]])
    np.testing.assert_allclose(denormalize_screen(normalised, size), points)


def test_select_and_concatenate(community_files: dict[str, Path]) -> None:
    poses = load_h36m_poses_3d(community_files["3d"])
    cameras = load_h36m_cameras(community_files["cameras"])
    samples = h36m_lifting_samples(poses, cameras, subjects=["S9", "S11"])
    s9, s11 = samples.select(samples.subjects == "S9"), samples.select(samples.subjects == "S11")
    joined = concatenate_samples([s9, s11])
    assert len(joined) == len(samples)
    np.testing.assert_allclose(np.sort(joined.joints_3d.reshape(-1)), np.sort(samples.joints_3d.reshape(-1)))
    assert len(samples.subsample(10)) == int(np.ceil(len(samples) / 10))
    with pytest.raises(ValueError, match="keypoints_2d|joints"):
        LiftingSamples(
            np.zeros((2, 17, 2)), np.ones((2, 17)), np.zeros((2, 16, 3)), np.ones((2, 2)),
            np.array(["a", "b"]), np.array(["a", "b"]), np.array(["", ""]), np.arange(2), H36M_17,
        )  # fmt: skip


def _write_mpi_sequence(folder: Path, frames: int, seed: int) -> dict[str, np.ndarray]:
    """An annot_data.mat in the older MATLAB format with the benchmark's array layout."""
    rng = np.random.default_rng(seed)
    univ = rng.uniform(-800, 800, (frames, 1, 17, 3)) + np.array([0.0, 0.0, 4000.0])
    annot3 = 1.1 * univ
    annot2 = rng.uniform(0, 2000, (frames, 1, 17, 2))
    valid = (np.arange(frames) % 3 != 0).astype(np.float64)[:, None]
    activity = (np.arange(frames) % 7 + 1).astype(np.float64)[:, None]
    folder.mkdir(parents=True)
    # MATLAB keeps the axes reversed: (3, 17, 1, N) and (1, N) vectors
    savemat(
        folder / "annot_data.mat",
        {
            "annot2": annot2.T,
            "annot3": annot3.T,
            "univ_annot3": univ.T,
            "valid_frame": valid.T,
            "activity_annotation": activity.T,
        },
    )
    return {"univ": univ[:, 0], "annot3": annot3[:, 0], "annot2": annot2[:, 0], "valid": valid[:, 0] > 0}


def test_mpi_inf_3dhp_test_annotations(tmp_path: Path) -> None:
    truth = {
        name: _write_mpi_sequence(tmp_path / name, frames, seed)
        for name, frames, seed in (("TS1", 9, 0), ("TS5", 6, 1))
    }
    samples = load_mpi_inf_3dhp_test(tmp_path, sequences=("TS1", "TS5"))
    assert len(samples) == 6 + 4
    ts5 = samples.select(samples.subjects == "TS5")
    np.testing.assert_allclose(ts5.joints_3d, truth["TS5"]["univ"][truth["TS5"]["valid"]] / 1000.0)
    np.testing.assert_allclose(ts5.keypoints_2d, truth["TS5"]["annot2"][truth["TS5"]["valid"]])
    np.testing.assert_array_equal(ts5.image_size[0], [1920, 1080])
    assert samples.root_index == 14 and samples.joint_set is MPI_INF_3DHP_17
    assert ts5.frame_indices.tolist() == [1, 2, 4, 5]
    assert ts5.actions.tolist() == ["Exercising", "Sitting", "On The Floor", "Sports"]
    assert ts5.image_paths[0].endswith("TS5/imageSequence/img_000002.jpg")
    camera_frame = load_mpi_inf_3dhp_test(tmp_path, sequences=("TS1",), universal=False, only_valid=False)
    np.testing.assert_allclose(camera_frame.joints_3d, truth["TS1"]["annot3"] / 1000.0)


def test_mpi_joint_order_maps_onto_h36m_by_name() -> None:
    names = MPI_INF_3DHP_17.joint_names
    h36m_equivalent = {"thorax": "neck", "neck": "head", "head": "head_top"}
    for h36m_index, mpi_index in enumerate(MPI_TO_H36M):
        h36m_name = H36M_17.joint_names[h36m_index]
        assert names[mpi_index] == h36m_equivalent.get(h36m_name, h36m_name)
    assert sorted(MPI_TO_H36M) == list(range(17))


def test_h36m_frame_names() -> None:
    assert parse_h36m_frame_name("S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg") == (
        "S1", "Directions_1", "54138969", 1,
    )  # fmt: skip
    with pytest.raises(ValueError):
        parse_h36m_frame_name("frame_0001.jpg")


def test_shared_h36m_frames_reproject(shared_data: Path) -> None:
    frames = load_h36m_frames(shared_data / "h36m_frames")
    samples = frames.samples
    assert len(frames) == 4 and samples.joint_set is H36M_17
    assert samples.subjects.tolist() == ["S1", "S5", "S7", "S8"]
    for index, camera in enumerate(frames.cameras):
        assert camera.subject == samples.subjects[index] and camera.camera_id == samples.camera_ids[index]
        projected = camera.camera.project(samples.joints_3d[index])  # lens model "h36m"
        np.testing.assert_allclose(projected, samples.keypoints_2d[index], atol=1e-3)
    image = frames.read_image(0)
    assert image.shape == (int(samples.image_size[0, 1]), int(samples.image_size[0, 0]), 3)
    assert image.dtype == np.uint8
