"""Refused inputs: one line on stderr saying what is wrong and what to change, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import write_image_bag
from hpe_ros.cli.main import build_parser, main
from hpe_ros.io.bags import BagError
from hpe_ros.simulation.people import default_camera


@pytest.fixture
def small_bag(tmp_path: Path) -> Path:
    write_image_bag(tmp_path / "in", [np.zeros((12, 16, 3), np.uint8)] * 2, default_camera(16, 12))
    return tmp_path / "in"


def _refusal(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_missing_and_unreadable_input_bags(capsys, tmp_path: Path) -> None:
    line = _refusal(capsys, ["process", str(tmp_path / "none"), str(tmp_path / "out"), "--quiet"])
    assert line == (f"hpe-ros process: error: bag not found: {tmp_path / 'none'} "
                    "(give the path of a rosbag2 folder)")
    (tmp_path / "folder").mkdir()
    for argv in (["process", str(tmp_path / "folder"), str(tmp_path / "out")],
                 ["play", str(tmp_path / "folder")], ["info", str(tmp_path / "folder")]):
        line = _refusal(capsys, argv)
        assert line.startswith(f"hpe-ros {argv[0]}: error: not a rosbag2 folder (no metadata.yaml): ")
    assert not (tmp_path / "out").exists()


def test_a_corrupt_bag_is_refused_in_one_line(capsys, small_bag: Path) -> None:
    (db,) = small_bag.glob("*.db3")
    db.write_bytes(b"not a database")
    line = _refusal(capsys, ["process", str(small_bag), str(small_bag.parent / "out"), "--quiet"])
    assert line.startswith(f"hpe-ros process: error: cannot open bag {small_bag}")


def test_an_existing_output_bag_is_refused_before_any_model_is_loaded(capsys, small_bag: Path) -> None:
    line = _refusal(capsys, ["process", str(small_bag), str(small_bag), "--pipeline", "topdown",
                             "--set", "topdown.pose_checkpoint=/nowhere.pth"])
    assert line == (f"hpe-ros process: error: output bag already exists: {small_bag} "
                    "(remove it or choose another path)")


def test_a_missing_model_file_names_the_option_and_the_path(capsys, small_bag: Path, tmp_path: Path) -> None:
    line = _refusal(capsys, ["process", str(small_bag), str(tmp_path / "out"), "--pipeline", "topdown",
                             "--set", "topdown.pose_checkpoint=/nowhere/hrnet.pth"])
    assert line == ("hpe-ros process: error: option pose_checkpoint = /nowhere/hrnet.pth: not found "
                    "(set topdown.pose_checkpoint to an existing file, "
                    "or to an empty string for the default)")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_says_permission(capsys, small_bag: Path, tmp_path: Path) -> None:
    (tmp_path / "in" / "metadata.yaml").chmod(0)
    line = _refusal(capsys, ["process", str(small_bag), str(tmp_path / "out"), "--quiet"])
    assert line.startswith("hpe-ros process: error: cannot open bag") and "ermission" in line


def test_record_refusals(capsys, small_bag: Path, tmp_path: Path) -> None:
    line = _refusal(capsys, ["record", str(small_bag), "--topic", "/a:std_msgs/msg/String"])
    assert line.startswith("hpe-ros record: error: output bag already exists:")
    line = _refusal(capsys, ["record", str(tmp_path / "r"), "--topic", "/a:no_such_msgs/msg/String"])
    assert line == ("hpe-ros record: error: message type no_such_msgs/msg/String is not available "
                    "in this Python environment (build or install the no_such_msgs interfaces)")
    line = _refusal(capsys, ["record", str(tmp_path / "r"), "--topic", "/a"])
    assert line.startswith("hpe-ros record: error: --topic needs TOPIC:TYPE")
    assert not (tmp_path / "r").exists()


def test_debug_shows_the_traceback(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BagError, match="bag not found"):
        main(["process", str(tmp_path / "none"), str(tmp_path / "out"), "--debug"])
    monkeypatch.setenv("HPE_ROS_DEBUG", "1")
    with pytest.raises(BagError, match="bag not found"):
        main(["process", str(tmp_path / "none"), str(tmp_path / "out")])


def test_help_states_the_exit_codes() -> None:
    text = build_parser().format_help()
    for needle in ("130", "143", "SIGTERM", "HPE_ROS_DEBUG=1"):
        assert needle in text
    result = subprocess.run([sys.executable, "-m", "hpe_ros.cli.main", "process", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "130" in result.stdout and "--debug" in result.stdout
