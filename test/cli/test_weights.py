"""``hpe-ros weights check DIR`` on a folder of small files (the packaged lifter and fakes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from hpe_ros.cli.main import main
from hpe_ros.io.config import load_node_parameters

ROOT = Path(__file__).resolve().parents[2]


def test_weights_check_reports_verifies_and_prints_the_yaml(tmp_path, capsys) -> None:
    folder = tmp_path / "downloads"
    (folder / "hrnet").mkdir(parents=True)
    shutil.copy(ROOT / "hpe_ros" / "data" / "default_lifter.pt", folder)
    (folder / "hrnet" / "pose_hrnet_w32_256x192.pth").write_bytes(b"not really weights")
    (folder / "best_epoch.bin").write_bytes(b"nor these")
    assert main(["weights", "check", str(folder), "--yaml", str(tmp_path / "nodes.yaml")]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "default_lifter" in out and "hrnet_w32_256x192" in out
    assert "topdown: hrnet_w32_256x192 2D -> capf_h36m_hrnet32 lifter" in out
    params = load_node_parameters(tmp_path / "nodes.yaml", "hpe_pose")
    assert params["pipeline"] == "topdown" and params["topdown.lifter"] == "capf_hrnet32"
    assert params["topdown.pose_checkpoint"] == str(folder / "hrnet" / "pose_hrnet_w32_256x192.pth")
    assert yaml.safe_load(out.split("# node parameters", 1)[1].split("\n", 1)[1]) == yaml.safe_load(
        (tmp_path / "nodes.yaml").read_text()
    )


def test_weights_check_fails_on_a_corrupt_file(tmp_path, capsys) -> None:
    (tmp_path / "pose_landmark_full.tflite").write_bytes(b"truncated download")
    assert main(["weights", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "expected 6440512" in out
    assert "blazepose (always" in out


def test_weights_check_of_a_missing_folder_is_refused(tmp_path, capsys) -> None:
    assert main(["weights", "check", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["weights", "list"]) == 0
    assert "model_events_pose.pkl" in capsys.readouterr().out


def test_weights_fetch_from_a_local_mirror(tmp_path, capsys, file_server) -> None:
    served, url = file_server
    (served / "model_flow.pkl").write_bytes(b"flow weights")
    (served / "pose_detection.tflite").write_bytes(b"not the wheel's file")  # a known hash: refused
    assert main(["weights", "fetch", str(tmp_path / "out"), "--from", url, "--only", "eventhpe_flownet"]) == 0
    assert (tmp_path / "out" / "model_flow.pkl").read_bytes() == b"flow weights"
    assert "fetched" in capsys.readouterr().out
    code = main(["weights", "fetch", str(tmp_path / "out"), "--from", url, "--only", "blazepose_detection"])
    assert code == 1 and "REFUSED  blazepose_detection" in capsys.readouterr().out
    assert not (tmp_path / "out" / "pose_detection.tflite").exists()
