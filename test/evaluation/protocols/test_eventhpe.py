"""The ``eventhpe_mmhpsd`` protocol on a small data_event folder (random weights: checks the protocol)."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_ros.evaluation.protocols import EvalInputs, Table, get_protocol
from hpe_ros.evaluation.protocols.eventhpe import COLUMNS, TABLE

ACTION = "subject07_group1_time2"


def _layout(root: Path, joblib, rng: np.random.Generator) -> None:  # noqa: ANN001
    for sub in ("events_256", "pred_flow_events_256", "pose_events", "hmr_results", "vibe_results_0802"):
        (root / sub / ACTION).mkdir(parents=True)
    for frame in range(17):
        image = (rng.random((256, 256, 4)) < 0.03).astype(np.uint8)
        cv2.imwrite(str(root / "events_256" / ACTION / f"event{frame:04d}.png"), image)
        flow = rng.integers(-300, 300, (2, 256, 256)).astype(np.int16)
        joblib.dump(flow, root / "pred_flow_events_256" / ACTION / f"flow{frame:04d}.pkl")
        pose = rng.normal(0, 0.1, (1, 72))
        translation = np.array([[0.0, 0.2, 4.0]]) + rng.normal(0, 0.01, (1, 3))
        joints = rng.normal(0, 0.3, (24, 3)) + translation
        joblib.dump([np.zeros((1, 10)), pose, translation, joints, np.zeros((24, 3))],
                    root / "pose_events" / ACTION / f"pose{frame:04d}.pkl")
    params = np.concatenate([np.zeros((1, 3)), rng.normal(0, 0.1, (1, 72)), np.zeros((1, 10))], axis=1)
    joblib.dump([None, None, params, np.array([[0.0, 0.2, 4.0]])],
                root / "vibe_results_0802" / ACTION / "fullpic0000_vibe08.pkl")
    joblib.dump([None, None, None, None, rng.normal(size=2048).astype(np.float32)],
                root / "hmr_results" / ACTION / "fullpic0000_hmr.pkl")
    (root / "test_track0802.pkl").write_bytes(pickle.dumps([(ACTION, 0)]))


def test_protocol_tracks_a_clip_and_scores_it(tmp_path: Path, published_tables):
    joblib = pytest.importorskip("joblib")
    _layout(tmp_path, joblib, np.random.default_rng(0))
    protocol = get_protocol("eventhpe_mmhpsd")
    result = protocol.run(EvalInputs(paths={"eventhpe_data": tmp_path}, allow_random_weights=True))
    (table,) = result.tables
    assert table.title == TABLE and table.columns == COLUMNS
    values = table.rows[0].values
    assert all(np.isfinite(values[c]) for c in COLUMNS)
    assert values["MPJPE"] > 0 and 0 <= values["PCK"] <= 1
    assert "1 clips x 8 steps, start vibe" in result.notes
    assert protocol.layouts == (Table(TABLE, COLUMNS),)  # the measured table is the paper's layout
    text = published_tables(protocol, result)
    assert "MMHPSD" in text and "random weights" in text
    # no published row: the protocol says why, and which checkpoint the missing rows need
    assert not protocol.published and "model_events_pose.pkl" in protocol.published_notes[0]


def test_without_the_checkpoint_the_protocol_says_what_it_needs(tmp_path: Path):
    (tmp_path / "events_256").mkdir()
    (tmp_path / "test_track0802.pkl").write_bytes(pickle.dumps([(ACTION, 0)]))
    with pytest.raises(ValueError, match="--eventhpe-checkpoint"):
        get_protocol("eventhpe_mmhpsd").run(EvalInputs(paths={"eventhpe_data": tmp_path}))
