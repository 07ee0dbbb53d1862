"""FusedSMPL (the graph the ``smpl`` export writes) computes SMPLModel's vertices and joints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hpe_ros.models.rotations import axis_angle_to_matrix
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_fused import FusedSMPL
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl


def dense_model(dtype: torch.dtype) -> SMPLModel:
    """The synthetic body with dense random correctives, regressor and weights (as real files have:
    nothing here may rely on the synthetic model's zeros)."""
    data = make_synthetic_smpl(num_vertices=300, seed=3)
    rng = np.random.default_rng(4)
    weights = rng.random(data.weights.shape)
    regressor = rng.random(data.J_regressor.shape)
    data = dataclasses.replace(
        data,
        posedirs=rng.normal(0.0, 0.01, data.posedirs.shape),
        shapedirs=rng.normal(0.0, 0.03, data.shapedirs.shape),
        weights=weights / weights.sum(1, keepdims=True),
        J_regressor=regressor / regressor.sum(1, keepdims=True),
    )
    return SMPLModel(data, dtype=dtype).eval()


def inputs(batch: int, dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    rotations = axis_angle_to_matrix(torch.randn(batch, 24, 3, generator=generator, dtype=dtype) * 0.8)
    betas = torch.randn(batch, 10, generator=generator, dtype=dtype) * 2.0
    return rotations, betas, torch.randn(batch, 3, generator=generator, dtype=dtype)


@pytest.mark.parametrize("batch", [1, 4])
def test_fused_equals_smpl_model_in_float64(batch: int) -> None:
    smpl = dense_model(torch.float64)
    fused = FusedSMPL(smpl)
    rotations, betas, translation = inputs(batch, torch.float64, seed=batch)
    expected = smpl(pose=rotations, betas=betas, translation=translation)
    vertices, joints = fused(rotations, betas, translation)
    assert vertices.shape == expected.vertices.shape and joints.shape == expected.joints.shape
    assert vertices.dtype == torch.float64
    torch.testing.assert_close(vertices, expected.vertices, rtol=0, atol=1e-12)
    torch.testing.assert_close(joints, expected.joints, rtol=0, atol=1e-12)
    # the check can fail: the pose correctives and the translation take part
    assert (vertices - smpl(pose=rotations, betas=betas).vertices).abs().max() > 0.1


def test_fused_float32_is_within_rounding_and_follows_the_pose() -> None:
    smpl = dense_model(torch.float32)
    fused = FusedSMPL(smpl)
    rotations, betas, translation = inputs(3, torch.float32, seed=9)
    expected = smpl(pose=rotations, betas=betas, translation=translation)
    vertices, joints = fused(rotations, betas, translation)
    torch.testing.assert_close(vertices, expected.vertices, rtol=0, atol=1e-5)
    torch.testing.assert_close(joints, expected.joints, rtol=0, atol=1e-5)
    other = fused(rotations.flip(0), betas, translation)[0]
    assert (other - vertices).abs().max() > 0.1
