import math

import pytest
import torch

from hpe_ros.models import create_model, list_models
from hpe_ros.models.eventhpe import (
    EventFlowNet,
    EventShapeNet,
    SMPLInitialState,
    compose_delta_rotations,
    contiguous_rot6d_to_matrix,
    matrix_to_contiguous_rot6d,
)
from hpe_ros.models.rotations import axis_angle_to_matrix
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl

# ------------------------------------------------------------------------------------------ FlowNet

FLOWNET_SHAPES = {
    "encoders.0.conv1.weight": (32, 8, 3, 3),
    "encoders.3.conv2.weight": (256, 256, 3, 3),
    "bottleneck.conv1.weight": (256, 256, 3, 3),  # stride-1 transposed conv: (in, out, k, k)
    "decoders.0.conv1.weight": (512, 128, 3, 3),
    "decoders.1.conv1.weight": (258, 64, 3, 3),  # 128 features + 128 skip + 2 flow
    "decoders.3.conv1.weight": (66, 16, 3, 3),
    "decoders.3.bn2.running_var": (16,),
    "flow_heads.0.weight": (2, 128, 1, 1),
    "flow_heads.3.weight": (2, 16, 1, 1),
}


def test_flownet_is_registered_and_has_the_official_layer_shapes() -> None:
    assert {"eventhpe_flownet", "eventhpe_shapenet"} <= set(list_models())
    state = create_model("eventhpe_flownet").state_dict()
    for key, shape in FLOWNET_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(key.endswith(".bias") and "bn" not in key for key in state)  # convs without bias
    assert len(state) == 4 * 12 + 12 + 4 * 12 + 4


def test_flownet_pyramid_shapes_bounds_and_dt_scaling() -> None:
    torch.manual_seed(0)
    model = EventFlowNet().eval()
    events = (torch.rand(2, 8, 64, 48) > 0.7).float()
    with torch.no_grad():
        out = model(events, torch.tensor([1.0, 1.0]))
        slower = model(events, torch.tensor([1.0, 2.0]))
    assert [tuple(f.shape) for f in out.flows] == [
        (2, 2, 8, 6), (2, 2, 16, 12), (2, 2, 32, 24), (2, 2, 64, 48)
    ]
    assert out.flow is out.flows[-1]
    # tanh output scaled by the input height (64) for every level
    assert all(f.abs().max() <= 64 for f in out.flows)
    assert torch.allclose(slower.flow[0], out.flow[0]) and torch.allclose(slower.flow[1], out.flow[1] / 2)


def test_flownet_trains_end_to_end() -> None:
    model = EventFlowNet(in_channels=2, base_channels=4)
    events = torch.rand(1, 2, 32, 32)
    sum(f.square().mean() for f in model(events).flows).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


# --------------------------------------------------------------------------------------- rotations


def test_contiguous_rot6d_layout_and_round_trip() -> None:
    # first three numbers = first column, next three = second column
    rot = contiguous_rot6d_to_matrix(torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0, 0.0]))
    assert torch.allclose(rot, torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    matrices = axis_angle_to_matrix(torch.randn(20, 3))
    assert torch.allclose(
        contiguous_rot6d_to_matrix(matrix_to_contiguous_rot6d(matrices)), matrices, atol=1e-5
    )
    # Gram-Schmidt: a non-orthogonal, non-unit input still gives a rotation
    out = contiguous_rot6d_to_matrix(torch.randn(50, 6))
    assert torch.allclose(out @ out.transpose(-1, -2), torch.eye(3).expand(50, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(out), torch.ones(50), atol=1e-5)


def test_delta_rotations_compose_left_to_right_over_time() -> None:
    initial = axis_angle_to_matrix(torch.randn(2, 24, 3))
    deltas = axis_angle_to_matrix(0.2 * torch.randn(2, 3, 24, 3))
    out = compose_delta_rotations(initial, deltas)
    expected = deltas[:, 2] @ deltas[:, 1] @ deltas[:, 0] @ initial
    assert out.shape == (2, 3, 24, 3, 3)
    assert torch.allclose(out[:, 2], expected, atol=1e-5)
    # the same rotation about z three times adds up the angles
    z = axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.1])).expand(1, 3, 1, 3, 3)
    total = compose_delta_rotations(torch.eye(3).expand(1, 1, 3, 3), z)[0, -1, 0]
    assert torch.allclose(total, axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.3])), atol=1e-6)


# ---------------------------------------------------------------------------------------- ShapeNet

CAMERA = (100.0, 100.0, 32.0, 32.0)


@pytest.fixture(scope="module")
def smpl() -> SMPLModel:
    return SMPLModel(make_synthetic_smpl(num_vertices=300, seed=0))


def _initial_state(batch: int) -> SMPLInitialState:
    gen = torch.Generator().manual_seed(3)
    return SMPLInitialState(
        translation=torch.tensor([0.0, 0.2, 4.0]).repeat(batch, 1),
        pose=0.2 * torch.randn(batch, 72, generator=gen),
        betas=0.5 * torch.randn(batch, 10, generator=gen),
    )


def test_shapenet_layer_shapes(smpl: SMPLModel) -> None:
    model = EventShapeNet(smpl)
    state = model.state_dict()
    assert tuple(state["encoder.conv1.weight"].shape) == (64, 10, 7, 7)  # 8 event frames + 2 flow
    assert tuple(state["encoder.layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert not any(key.startswith("encoder.fc") for key in state)
    assert tuple(state["temporal.gru.weight_hh_l0"].shape) == (3 * 2048, 2048)
    assert tuple(state["pose_head.weight"].shape) == (144, 2048)
    assert tuple(state["translation_head.weight"].shape) == (3, 2048)
    assert not any(key.startswith("smpl.") for key in state)  # the body model is not a network weight
    without_flow = EventShapeNet(smpl, use_flow=False).state_dict()
    assert tuple(without_flow["encoder.conv1.weight"].shape) == (64, 8, 7, 7)


def test_shapenet_with_zero_heads_keeps_the_initial_state(smpl: SMPLModel) -> None:
    torch.manual_seed(0)
    model = EventShapeNet(smpl, camera_intrinsics=CAMERA).eval()
    with torch.no_grad():
        model.pose_head.weight.zero_()
        model.pose_head.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]).repeat(24))  # identity deltas
        model.translation_head.weight.zero_()
        model.translation_head.bias.copy_(torch.tensor([0.01, 0.0, -0.02]))
    initial = _initial_state(2)
    events = (torch.rand(2, 3, 8, 64, 64) > 0.8).float()
    with torch.no_grad():
        out = model(events, initial, flows=torch.randn(2, 3, 2, 64, 64))
    rest = smpl(pose=initial.pose, betas=initial.betas)
    assert out.rotmats.shape == (2, 3, 24, 3, 3) and out.vertices.shape == (2, 3, 300, 3)
    for step in range(3):
        assert torch.allclose(
            out.rotmats[:, step], axis_angle_to_matrix(initial.pose.reshape(2, 24, 3)), atol=1e-6
        )
        shift = initial.translation + (step + 1) * torch.tensor([0.01, 0.0, -0.02])
        assert torch.allclose(out.translation[:, step], shift, atol=1e-6)
        assert torch.allclose(out.joints[:, step], rest.joints + shift[:, None], atol=1e-5)
        assert torch.allclose(out.vertices[:, step], rest.vertices + shift[:, None], atol=1e-5)
    assert torch.allclose(out.initial_vertices, rest.vertices + initial.translation[:, None], atol=1e-5)
    assert out.vertices_with_initial.shape == (2, 4, 300, 3)
    assert torch.allclose(out.betas, initial.betas[:, None].expand(2, 3, 10))
    # joints_2d: pinhole projection divided by the input size
    j = out.joints[0, 0, 5]
    expected = torch.stack([(j[0] / j[2] * 100 + 32) / 64, (j[1] / j[2] * 100 + 32) / 64])
    assert torch.allclose(out.joints_2d[0, 0, 5], expected, atol=1e-6)


def test_shapenet_translation_reaches_joints_without_gradient(smpl: SMPLModel) -> None:
    model = EventShapeNet(smpl, use_flow=False)
    out = model(torch.rand(1, 2, 8, 32, 32), _initial_state(1))
    heads = [model.pose_head.weight, model.translation_head.weight]
    pose_grad, translation_grad = torch.autograd.grad(out.joints.sum(), heads, allow_unused=True)
    assert translation_grad is None and pose_grad.abs().sum() > 0
    (translation_grad,) = torch.autograd.grad(out.translation.sum(), [model.translation_head.weight])
    assert translation_grad.abs().sum() > 0


def test_shapenet_requires_flow_when_built_with_it(smpl: SMPLModel) -> None:
    model = EventShapeNet(smpl)
    with pytest.raises(ValueError, match="flows"):
        model(torch.rand(1, 1, 8, 32, 32), _initial_state(1))


def test_packed_initial_state_round_trip() -> None:
    packed = torch.randn(3, 1, 85)
    state = SMPLInitialState.from_packed(packed)
    assert state.translation.shape == (3, 3) and state.pose.shape == (3, 72) and state.betas.shape == (3, 10)
    assert torch.equal(state.packed(), packed[:, 0])
    with pytest.raises(ValueError):
        SMPLInitialState.from_packed(torch.randn(2, 84))


def test_registered_shapenet_defaults_to_the_synthetic_body() -> None:
    model = create_model("eventhpe_shapenet", use_flow=False)
    assert isinstance(model, EventShapeNet) and model.smpl.num_vertices == 6890
    assert math.isclose(float(model.encoder.conv1.weight.shape[1]), 8)
