"""Training HEMlets PoSh's SMPL regressor, and synthetic data to train or check it without any dataset.

:func:`synthetic_posh_batches` draws random SMPL bodies from a body model (the licensed one or
:func:`hpe_ros.models.smpl_synthetic.make_synthetic_smpl`'s), poses them, and hands their 3D
joints (root-relative, as HEMlets gives them) to the network as input, with the parameters as
targets: "random poses -> joints -> regress back". :func:`train_posh` runs the optimisation
with :func:`posh_losses` (joints, vertices, rotation matrices, betas; the mix is our choice, see
:mod:`hpe_ros.models.hemlets_posh`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch.nn.functional import l1_loss, mse_loss

from hpe_ros.models.hemlets_posh import HEMletsPoSh, PoshOutput
from hpe_ros.models.rotations import axis_angle_to_matrix
from hpe_ros.models.smpl import SMPLModel, SMPLOutput


@dataclass
class PoshBatch:
    """Network inputs and SMPL targets for B people."""

    joints: torch.Tensor  # (B, J, 3) root-relative input joints, metres
    rotation_matrices: torch.Tensor  # (B, 24, 3, 3) target pose
    betas: torch.Tensor  # (B, 10) target shape
    image_features: torch.Tensor | None = None  # (B, C[, h, w])


@dataclass(frozen=True)
class PoshLossWeights:
    joints: float = 1.0
    vertices: float = 1.0
    rotations: float = 1.0
    betas: float = 0.01


@dataclass
class PoshLosses:
    total: torch.Tensor
    joints: torch.Tensor
    vertices: torch.Tensor
    rotations: torch.Tensor
    betas: torch.Tensor


@dataclass
class PoshTrainingResult:
    losses: list[float] = field(default_factory=list)  # total loss per step
    steps: int = 0


def root_relative_joints(body: SMPLOutput, source: Literal["smpl", "h36m"]) -> torch.Tensor:
    """The body's joints minus its root (pelvis), from SMPL's 24 kinematic or the 17 H36M joints."""
    if source == "h36m":
        if body.joints_h36m is None:
            raise ValueError("the body model has no H36M joint regressor")
        joints = body.joints_h36m
    else:
        joints = body.joints
    return joints - joints[:, :1]


def synthetic_posh_batches(
    smpl: SMPLModel,
    batch_size: int = 32,
    joint_source: Literal["smpl", "h36m"] = "h36m",
    pose_std: float = 0.3,
    beta_std: float = 1.0,
    feature_channels: int = 0,
    seed: int = 0,
) -> Iterator[PoshBatch]:
    """Endless batches of random bodies: any heading about the vertical, limbs ``pose_std`` rad per axis.

    With ``feature_channels`` > 0, stand-in image features (the targets seen through a fixed random
    projection, plus noise) are added, so that a network with an image branch can be exercised.
    """
    generator = torch.Generator().manual_seed(seed)
    dtype, device = smpl.v_template.dtype, smpl.v_template.device
    projection = torch.randn(24 * 9 + smpl.num_betas, feature_channels, generator=generator, dtype=dtype)
    while True:
        axis_angle = torch.randn(batch_size, 24, 3, generator=generator, dtype=dtype) * pose_std
        heading = (torch.rand(batch_size, generator=generator, dtype=dtype) * 2 - 1) * math.pi
        axis_angle[:, 0, 1] += heading  # yaw about the model's vertical (y) axis
        betas = torch.randn(batch_size, smpl.num_betas, generator=generator, dtype=dtype) * beta_std
        rotations = axis_angle_to_matrix(axis_angle)
        with torch.no_grad():
            body = smpl(rotations.to(device), betas.to(device))
        features = None
        if feature_channels > 0:
            targets = torch.cat([rotations.flatten(1), betas], dim=1)
            noise = torch.randn(batch_size, feature_channels, generator=generator, dtype=dtype)
            features = targets @ projection + 0.1 * noise
            features = features.to(device)
        yield PoshBatch(
            joints=root_relative_joints(body, joint_source),
            rotation_matrices=rotations.to(device),
            betas=betas.to(device),
            image_features=features,
        )


def posh_losses(
    output: PoshOutput,
    batch: PoshBatch,
    smpl: SMPLModel,
    weights: PoshLossWeights = PoshLossWeights(),
) -> PoshLosses:
    """L1 on root-aligned SMPL joints and vertices, MSE on rotation matrices and betas."""
    predicted = smpl(output.rotation_matrices, output.betas)
    with torch.no_grad():
        target = smpl(batch.rotation_matrices, batch.betas)
    root_pred, root_target = predicted.joints[:, :1], target.joints[:, :1]
    joints = l1_loss(predicted.joints - root_pred, target.joints - root_target)
    vertices = l1_loss(predicted.vertices - root_pred, target.vertices - root_target)
    rotations = mse_loss(output.rotation_matrices, batch.rotation_matrices)
    betas = mse_loss(output.betas, batch.betas)
    total = (
        weights.joints * joints
        + weights.vertices * vertices
        + weights.rotations * rotations
        + weights.betas * betas
    )
    return PoshLosses(total=total, joints=joints, vertices=vertices, rotations=rotations, betas=betas)


def train_posh(
    model: HEMletsPoSh,
    smpl: SMPLModel,
    batches: Iterable[PoshBatch],
    steps: int,
    learning_rate: float = 1e-3,
    weights: PoshLossWeights = PoshLossWeights(),
    optimizer: torch.optim.Optimizer | None = None,
) -> PoshTrainingResult:
    """Optimise ``model`` for ``steps`` batches (Adam unless ``optimizer`` is given); SMPL stays fixed."""
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=learning_rate)
    smpl.requires_grad_(False)
    model.train()
    result = PoshTrainingResult()
    for batch in batches:
        if result.steps >= steps:
            break
        losses = posh_losses(model(batch.joints, batch.image_features), batch, smpl, weights)
        optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        optimizer.step()
        result.losses.append(float(losses.total.detach()))
        result.steps += 1
    return result
