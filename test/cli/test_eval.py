"""``hpe-ros eval``: protocols by name on files the test builds, the published tables, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_ros.cli.main import main

NAME = "S9/S9_Eating.54138969/S9_Eating.54138969_000001.jpg"


def _h36m_frames(folder: Path) -> Path:
    """mmpose's layout with one frame: a person-sized bright block at the projected pelvis."""
    rng = np.random.default_rng(0)
    f, c = (1145.0, 1144.0), (512.0, 515.0)
    joints = rng.normal(0, 0.25, (1, 17, 3)) + np.array([0.1, 0.2, 4.5])
    uv = joints[..., :2] / joints[..., 2:] * f + c
    image = np.full((1002, 1000, 3), 30, np.uint8)
    x, y = np.round(uv[0, 0]).astype(int)
    image[y - 150 : y + 150, x - 60 : x + 60] = 220
    cv2.imwrite(str(folder / Path(NAME).name), image)
    np.savez(folder / "test_h36m_body3d.npz", imgname=np.array([NAME]),
             S=np.concatenate([joints, np.ones((1, 17, 1))], -1),
             part=np.concatenate([uv, np.ones((1, 17, 1))], -1),
             center=uv[:, 0], scale=np.array([2.0]))
    camera = {"R": np.eye(3).tolist(), "T": [[0.0], [0.0], [0.0]], "c": [[c[0]], [c[1]]],
              "f": [[f[0]], [f[1]]],
              "k": [[0.0], [0.0], [0.0]], "p": [[0.0], [0.0]], "w": 1000, "h": 1002, "name": "camera1",
              "id": "54138969"}
    (folder / "cameras.json").write_text(json.dumps({"('S9', '54138969')": camera}))
    return folder


def test_a_named_protocol_runs_and_prints_the_paper_row_beside_it(tmp_path: Path, capsys):
    folder = _h36m_frames(tmp_path)
    assert main(["eval", "capf_h36m", "--h36m-frames", str(folder), "--random-weights"]) == 0
    out = capsys.readouterr().out
    assert "== capf_h36m: Context-Aware PoseFormer" in out
    measured = next(line for line in out.splitlines() if line.startswith("measured (1 frames)"))
    assert "random weights" in measured
    assert "41.30" in out and "needs the authors' best_epoch.bin" in out
    assert "Eating" in out


def test_without_files_every_protocol_prints_its_published_table_and_what_it_needs(capsys):
    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    assert "== capf_h36m" in out and "not run: needs --h36m-frames" in out
    assert "== capf_mpi_inf_3dhp" in out and "not run: needs --mpi-inf-3dhp" in out
    # a paper without published rows still prints its table layout and says why none are printed
    block = out[out.index("== eventhpe_mmhpsd") :]
    assert "PEL-MPJPE" in block and "\npublished: " in block


def test_list_names_the_protocols_and_their_options(capsys):
    assert main(["eval", "--list"]) == 0
    out = capsys.readouterr().out
    assert "capf_h36m" in out and "--h36m-frames" in out and "capf_mpi_inf_3dhp" in out


@pytest.mark.parametrize("argv", [
    ["eval", "capf_h36m"],  # its file is not given
    ["eval", "no_such_protocol"],
    ["eval", "capf_h36m", "--h36m-frames", "."],  # no authors' checkpoint, no --random-weights
    ["eval", "--dataset", "h36m"],  # the lifter form without --data
])
def test_refusals_exit_2(argv: list[str], tmp_path: Path, capsys):
    argv = [str(_h36m_frames(tmp_path)) if a == "." else a for a in argv]
    assert main(argv) == 2
    assert "hpe-ros eval: error:" in capsys.readouterr().err


def test_on_the_reference_frames(shared_data: Path, capsys):
    assert main(["eval", "capf_h36m", "--h36m-frames", str(shared_data / "h36m_frames"), "--random-weights",
                 "--limit", "2", "--set", "flip_test=false"]) == 0
    assert "measured (2 frames)" in capsys.readouterr().out
