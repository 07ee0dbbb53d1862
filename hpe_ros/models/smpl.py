"""The SMPL body model in torch: blend shapes, joint regression, forward kinematics, skinning.

The maths lives in plain functions (:func:`blend_shapes`, :func:`pose_blend_shapes`,
:func:`vertices_to_joints`, :func:`batch_rigid_transform`, :func:`lbs`); :class:`SMPLModel` only
holds the model's arrays as buffers and turns user inputs into rotation matrices.

Conventions (those of SMPL, Loper et al. 2015, and of the official files):

* ``pose`` holds the 24 joints' rotations *relative to their parent*, joint 0 (pelvis) being the
  global orientation; axis-angle vectors are Rodrigues vectors in radians.
* Shape: ``v_shaped = v_template + shapedirs · betas``; rest joints ``J = J_regressor @ v_shaped``.
* Pose blend shapes use ``(R_j - I)`` for joints j = 1..23 (not the root), flattened row-major:
  ``v_posed = v_shaped + posedirs · vec(R_1 - I, ..., R_23 - I)`` (207 numbers).
* Forward kinematics: ``G_0 = [R_0 | J_0]`` and ``G_j = G_parent(j) · [R_j | J_j - J_parent(j)]``;
  posed joints are the translations of ``G_j``.
* Linear blend skinning: ``A_j = G_j · [I | -J_j]`` (undoing the rest position first) and
  ``v = Σ_j w_vj A_j [v_posed; 1] + translation``.

Model axes: y up, x to the body's left, z forward (toward a viewer facing the zero-pose body).
:func:`smpl_to_camera_frame` turns such a body into a camera optical frame (x right, y down,
z forward, REP-103 ``*_optical_frame``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hpe_ros.models.rotations import axis_angle_to_matrix, rot6d_to_matrix
from hpe_ros.models.smpl_file import SMPLData, load_smpl_file

# Rotation taking a y-up SMPL body (facing +z, toward the viewer) into a camera optical frame in
# which it stands upright and faces the camera: 180 degrees about x. x keeps its sign (the
# body's left is the image's right for a person facing the camera), y up -> -y, z -> -z.
Y_UP_TO_OPTICAL = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


@dataclass
class SMPLOutput:
    """What :class:`SMPLModel` returns for a batch of B bodies (metres, model or camera frame)."""

    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 24, 3) posed kinematic joints
    joints_h36m: torch.Tensor | None  # (B, 17, 3) from the H36M regressor, when the model has one
    rotation_matrices: torch.Tensor  # (B, 24, 3, 3) the pose as local rotation matrices


@dataclass
class RigidTransforms:
    """Result of :func:`batch_rigid_transform`."""

    posed_joints: torch.Tensor  # (B, J, 3)
    skinning: torch.Tensor  # (B, J, 3, 4) the top rows of A_j = G_j · [I | -J_j]


@dataclass
class LBSResult:
    """Result of :func:`lbs`."""

    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, J, 3) posed joints
    rest_joints: torch.Tensor  # (B, J, 3) joints of the shaped body in its rest pose


@dataclass
class CameraFramePose:
    """SMPL parameters re-expressed so that the body appears rotated into another frame."""

    rotation_matrices: torch.Tensor  # (B, 24, 3, 3), only joint 0 differs from the input
    translation: torch.Tensor  # (B, 3)


def blend_shapes(betas: torch.Tensor, shapedirs: torch.Tensor) -> torch.Tensor:
    """(B, K) coefficients x (V, 3, K) directions -> (B, V, 3) offsets; K may be less than stored."""
    num_vertices, _, _ = shapedirs.shape
    directions = shapedirs[..., : betas.shape[-1]].reshape(num_vertices * 3, -1)
    return (betas @ directions.T).reshape(betas.shape[0], num_vertices, 3)


def pose_feature(rotation_matrices: torch.Tensor) -> torch.Tensor:
    """(B, J, 3, 3) -> (B, 9 * (J - 1)): the entries of R_j - I for j >= 1, row-major."""
    eye = torch.eye(3, dtype=rotation_matrices.dtype, device=rotation_matrices.device)
    return (rotation_matrices[:, 1:] - eye).reshape(rotation_matrices.shape[0], -1)


def pose_blend_shapes(rotation_matrices: torch.Tensor, posedirs: torch.Tensor) -> torch.Tensor:
    """(B, J, 3, 3) rotations x (9 (J - 1), V * 3) correctives -> (B, V, 3) offsets."""
    offsets = pose_feature(rotation_matrices) @ posedirs
    return offsets.reshape(rotation_matrices.shape[0], -1, 3)


def vertices_to_joints(joint_regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """(J, V) regressor x (B, V, 3) vertices -> (B, J, 3)."""
    # einsum folds the batch into one matrix product; a broadcast matmul would run B thin ones
    return torch.einsum("jv,bvd->bjd", joint_regressor, vertices)


def kinematic_levels(parents: torch.Tensor) -> list[torch.Tensor]:
    """Joint indices grouped by depth in the tree (root first); each level depends only on earlier ones."""
    parent_list = [int(p) for p in parents.tolist()]
    depth = [0] * len(parent_list)
    for joint, parent in enumerate(parent_list):
        if parent >= 0:
            if parent >= joint:
                raise ValueError("parents must precede their children (SMPL's joint order does)")
            depth[joint] = depth[parent] + 1
    return [
        torch.tensor([j for j, d in enumerate(depth) if d == level], dtype=torch.long)
        for level in range(max(depth) + 1)
    ]


def batch_rigid_transform(
    rotation_matrices: torch.Tensor,
    rest_joints: torch.Tensor,
    parents: torch.Tensor,
    levels: list[torch.Tensor] | None = None,
) -> RigidTransforms:
    """Forward kinematics: local rotations (B, J, 3, 3) about rest joints (B, J, 3) -> world transforms.

    The chain is walked one tree level at a time (8 steps for SMPL rather than 23 joints), each
    step a batched matmul over all joints of that level.
    """
    batch, num_joints = rest_joints.shape[:2]
    levels = levels if levels is not None else kinematic_levels(parents)
    parents = parents.to(rest_joints.device)
    relative = rest_joints.clone()
    relative[:, 1:] = rest_joints[:, 1:] - rest_joints[:, parents[1:]]
    local = torch.cat([rotation_matrices, relative.unsqueeze(-1)], dim=-1)  # (B, J, 3, 4)
    bottom = local.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(batch, num_joints, 1, 4)
    local = torch.cat([local, bottom], dim=-2)  # (B, J, 4, 4)

    world = local  # the root level is already right; deeper levels are replaced in order
    for level in levels[1:]:
        level = level.to(rest_joints.device)
        chained = world[:, parents[level]] @ local[:, level]
        world = world.index_copy(1, level, chained)  # out of place: autograd-safe

    rotations = world[..., :3, :3]
    posed_joints = world[..., :3, 3]
    # A_j = G_j · [I | -J_j]: rotate about the rest joint, then move it to the posed joint
    skin_translation = posed_joints - (rotations @ rest_joints.unsqueeze(-1)).squeeze(-1)
    skinning = torch.cat([rotations, skin_translation.unsqueeze(-1)], dim=-1)
    return RigidTransforms(posed_joints=posed_joints, skinning=skinning)


def lbs(
    betas: torch.Tensor,
    rotation_matrices: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor,
    joint_regressor: torch.Tensor,
    parents: torch.Tensor,
    lbs_weights: torch.Tensor,
    levels: list[torch.Tensor] | None = None,
) -> LBSResult:
    """Shape and pose blend shapes, joint regression, forward kinematics and skinning (see module doc).

    ``posedirs`` is (9 (J - 1), V * 3), i.e. the file's (V, 3, 207) array reshaped to (V * 3, 207)
    and transposed. ``betas`` (B, K) and ``rotation_matrices`` (B, J, 3, 3) share the batch size.
    """
    batch = rotation_matrices.shape[0]
    v_shaped = v_template.unsqueeze(0) + blend_shapes(betas, shapedirs)
    rest_joints = vertices_to_joints(joint_regressor, v_shaped)
    v_posed = v_shaped + pose_blend_shapes(rotation_matrices, posedirs)
    transforms = batch_rigid_transform(rotation_matrices, rest_joints, parents, levels)

    num_vertices, num_joints = lbs_weights.shape
    # Blend the (3, 4) transforms per vertex with one (B * 12, J) x (J, V) product and apply them
    # with vertex-contiguous element-wise products: much faster than batched matmuls of tiny
    # matrices. per_vertex[b, r, c, v] is entry (r, c) of vertex v's blended transform.
    flat = transforms.skinning.reshape(batch, num_joints, 12).transpose(1, 2).reshape(batch * 12, num_joints)
    per_vertex = (flat @ lbs_weights.T).reshape(batch, 3, 4, num_vertices)
    coords = v_posed.transpose(1, 2)  # (B, 3, V)
    skinned = per_vertex[:, :, 3].clone()
    for axis in range(3):
        skinned += per_vertex[:, :, axis] * coords[:, axis : axis + 1]
    vertices = skinned.transpose(1, 2)
    return LBSResult(vertices=vertices, joints=transforms.posed_joints, rest_joints=rest_joints)


def pose_to_rotation_matrices(pose: torch.Tensor, num_joints: int = 24) -> torch.Tensor:
    """Any pose form -> (B, J, 3, 3).

    Axis-angle (B, J, 3) or (B, 3J), matrices (B, J, 3, 3) or (B, 9J), 6D (B, J, 6) or (B, 6J).
    """
    batch = pose.shape[0]
    if pose.dim() == 2 and pose.shape[1] in (3 * num_joints, 6 * num_joints, 9 * num_joints):
        pose = pose.reshape(batch, num_joints, pose.shape[1] // num_joints)
        if pose.shape[-1] == 9:
            pose = pose.reshape(batch, num_joints, 3, 3)
    if pose.dim() == 4 and pose.shape[1:] == (num_joints, 3, 3):
        return pose
    if pose.dim() == 3 and pose.shape[1] == num_joints and pose.shape[2] == 3:
        return axis_angle_to_matrix(pose)
    if pose.dim() == 3 and pose.shape[1] == num_joints and pose.shape[2] == 6:
        return rot6d_to_matrix(pose)
    raise ValueError(
        f"pose must be axis-angle (B, {num_joints}, 3) or (B, {3 * num_joints}), rotation matrices "
        f"(B, {num_joints}, 3, 3) or 6D (B, {num_joints}, 6); got {tuple(pose.shape)}"
    )


def smpl_to_camera_frame(
    rotation_matrices: torch.Tensor,
    translation: torch.Tensor,
    root_rest_joint: torch.Tensor,
    camera_from_body_frame: torch.Tensor | None = None,
) -> CameraFramePose:
    """Parameters whose SMPL body equals ``R ·`` (the given body), R defaulting to :data:`Y_UP_TO_OPTICAL`.

    Use it when the global orientation (joint 0) and translation were expressed in a y-up frame
    (SMPL's own convention, or an OpenGL-style camera) and the body is wanted in a camera optical
    frame. Exact, because every SMPL output point is ``R_0 · Y + J_0 + t`` with ``Y`` independent
    of the global orientation ``R_0`` and translation ``t`` (J_0 = rest root joint of the shaped
    body). Hence ``R · (R_0 Y + J_0 + t) = (R R_0) Y + J_0 + t'`` with ``t' = R (J_0 + t) - J_0``.

    ``rotation_matrices`` (B, 24, 3, 3), ``translation`` (B, 3), ``root_rest_joint`` (B, 3) (see
    :meth:`SMPLModel.rest_joints`), ``camera_from_body_frame`` (3, 3) rotation.
    """
    rotation = Y_UP_TO_OPTICAL if camera_from_body_frame is None else camera_from_body_frame
    rotation = rotation.to(dtype=rotation_matrices.dtype, device=rotation_matrices.device)
    root = (rotation @ rotation_matrices[:, :1]).to(rotation_matrices.dtype)
    new_rotations = torch.cat([root, rotation_matrices[:, 1:]], dim=1)
    new_translation = (root_rest_joint + translation) @ rotation.T - root_rest_joint
    return CameraFramePose(rotation_matrices=new_rotations, translation=new_translation)


class SMPLModel(nn.Module):
    """SMPL with its arrays as buffers; ``forward`` poses a batch of bodies.

    Buffers are not persistent: the body model comes from the user's licensed file and never
    travels inside a network's checkpoint.
    """

    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    lbs_weights: torch.Tensor
    parents: torch.Tensor
    faces: torch.Tensor
    J_regressor_h36m: torch.Tensor | None

    def __init__(
        self, data: SMPLData, num_betas: int | None = 10, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        data.validate()
        stored_betas = data.num_betas
        self.num_betas = stored_betas if num_betas is None else min(num_betas, stored_betas)
        self.num_joints = data.num_joints
        self.gender = data.gender

        def buffer(name: str, array: np.ndarray | None, tensor_dtype: torch.dtype = dtype) -> None:
            value = (
                None if array is None else torch.as_tensor(np.ascontiguousarray(array), dtype=tensor_dtype)
            )
            self.register_buffer(name, value, persistent=False)

        num_vertices = data.num_vertices
        buffer("v_template", data.v_template)
        buffer("shapedirs", data.shapedirs[..., : self.num_betas])
        buffer("posedirs", data.posedirs.reshape(num_vertices * 3, -1).T)  # (207, V * 3)
        buffer("J_regressor", data.J_regressor)
        buffer("lbs_weights", data.weights)
        buffer("parents", data.parents, torch.long)
        buffer("faces", data.faces, torch.long)
        buffer("J_regressor_h36m", data.J_regressor_h36m)
        for index, level in enumerate(kinematic_levels(torch.as_tensor(data.parents))):
            self.register_buffer(f"_level_{index}", level, persistent=False)
        self._num_levels = index + 1

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        gender: str = "neutral",
        num_betas: int | None = 10,
        h36m_regressor: str | os.PathLike[str] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> SMPLModel:
        """Load a SMPL ``.pkl``/``.npz`` (or the ``gender`` file in a folder); see :func:`load_smpl_file`."""
        return cls(load_smpl_file(path, gender=gender, h36m_regressor=h36m_regressor), num_betas, dtype)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def _levels(self) -> list[torch.Tensor]:
        return [getattr(self, f"_level_{index}") for index in range(self._num_levels)]

    def _betas(self, betas: torch.Tensor | None, batch: int) -> torch.Tensor:
        if betas is None:
            return self.v_template.new_zeros(batch, self.num_betas)
        betas = betas.to(self.v_template.dtype)
        if betas.dim() == 1:
            betas = betas.unsqueeze(0)
        if betas.shape[-1] > self.num_betas:
            raise ValueError(f"this model has {self.num_betas} shape coefficients, got {betas.shape[-1]}")
        return betas.expand(batch, -1) if betas.shape[0] == 1 else betas

    def rest_joints(self, betas: torch.Tensor | None = None, batch: int = 1) -> torch.Tensor:
        """(B, 24, 3) joints of the shaped body in its rest pose (no pose, no translation)."""
        betas = self._betas(betas, batch)
        return vertices_to_joints(self.J_regressor, self.v_template + blend_shapes(betas, self.shapedirs))

    def forward(
        self,
        pose: torch.Tensor,
        betas: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> SMPLOutput:
        """Pose B bodies: ``pose`` in any form :func:`pose_to_rotation_matrices` takes (joint 0 = global
        orientation), ``betas`` (B, K<=num_betas) or (K,), ``translation`` (B, 3) or (3,) metres."""
        rotations = pose_to_rotation_matrices(pose.to(self.v_template.dtype), self.num_joints)
        batch = rotations.shape[0]
        betas = self._betas(betas, batch)
        if betas.shape[0] != batch:
            raise ValueError(f"betas batch {betas.shape[0]} does not match pose batch {batch}")
        result = lbs(
            betas, rotations, self.v_template, self.shapedirs, self.posedirs, self.J_regressor,
            self.parents, self.lbs_weights, self._levels(),
        )  # fmt: skip
        vertices, joints = result.vertices, result.joints
        if translation is not None:
            offset = translation.to(vertices.dtype).reshape(-1, 1, 3)
            vertices, joints = vertices + offset, joints + offset
        joints_h36m = None
        if self.J_regressor_h36m is not None:
            joints_h36m = vertices_to_joints(self.J_regressor_h36m, vertices)
        return SMPLOutput(
            vertices=vertices, joints=joints, joints_h36m=joints_h36m, rotation_matrices=rotations
        )

    def to_camera_frame(
        self,
        pose: torch.Tensor,
        betas: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
        camera_from_body_frame: torch.Tensor | None = None,
    ) -> CameraFramePose:
        """:func:`smpl_to_camera_frame` for these parameters (the rest root joint computed from ``betas``)."""
        rotations = pose_to_rotation_matrices(pose.to(self.v_template.dtype), self.num_joints)
        batch = rotations.shape[0]
        root = self.rest_joints(betas, batch)[:, 0]
        if translation is None:
            translation = torch.zeros_like(root)
        translation = translation.to(root.dtype).reshape(-1, 3).expand(batch, 3)
        return smpl_to_camera_frame(rotations, translation, root, camera_from_body_frame)
