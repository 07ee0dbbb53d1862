"""CA-PF's pre-processed label files: read with arrays only, the official image paths."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.datasets.capf_labels import load_capf_labels


def _entry(**changes):
    entry = {"subject": 11, "action": 15, "subaction": 2, "camera_id": 3, "image_id": 42,
             "center": (np.float64(500.0), np.float64(480.0)), "scale": (np.float64(2.1), np.float64(2.1)),
             "joints_3d": np.zeros((17, 3)), "joints_2d_cpn": np.full((17, 2), 0.1),
             "joints_2d_cpn_crop": np.full((17, 2), 90.0, np.float32), "joints_2d_gt": np.full((17, 2), 0.2),
             "joints_2d_gt_crop": np.full((17, 2), 91.0, np.float32)}
    entry.update(changes)
    return entry


def test_a_label_file_gives_the_official_image_path_and_the_chosen_2d(tmp_path: Path):
    path = tmp_path / "h36m_validation.pkl"
    path.write_bytes(pickle.dumps([_entry()]))
    (cpn,) = load_capf_labels(path)
    assert cpn.image == "s_11_act_15_subact_02_ca_04/s_11_act_15_subact_02_ca_04_000042.jpg"
    assert cpn.action == "WalkingDog" and cpn.subject == 11
    assert cpn.screen_2d[0, 0] == 0.1 and cpn.crop_2d[0, 0] == 90.0
    (gt,) = load_capf_labels(path, "gt")
    assert gt.screen_2d[0, 0] == 0.2 and gt.crop_2d[0, 0] == 91.0


def test_anything_but_arrays_and_plain_values_is_refused(tmp_path: Path):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps([_entry(extra=Path("x"))]))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_capf_labels(path)


def test_a_frame_without_its_2d_is_named(tmp_path: Path):
    path = tmp_path / "short.pkl"
    entry = _entry()
    del entry["joints_2d_cpn_crop"]
    path.write_bytes(pickle.dumps([entry]))
    with pytest.raises(ValueError, match="joints_2d_cpn_crop"):
        load_capf_labels(path)
