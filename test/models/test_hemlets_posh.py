"""HEMlets PoSh's SMPL regressor: shapes, start state, and a tiny synthetic training run."""

from __future__ import annotations

import statistics

import pytest
import torch

from hpe_ros.models.hemlets_posh import HEMletsPoSh
from hpe_ros.models.registry import create_model
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl
from hpe_ros.training.posh import posh_losses, synthetic_posh_batches, train_posh


@pytest.fixture(scope="module")
def smpl() -> SMPLModel:
    return SMPLModel(make_synthetic_smpl(num_vertices=300, seed=0))


def test_default_network_takes_hemlets_joints_and_backbone_features() -> None:
    model = create_model("hemlets_posh")
    assert isinstance(model, HEMletsPoSh)
    model.eval()
    out = model(torch.randn(2, 18, 3), torch.randn(2, 2048, 8, 8))
    assert out.rot6d.shape == (2, 24, 6)
    assert out.rotation_matrices.shape == (2, 24, 3, 3)
    assert out.betas.shape == (2, 10)
    eye = torch.eye(3).expand(2, 24, 3, 3)
    torch.testing.assert_close(out.rotation_matrices @ out.rotation_matrices.transpose(-1, -2), eye)
    torch.testing.assert_close(torch.linalg.det(out.rotation_matrices), torch.ones(2, 24))
    assert not any(name.startswith("identity") for name in model.state_dict())


def test_untrained_network_predicts_rest_pose_and_mean_shape() -> None:
    model = HEMletsPoSh(num_input_joints=17, feature_channels=0, hidden=64).eval()
    out = model(torch.randn(5, 17, 3))
    torch.testing.assert_close(out.rotation_matrices, torch.eye(3).expand(5, 24, 3, 3))
    torch.testing.assert_close(out.betas, torch.zeros(5, 10))


def test_inputs_are_checked() -> None:
    model = HEMletsPoSh(num_input_joints=18, feature_channels=16, hidden=32)
    with pytest.raises(ValueError, match="needs image features"):
        model(torch.randn(1, 18, 3))
    with pytest.raises(ValueError, match=r"joints must be \(B, 18, 3\)"):
        model(torch.randn(1, 17, 3), torch.randn(1, 16))


@pytest.mark.parametrize("feature_channels", [0, 16])
def test_tiny_training_run_lowers_the_loss(smpl: SMPLModel, feature_channels: int) -> None:
    torch.manual_seed(0)
    model = HEMletsPoSh(num_input_joints=17, feature_channels=feature_channels, hidden=128, dropout=0.0)
    held_out = next(synthetic_posh_batches(smpl, 64, feature_channels=feature_channels, seed=123))

    def held_out_joint_error() -> float:
        model.eval()
        with torch.no_grad():
            return float(posh_losses(model(held_out.joints, held_out.image_features), held_out, smpl).joints)

    before = held_out_joint_error()
    batches = synthetic_posh_batches(smpl, 32, feature_channels=feature_channels, seed=1)
    result = train_posh(model, smpl, batches, steps=80, learning_rate=3e-3)

    assert result.steps == 80 and len(result.losses) == 80
    assert statistics.mean(result.losses[-10:]) < 0.75 * statistics.mean(result.losses[:10])
    assert held_out_joint_error() < 0.8 * before
