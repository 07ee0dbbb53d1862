"""Options that cannot work or would be ignored are reported when the pipeline is created."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hpe_ros.models.checkpoints import CheckpointError
from hpe_ros.pipelines.output.mesh import MeshOutput
from hpe_ros.pipelines.registry import create_pipeline


@pytest.mark.parametrize("pipeline, option", [
    ("topdown", "pose_checkpoint"), ("topdown", "lifter_checkpoint"), ("topdown", "posh_checkpoint"),
    ("blazepose", "lifter_weights"), ("eventhpe", "flownet_checkpoint"),
])
def test_a_missing_model_file_names_the_option_and_the_path(
    tmp_path: Path, pipeline: str, option: str
) -> None:
    missing = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(CheckpointError) as error:
        create_pipeline(pipeline, {option: str(missing)})
    message = str(error.value)
    assert f"option {option} = {missing}: not found" in message and f"set {pipeline}.{option}" in message
    assert "\n" not in message


@pytest.mark.parametrize("pipeline, option", [("blazepose", "smpl_model_path"), ("replay", "path")])
def test_a_missing_data_file_names_the_option_and_the_path(
    tmp_path: Path, pipeline: str, option: str
) -> None:
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(FileNotFoundError,
                       match=rf"option {option} = .*SMPL_NEUTRAL\.pkl: not found \(set {pipeline}\."):
        create_pipeline(pipeline, {option: str(missing)})


def test_posh_checkpoint_without_smpl_model_says_both_options(tmp_path: Path, caplog) -> None:
    posh = tmp_path / "posh.pt"
    posh.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="hpe_ros.mesh"):
        assert MeshOutput.from_options("blazepose", "", str(posh), "female") is None
    (record,) = [r for r in caplog.records if r.name == "hpe_ros.mesh"]
    text = record.getMessage()
    assert text.startswith("blazepose.posh_checkpoint and blazepose.smpl_gender are ignored")
    assert "blazepose.smpl_model_path is empty" in text


def test_without_ignored_options_the_usual_message_stays(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="hpe_ros.mesh"):
        assert MeshOutput.from_options("topdown", "", "", "neutral") is None
    assert [r.getMessage() for r in caplog.records if r.name == "hpe_ros.mesh"] == [
        "no SMPL meshes: set topdown.smpl_model_path to a SMPL .pkl/.npz to publish meshes "
        "(skeletons are published without it)"]


def test_a_bottom_up_checkpoint_that_no_detector_uses_is_reported(tmp_path: Path) -> None:
    checkpoint = tmp_path / "swahr.pth"
    checkpoint.write_bytes(b"")  # never read: the whole image is the box
    with pytest.warns(UserWarning,
                      match=r"topdown\.bottom_up_checkpoint is ignored: boxes come from whole_image"):
        create_pipeline("topdown", {"bottom_up_checkpoint": str(checkpoint), "box_source": "whole_image",
                                    "allow_random_weights": True, "backend": "torch"})
