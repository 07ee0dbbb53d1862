"""Optional SMPL output of the RGB pipelines: PoSh + SMPL placed at the person's root, camera frame."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.core.joints import H36M_17
from hpe_ros.models.hemlets_posh import HEMletsPoSh
from hpe_ros.models.smpl_synthetic import save_synthetic_smpl
from hpe_ros.pipelines.output.mesh import MeshOutput, load_posh, posh_input_joints, posh_sizes

SMPL_HEAD, SMPL_PELVIS = 15, 0


@pytest.fixture(scope="module")
def smpl_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_synthetic_smpl(tmp_path_factory.mktemp("smpl") / "smpl_neutral.pkl")


def _standing_joints(count: int) -> np.ndarray:
    """H36M joints of an upright person in the optical frame (y down): head above the pelvis."""
    joints = np.zeros((count, len(H36M_17), 3))
    joints[:, H36M_17.index("head"), 1] = -0.6
    joints[:, H36M_17.index("left_shoulder")] = [0.2, -0.45, 0.0]
    joints[:, H36M_17.index("right_shoulder")] = [-0.2, -0.45, 0.0]
    joints[:, H36M_17.index("left_ankle"), 1] = 0.9
    return joints


def test_without_model_path_no_mesh_and_the_message_names_the_parameter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="hpe_ros.mesh"):
        assert MeshOutput.from_options("blazepose", "") is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "blazepose.smpl_model_path" in messages[0]


def test_random_posh_gives_upright_bodies_at_the_roots(
    smpl_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hpe_ros.mesh"):
        mesh = MeshOutput(str(smpl_path), pipeline="topdown")
    assert any("topdown.posh_checkpoint" in r.getMessage() for r in caplog.records)
    roots = np.array([[0.5, 0.1, 3.0], [-0.4, 0.0, 4.5]])
    joints = _standing_joints(2) + roots[:, None]
    bodies = mesh.estimate(joints, roots)
    assert len(bodies) == 2
    faces = mesh.faces
    assert faces.ndim == 2 and faces.shape[1] == 3 and faces.max() < 6890
    for body, root in zip(bodies, roots, strict=True):
        assert body.vertices.shape == (6890, 3) and body.joints.shape == (24, 3)
        assert (body.betas.shape == (10,) and body.body_pose.shape == (24, 3)
                and body.translation.shape == (3,))
        np.testing.assert_allclose(body.joints[SMPL_PELVIS], root, atol=1e-5)
        assert body.joints[SMPL_HEAD, 1] < root[1] - 0.3  # upright in the optical frame: the head is above
        assert np.abs(body.vertices - root).max() < 1.5  # the mesh surrounds the person
        assert np.all(body.vertices[:, 2] > 1.5)  # in front of the camera


def test_people_without_a_root_stay_at_the_origin(smpl_path: Path) -> None:
    mesh = MeshOutput(str(smpl_path), pipeline="blazepose", publish_vertices=False)
    bodies = mesh.estimate(_standing_joints(2), np.array([[np.nan] * 3, [0.0, 0.0, 2.0]]))
    np.testing.assert_allclose(bodies[0].joints[SMPL_PELVIS], 0.0, atol=1e-5)
    np.testing.assert_allclose(bodies[1].joints[SMPL_PELVIS], [0, 0, 2], atol=1e-5)
    assert bodies[0].vertices is None
    assert mesh.estimate(np.zeros((0, 17, 3))) == []


def test_posh_checkpoint_with_thorax_and_image_branch(smpl_path: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    posh = HEMletsPoSh(num_input_joints=18, feature_channels=16, hidden=32, dropout=0.0)
    for head in (posh.pose_head, posh.shape_head):  # non-zero heads, so the body depends on the input
        torch.nn.init.normal_(head.weight, std=0.05)
    path = tmp_path / "posh.pt"
    torch.save({"state_dict": posh.state_dict(), "epoch": 3}, path)
    assert posh_sizes(posh.state_dict()).num_input_joints == 18
    loaded = load_posh(path)
    assert (loaded.num_input_joints, loaded.feature_channels) == (18, 16)

    joints = _standing_joints(1)
    inputs = posh_input_joints(joints, 18)
    assert inputs.shape == (1, 18, 3)
    np.testing.assert_allclose(inputs[0, 17].numpy(), [0.0, 0.45, 0.0], atol=1e-6)  # thorax, y up
    mesh = MeshOutput(str(smpl_path), posh_checkpoint=str(path))
    body = mesh.estimate(joints, np.array([[0.0, 0.0, 3.0]]))[0]
    expected = posh.eval()(inputs, torch.zeros(1, 16)).betas[0].detach().numpy()
    np.testing.assert_allclose(body.betas, expected, atol=1e-5)
    np.testing.assert_allclose(body.joints[SMPL_PELVIS], [0, 0, 3], atol=1e-5)
