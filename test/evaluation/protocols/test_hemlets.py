"""The HEMlets protocols end to end (random weights: they check the protocol, not the numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.evaluation.hemlets_metrics import H36M_ACTIONS
from hpe_ros.evaluation.protocols import EvalInputs, get_protocol
from hpe_ros.evaluation.protocols.hemlets import P1_TABLE, P2_TABLE, frame_samples


def test_frames_protocol_runs_on_the_reference_frames(shared_data: Path, published_tables):
    folder = shared_data / "h36m_frames"
    samples = list(frame_samples(folder))
    assert len(samples) == 4 and samples[0].crop_bgr.shape == (256, 256, 3)
    # the crop is centred on the annotated box: its centre maps back to the box centre
    centre = samples[0].crop.to_image(np.array([[128.0, 128.0]]))[0]
    with np.load(folder / "test_h36m_body3d.npz") as data:
        np.testing.assert_allclose(centre, data["center"][0])
    protocol = get_protocol("hemlets_h36m_frames")
    result = protocol.run(EvalInputs(paths={"h36m_frames": folder}, allow_random_weights=True, limit=2,
                                     batch_size=2))
    p1, p2 = (next(t for t in result.tables if t.title == title) for title in (P1_TABLE, P2_TABLE))
    assert p1.columns == (*H36M_ACTIONS, "Avg")
    values = p1.rows[0].values
    assert set(values) == {"Directions", "SittingDown", "Avg"}  # S1 Directions, S5 SittingDown
    assert values["Avg"] == pytest.approx((values["Directions"] + values["SittingDown"]) / 2)
    assert all(np.isfinite(v) and v > 0 for v in [*values.values(), *p2.rows[0].values.values()])
    published_tables(protocol, result)  # the published protocol #1 row under the measured one


def test_without_the_checkpoint_the_protocol_says_what_it_needs(shared_data: Path):
    with pytest.raises(ValueError, match="--hemlets-checkpoint"):
        get_protocol("hemlets_h36m_frames").run(
            EvalInputs(paths={"h36m_frames": shared_data / "h36m_frames"}))


def test_authors_h5_layout_is_read(tmp_path: Path, published_tables):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    joints32 = rng.normal(0, 300, (3, 32, 3)) + (0, 0, 5000)
    with h5py.File(tmp_path / "S_11_C_4_2_full.h5", "w") as data:
        data["images"] = rng.integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
        data["trans"] = np.tile([120.0, 80.0, 0.5], (3, 1))
        data["joints3d_cam"] = joints32
    sequences = tmp_path / "S11.json"
    names = {"WalkingDog 1.60457274": "S_11_C_4_2", "Walking.60457274": "S_11_C_4_3"}
    sequences.write_text(json.dumps(names))
    paths = {"hemlets_h5": tmp_path, "hemlets_sequences": sequences}
    inputs = EvalInputs(paths=paths, allow_random_weights=True, batch_size=3)
    protocol = get_protocol("hemlets_h36m")
    result = protocol.run(inputs)
    p1 = next(t for t in result.tables if t.title == P1_TABLE)
    assert set(p1.rows[0].values) == {"WalkDog", "Avg"} and "3 frames" in p1.rows[0].label
    published_tables(protocol, result)
