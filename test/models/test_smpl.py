"""SMPL forward pass against closed-form cases on the synthetic model (float64)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.models.rotations import axis_angle_to_matrix, matrix_to_rot6d
from hpe_ros.models.smpl import (
    Y_UP_TO_OPTICAL,
    SMPLModel,
    kinematic_levels,
    pose_to_rotation_matrices,
    smpl_to_camera_frame,
)
from hpe_ros.models.smpl_file import SMPLData
from hpe_ros.models.smpl_synthetic import REST_JOINTS, SMPL_PARENTS, make_synthetic_smpl, save_synthetic_smpl

F64 = torch.float64
LEFT_ELBOW = 18


@pytest.fixture(scope="module")
def data() -> SMPLData:
    return make_synthetic_smpl(num_vertices=400, seed=11)


@pytest.fixture(scope="module")
def model(data: SMPLData) -> SMPLModel:
    return SMPLModel(data, dtype=F64)


@pytest.fixture(scope="module")
def rigid_model(data: SMPLData) -> SMPLModel:
    """The same body without pose correctives, so that posing is pure skinning."""
    return SMPLModel(dataclasses.replace(data, posedirs=np.zeros_like(data.posedirs)), dtype=F64)


def subtree(joint: int) -> list[int]:
    members = [joint]
    for child in range(joint + 1, len(SMPL_PARENTS)):
        if SMPL_PARENTS[child] in members:
            members.append(child)
    return members


def single_joint_pose(joint: int, axis_angle: list[float], batch: int = 1) -> torch.Tensor:
    pose = torch.zeros(batch, 24, 3, dtype=F64)
    pose[:, joint] = torch.tensor(axis_angle, dtype=F64)
    return pose


def test_zero_pose_is_template_plus_shape_offsets(model: SMPLModel, data: SMPLData) -> None:
    betas = torch.randn(3, 10, dtype=F64, generator=torch.Generator().manual_seed(0))
    out = model(torch.zeros(3, 72, dtype=F64), betas)
    expected = torch.as_tensor(data.v_template) + torch.einsum(
        "vdk,bk->bvd", torch.as_tensor(data.shapedirs), betas
    )
    torch.testing.assert_close(out.vertices, expected, rtol=0, atol=1e-12)
    # at zero pose the kinematic joints are the regressed joints of the mesh itself
    torch.testing.assert_close(
        out.joints, torch.as_tensor(data.J_regressor) @ out.vertices, rtol=0, atol=1e-12
    )


def test_rest_joints_of_the_synthetic_template_are_exact(model: SMPLModel) -> None:
    torch.testing.assert_close(model.rest_joints()[0], torch.as_tensor(REST_JOINTS), rtol=0, atol=1e-12)


def test_single_joint_rotates_its_subtree_about_its_rest_position(
    rigid_model: SMPLModel, data: SMPLData
) -> None:
    axis_angle = [0.0, 0.0, math.pi / 3]
    out = rigid_model(single_joint_pose(LEFT_ELBOW, axis_angle))
    rotation = axis_angle_to_matrix(torch.tensor(axis_angle, dtype=F64))
    centre = torch.as_tensor(REST_JOINTS[LEFT_ELBOW])
    rest = torch.as_tensor(data.v_template)
    rotated = (rest - centre) @ rotation.T + centre

    members = subtree(LEFT_ELBOW)
    assert members == [18, 20, 22]
    share = torch.as_tensor(data.weights[:, members].sum(axis=1))[:, None]  # weight on the moving part
    expected = rest + share * (rotated - rest)
    torch.testing.assert_close(out.vertices[0], expected, rtol=0, atol=1e-12)

    untouched = share[:, 0] == 0
    fully_moved = share[:, 0] == 1
    assert untouched.sum() > 100 and fully_moved.sum() > 10  # both kinds exist in the synthetic body
    torch.testing.assert_close(out.vertices[0, untouched], rest[untouched], rtol=0, atol=1e-15)

    rest_joints = torch.as_tensor(REST_JOINTS)
    expected_joints = rest_joints.clone()
    expected_joints[members] = (rest_joints[members] - centre) @ rotation.T + centre
    torch.testing.assert_close(out.joints[0], expected_joints, rtol=0, atol=1e-12)


def test_pose_blend_shapes_use_r_minus_identity_of_non_root_joints(model: SMPLModel, data: SMPLData) -> None:
    axis_angle = [0.4, -0.2, 0.3]
    rotation = axis_angle_to_matrix(torch.tensor(axis_angle, dtype=F64))
    feature = torch.zeros(23, 3, 3, dtype=F64)
    feature[LEFT_ELBOW - 1] = rotation - torch.eye(3, dtype=F64)
    offsets = torch.einsum("vdp,p->vd", torch.as_tensor(data.posedirs), feature.reshape(-1))
    posed = torch.as_tensor(data.v_template) + offsets
    centre = torch.as_tensor(REST_JOINTS[LEFT_ELBOW])
    share = torch.as_tensor(data.weights[:, subtree(LEFT_ELBOW)].sum(axis=1))[:, None]
    expected = posed + share * ((posed - centre) @ rotation.T + centre - posed)

    out = model(single_joint_pose(LEFT_ELBOW, axis_angle))
    assert offsets.abs().max() > 1e-4  # the correctives are really exercised
    torch.testing.assert_close(out.vertices[0], expected, rtol=0, atol=1e-12)

    # the root's rotation has no pose blend shape: a global rotation is rigid about the root joint
    root_rotation = axis_angle_to_matrix(torch.tensor([0.3, 1.1, -0.5], dtype=F64))
    out = model(single_joint_pose(0, [0.3, 1.1, -0.5]))
    root = torch.as_tensor(REST_JOINTS[0])
    rigid = (torch.as_tensor(data.v_template) - root) @ root_rotation.T + root
    torch.testing.assert_close(out.vertices[0], rigid, rtol=0, atol=1e-12)


def test_translation_shifts_everything(model: SMPLModel) -> None:
    pose = torch.randn(2, 24, 3, dtype=F64, generator=torch.Generator().manual_seed(1)) * 0.4
    shift = torch.tensor([[0.1, -2.0, 5.0], [1.0, 0.0, 3.0]], dtype=F64)
    moved, still = model(pose, translation=shift), model(pose)
    torch.testing.assert_close(moved.vertices, still.vertices + shift[:, None], rtol=0, atol=1e-12)
    torch.testing.assert_close(moved.joints, still.joints + shift[:, None], rtol=0, atol=1e-12)
    torch.testing.assert_close(moved.joints_h36m, still.joints_h36m + shift[:, None], rtol=0, atol=1e-12)


def test_axis_angle_matrix_and_6d_inputs_agree(model: SMPLModel) -> None:
    axis_angle = torch.randn(4, 24, 3, dtype=F64, generator=torch.Generator().manual_seed(2)) * 0.6
    matrices = axis_angle_to_matrix(axis_angle)
    reference = model(axis_angle).vertices
    for pose in (axis_angle.reshape(4, 72), matrices, matrices.reshape(4, 216), matrix_to_rot6d(matrices)):
        torch.testing.assert_close(model(pose).vertices, reference, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        pose_to_rotation_matrices(matrix_to_rot6d(matrices)), matrices, rtol=0, atol=1e-12
    )
    with pytest.raises(ValueError, match="pose must be"):
        model(torch.zeros(4, 23, 3, dtype=F64))


def test_batch_of_32_equals_per_sample(model: SMPLModel) -> None:
    generator = torch.Generator().manual_seed(3)
    pose = torch.randn(32, 24, 3, dtype=F64, generator=generator) * 0.5
    betas = torch.randn(32, 10, dtype=F64, generator=generator)
    shift = torch.randn(32, 3, dtype=F64, generator=generator)
    batched = model(pose, betas, shift)
    for i in range(32):
        single = model(pose[i : i + 1], betas[i : i + 1], shift[i : i + 1])
        torch.testing.assert_close(batched.vertices[i], single.vertices[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(batched.joints[i], single.joints[0], rtol=0, atol=1e-12)


def test_h36m_joints_are_regressed_from_the_posed_mesh(model: SMPLModel, data: SMPLData) -> None:
    pose = torch.randn(2, 24, 3, dtype=F64, generator=torch.Generator().manual_seed(4)) * 0.5
    out = model(pose)
    assert out.joints_h36m is not None and out.joints_h36m.shape == (2, 17, 3)
    torch.testing.assert_close(out.joints_h36m, torch.as_tensor(data.J_regressor_h36m) @ out.vertices)


def test_camera_frame_conversion_is_exactly_the_rotated_body(model: SMPLModel) -> None:
    generator = torch.Generator().manual_seed(5)
    pose = torch.randn(3, 24, 3, dtype=F64, generator=generator) * 0.5
    betas = torch.randn(3, 10, dtype=F64, generator=generator)
    shift = torch.randn(3, 3, dtype=F64, generator=generator)
    in_y_up = model(pose, betas, shift)
    converted = model.to_camera_frame(pose, betas, shift)
    in_camera = model(converted.rotation_matrices, betas, converted.translation)
    rotation = Y_UP_TO_OPTICAL.to(F64)
    torch.testing.assert_close(in_camera.vertices, in_y_up.vertices @ rotation.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(in_camera.joints, in_y_up.joints @ rotation.T, rtol=0, atol=1e-12)

    # the zero-pose body stands upright in the optical frame: head above the pelvis means smaller y
    upright = smpl_to_camera_frame(
        pose_to_rotation_matrices(torch.zeros(1, 24, 3, dtype=F64)), torch.zeros(1, 3, dtype=F64),
        model.rest_joints()[:, 0],
    )  # fmt: skip
    joints = model(upright.rotation_matrices, translation=upright.translation).joints[0]
    assert joints[15, 1] < joints[0, 1]  # head (15) is up = -y
    assert joints[16, 0] > joints[17, 0]  # the body's left shoulder is on the image's right (+x)


def test_gradients_flow_to_pose_and_shape(model: SMPLModel) -> None:
    rot6d = torch.randn(2, 24, 6, dtype=F64, requires_grad=True)
    betas = torch.zeros(2, 10, dtype=F64, requires_grad=True)
    out = model(rot6d, betas)
    (out.vertices.square().sum() + out.joints.sum()).backward()
    assert rot6d.grad is not None and torch.isfinite(rot6d.grad).all() and rot6d.grad.abs().sum() > 0
    assert betas.grad is not None and betas.grad.abs().sum() > 0


def test_kinematic_levels_order_parents_before_children() -> None:
    levels = kinematic_levels(torch.as_tensor(SMPL_PARENTS))
    level_of = {int(j): i for i, level in enumerate(levels) for j in level}
    assert sorted(level_of) == list(range(24))
    assert all(level_of[int(SMPL_PARENTS[j])] == level_of[j] - 1 for j in range(1, 24))


def test_from_file_equals_from_data(tmp_path: Path, data: SMPLData, model: SMPLModel) -> None:
    path = save_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.pkl", data=data, chumpy_arrays=True)
    from_file = SMPLModel.from_file(tmp_path, gender="neutral", dtype=F64)
    pose = torch.randn(2, 24, 3, dtype=F64, generator=torch.Generator().manual_seed(6)) * 0.5
    assert path.exists() and from_file.num_vertices == 400
    torch.testing.assert_close(from_file(pose).vertices, model(pose).vertices, rtol=0, atol=0)
    assert from_file.state_dict() == {}  # the licensed body model never lands in a checkpoint


def test_synthetic_model_is_a_consistent_body(data: SMPLData) -> None:
    weights = data.weights
    assert (weights >= 0).all() and np.allclose(weights.sum(axis=1), 1.0)
    assert ((weights > 0).sum(axis=1) <= 3).all()  # sparse, like SMPL's
    assert np.allclose(data.J_regressor.sum(axis=1), 1.0)
    faces = data.faces
    assert faces.min() >= 0 and faces.max() < data.num_vertices
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
    assert (faces[:, 0] != faces[:, 2]).all()
    # every vertex lies near a joint it is skinned to
    distances = np.linalg.norm(data.v_template[:, None, :] - REST_JOINTS[None], axis=-1)
    nearest_skinned = np.where(weights > 0, distances, np.inf).min(axis=1)
    assert nearest_skinned.max() < 0.3
    again = make_synthetic_smpl(num_vertices=400, seed=11)
    np.testing.assert_array_equal(again.v_template, data.v_template)
    assert not np.array_equal(make_synthetic_smpl(num_vertices=400, seed=12).v_template, data.v_template)
