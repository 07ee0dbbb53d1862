"""HEMlets PoSh's shape network: SMPL pose and shape regressed from HEMlets' 3D joints and image features.

Paper: K. Zhou, X. Han, N. Jiang, K. Jia, J. Lu, "HEMlets PoSh: Learning Part-Centric Heatmap
Triplets for 3D Human Pose and Shape Estimation", TPAMI 2021 (arXiv:2003.04894). No official
code of the PoSh part exists (redrock303/HEMlets only has the pose network's inference).

What the paper states (abstract): a "shallow yet effective network module" appended to the
HEMlets pose network regresses the SMPL parameters of body pose and shape, using the strength of
the HEMlets 3D pose estimate. What this module takes from the HEMlets code: its 18 estimated
joints and its ResNet-50 backbone feature (2048 channels).

Our reading, where the paper's text could not be consulted (the search tool holds only its
abstract), hence design decisions of this implementation and not facts of the paper:

* inputs: the root-relative 3D joints (B, 18, 3) in metres, and the backbone feature map
  (B, 2048, h, w), global-average pooled; either input can be switched off
  (``feature_channels=0`` gives a joints-only regressor);
* network: each input embedded by a linear layer + ReLU to ``hidden`` (1024) channels,
  concatenated, then two fully connected layers of ``hidden`` channels with ReLU and dropout;
* outputs: 24 rotations in the 6D representation (Zhou et al., CVPR 2019; continuous, unlike
  axis-angle) relative to parents, joint 0 being the global orientation, plus 10 betas; the heads
  start at zero and the 6D output is an offset from the identity, so an untrained network
  predicts the rest pose and the mean shape;
* losses (see :mod:`hpe_ros.training.posh`): joints and vertices of the SMPL body the
  parameters give, and the parameters themselves (rotation matrices, betas).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hpe_ros.models.registry import register_model
from hpe_ros.models.rotations import matrix_to_rot6d, rot6d_to_matrix

NUM_SMPL_JOINTS = 24
NUM_BETAS = 10
HEMLETS_NUM_JOINTS = 18  # MODEL.N_JOINT of the HEMlets code
HEMLETS_FEATURE_CHANNELS = 2048  # ResNet-50 output of the HEMlets backbone


@dataclass
class PoshOutput:
    """SMPL parameters for a batch of B people."""

    rot6d: torch.Tensor  # (B, 24, 6)
    rotation_matrices: torch.Tensor  # (B, 24, 3, 3) relative to parents, joint 0 = global orientation
    betas: torch.Tensor  # (B, 10)


class HEMletsPoSh(nn.Module):
    """The shallow SMPL regressor appended to HEMlets (see the module docstring for what is our reading)."""

    identity_rot6d: torch.Tensor

    def __init__(
        self,
        num_input_joints: int = HEMLETS_NUM_JOINTS,
        feature_channels: int = HEMLETS_FEATURE_CHANNELS,
        hidden: int = 1024,
        dropout: float = 0.1,
        num_betas: int = NUM_BETAS,
    ) -> None:
        super().__init__()
        self.num_input_joints = num_input_joints
        self.feature_channels = feature_channels
        self.joint_embedding = nn.Sequential(nn.Linear(num_input_joints * 3, hidden), nn.ReLU(inplace=True))
        self.feature_embedding = (
            nn.Sequential(nn.Linear(feature_channels, hidden), nn.ReLU(inplace=True))
            if feature_channels > 0
            else None
        )
        fused = hidden * (2 if feature_channels > 0 else 1)
        self.trunk = nn.Sequential(
            nn.Linear(fused, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )  # fmt: skip
        self.pose_head = nn.Linear(hidden, NUM_SMPL_JOINTS * 6)
        self.shape_head = nn.Linear(hidden, num_betas)
        for head in (self.pose_head, self.shape_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        identity = matrix_to_rot6d(torch.eye(3)).expand(NUM_SMPL_JOINTS, 6).clone()
        self.register_buffer("identity_rot6d", identity, persistent=False)

    def forward(self, joints: torch.Tensor, image_features: torch.Tensor | None = None) -> PoshOutput:
        """``joints`` (B, J, 3) root-relative metres; ``image_features`` (B, C, h, w) or (B, C)."""
        if joints.shape[1:] != (self.num_input_joints, 3):
            raise ValueError(f"joints must be (B, {self.num_input_joints}, 3), got {tuple(joints.shape)}")
        embedded = [self.joint_embedding(joints.flatten(1))]
        if self.feature_embedding is not None:
            if image_features is None:
                raise ValueError(f"this network needs image features (B, {self.feature_channels}, h, w)")
            pooled = image_features.flatten(2).mean(-1) if image_features.dim() == 4 else image_features
            embedded.append(self.feature_embedding(pooled))
        hidden = self.trunk(torch.cat(embedded, dim=1))
        rot6d = self.identity_rot6d + self.pose_head(hidden).reshape(-1, NUM_SMPL_JOINTS, 6)
        return PoshOutput(
            rot6d=rot6d, rotation_matrices=rot6d_to_matrix(rot6d), betas=self.shape_head(hidden)
        )


@register_model("hemlets_posh")
def hemlets_posh(**kwargs: object) -> HEMletsPoSh:
    """HEMlets PoSh's SMPL regressor; keyword arguments as :class:`HEMletsPoSh`."""
    return HEMletsPoSh(**kwargs)  # type: ignore[arg-type]
