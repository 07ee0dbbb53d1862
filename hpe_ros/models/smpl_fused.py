"""SMPL rewritten as a few large operators with everything that depends on no input precomputed.

:class:`FusedSMPL` computes what :class:`~hpe_ros.models.smpl.SMPLModel` computes (vertices and
kinematic joints from rotation matrices, shape and translation) in a form that exports to a short
ONNX graph (about 40 nodes against SMPLModel's 120; ONNX Runtime pays a few microseconds per
node, and at batch 1 SMPL is one matrix product plus small operators):

* Both blend shapes are one product: ``[betas, vec(R_j - I)] @ [shapedirs; posedirs]`` plus the
  template, with the vertex coordinates stored coordinate-major (x of every vertex, then y, then
  z), which is the layout skinning reads.
* The joint regressor is folded into the shape space: ``J = J_regressor (v_template + S betas) =
  J_template + J_dirs betas``, so the 6890-column regressor is never applied per call. The same
  holds for the joints relative to their parents, and for the homogeneous ``[-J; 1]`` that
  skinning needs, so one small product gives all three.
* Joints are kept in the order of the kinematic tree's levels (root, then its children, ...):
  each level of forward kinematics is then one gather of the parents' transforms, one contiguous
  slice and one batched 4x4 product; the skinning weights' rows are permuted the same way, so
  only the joints output is put back in SMPL's order.
* Skinning is one ``(B, 12, J) x (J, V)`` product (blended transforms per vertex, vertex index
  contiguous) and element-wise products with the coordinates.

Floating-point results differ from SMPLModel's by rounding only (summation order).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hpe_ros.models.smpl import SMPLModel, kinematic_levels


class FusedSMPL(nn.Module):
    """``forward(rotations (B, J, 3, 3), betas (B, K), translation (B, 3))`` -> ``(vertices (B, V, 3),
    joints (B, J, 3))``, as ``SMPLModel(pose=rotations, betas=betas, translation=translation)``
    gives them; K is the model's ``num_betas``. The arrays are copied from ``smpl`` at construction."""

    blend: Tensor
    template: Tensor
    joint_dirs: Tensor
    joint_template: Tensor
    skin_weights: Tensor
    order: Tensor
    inverse_order: Tensor
    last_row: Tensor

    def __init__(self, smpl: SMPLModel) -> None:
        super().__init__()
        with torch.no_grad():
            self._build(smpl)

    def _build(self, smpl: SMPLModel) -> None:
        num_vertices, _, num_betas = smpl.shapedirs.shape
        parents = [int(p) for p in smpl.parents.tolist()]
        levels = [level.tolist() for level in kinematic_levels(smpl.parents)]
        order = [joint for level in levels for joint in level]  # level order -> SMPL joint index
        position = {joint: i for i, joint in enumerate(order)}
        self.num_joints, self.num_vertices, self.num_betas = len(order), num_vertices, num_betas
        # (start, end) of each level in level order, and each joint's parent as an index into
        # the previous level (a joint at depth d always has its parent at depth d - 1)
        self.level_bounds: list[tuple[int, int]] = []
        self.parent_in_previous: list[list[int]] = []
        start = 0
        for depth, level in enumerate(levels):
            self.level_bounds.append((start, start + len(level)))
            if depth:
                previous_start = self.level_bounds[depth - 1][0]
                self.parent_in_previous.append([position[parents[j]] - previous_start for j in level])
            start += len(level)

        def coordinate_major(per_vertex: Tensor) -> Tensor:  # (V, 3, N) -> (N, 3 V): x..., y..., z...
            return per_vertex.permute(2, 1, 0).reshape(per_vertex.shape[-1], 3 * num_vertices)

        # pose blend shapes in level order: rows 9 (k - 1) .. 9 k of posedirs belong to joint k >= 1
        posedirs = smpl.posedirs.reshape(self.num_joints - 1, 9, num_vertices, 3)[[j - 1 for j in order[1:]]]
        pose_rows = coordinate_major(posedirs.reshape(-1, num_vertices, 3).permute(1, 2, 0))
        blend = torch.cat([coordinate_major(smpl.shapedirs), pose_rows])
        self.register_buffer("blend", blend.contiguous(), persistent=False)
        self.register_buffer("template", coordinate_major(smpl.v_template[..., None]), persistent=False)

        # rest joints, and relative to their parents, are linear in betas: template + dirs @ betas
        regressor = smpl.J_regressor[order]  # (J, V), level order
        joints = torch.cat([
            (regressor @ smpl.v_template)[None],  # (1, J, 3) template
            torch.einsum("jv,vdk->kjd", regressor, smpl.shapedirs),  # (K, J, 3) directions
        ])
        parent_rows = [0] + [position[parents[j]] for j in order[1:]]
        relative = joints - joints[:, parent_rows] * (torch.arange(self.num_joints) > 0)[None, :, None]
        homogeneous = torch.cat([-joints, joints.new_zeros(num_betas + 1, self.num_joints, 1)], dim=-1)
        homogeneous[0, :, 3] = 1.0  # [-J; 1]: the template has the 1, the directions 0
        linear = torch.cat([relative.flatten(1), homogeneous.flatten(1)], dim=1)  # (1 + K, 7 J)
        self.register_buffer("joint_template", linear[:1].contiguous(), persistent=False)
        self.register_buffer("joint_dirs", linear[1:].contiguous(), persistent=False)

        self.register_buffer("skin_weights", smpl.lbs_weights.T[order].contiguous(), persistent=False)
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("inverse_order", torch.tensor([position[j] for j in range(len(order))]),
                             persistent=False)  # fmt: skip
        last_row = torch.zeros(4, 4)
        last_row[3, 3] = 1.0  # the bottom row [0 0 0 1] of a 4x4 transform, added after padding
        self.register_buffer("last_row", last_row, persistent=False)
        for name in ("blend", "template", "joint_template", "joint_dirs", "skin_weights", "last_row"):
            setattr(self, name, getattr(self, name).to(smpl.v_template.dtype))

    def forward(self, rotations: Tensor, betas: Tensor, translation: Tensor) -> tuple[Tensor, Tensor]:
        batch, joints, vertices = rotations.shape[0], self.num_joints, self.num_vertices
        rotations = rotations[:, self.order]  # level order
        eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
        features = torch.cat([betas, (rotations[:, 1:] - eye).reshape(batch, -1)], dim=1)
        posed = torch.addmm(self.template, features, self.blend).reshape(batch, 3, 1, vertices)

        linear = torch.addmm(self.joint_template, betas, self.joint_dirs)
        relative, homogeneous = linear.split([3 * joints, 4 * joints], dim=1)
        local = torch.cat([rotations, relative.reshape(batch, joints, 3, 1)], dim=-1)  # (B, J, 3, 4)
        local = nn.functional.pad(local, (0, 0, 0, 1)) + self.last_row  # (B, J, 4, 4)

        start, end = self.level_bounds[0]
        world = [local[:, start:end, :3]]  # (B, n, 3, 4): each level's [R | t] in the world
        for (start, end), parents in zip(self.level_bounds[1:], self.parent_in_previous, strict=True):
            world.append(world[-1][:, parents] @ local[:, start:end])
        transforms = torch.cat(world, dim=1)  # (B, J, 3, 4)

        # A_j = G_j [I | -J_j]: its translation is G_j [-J_j; 1]
        skin_translation = transforms @ homogeneous.reshape(batch, joints, 4, 1)
        skinning = torch.cat([transforms[..., :3], skin_translation], dim=-1)  # (B, J, 3, 4)
        # per vertex blended transform, (B, 4 columns, 3 rows, V)
        blended = (skinning.permute(0, 3, 2, 1).reshape(batch, 12, joints) @ self.skin_weights).reshape(
            batch, 4, 3, vertices
        )
        columns, coordinates = blended.unbind(1), posed.unbind(1)
        shift = translation.reshape(batch, 3, 1)
        skinned = columns[3] + shift  # (B, 3, V); explicit sums: a ReduceSum over axis 1 is slower
        for column, coordinate in zip(columns[:3], coordinates, strict=True):
            skinned = skinned + column * coordinate
        out_vertices = skinned.transpose(1, 2)
        out_joints = transforms[:, self.inverse_order, :, 3] + shift.transpose(1, 2)
        return out_vertices, out_joints
