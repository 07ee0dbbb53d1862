import math

import pytest
import torch

from hpe_ros.models.eventhpe import ShapeNetOutput
from hpe_ros.models.rotations import axis_angle_to_matrix
from hpe_ros.training.eventhpe_losses import (
    CHARBONNIER_ALPHA,
    CHARBONNIER_EPS,
    ShapeNetLossWeights,
    ShapeNetTargets,
    charbonnier,
    flow_coherence_loss,
    flownet_losses,
    geodesic_rotation_loss,
    photometric_loss,
    project_to_pixels,
    shapenet_losses,
    smoothness_loss,
    warp_backward,
)


def _smooth_image(height: int = 32, width: int = 40) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                            torch.arange(width, dtype=torch.float32), indexing="ij")
    return (128 + 60 * torch.sin(xs / 3.0) + 50 * torch.cos(ys / 4.0))[None, None]


def test_charbonnier_of_zero_is_eps_to_twice_alpha() -> None:
    value = charbonnier(torch.zeros(3, 4))
    assert value.item() == pytest.approx(CHARBONNIER_EPS ** (2 * CHARBONNIER_ALPHA), rel=1e-5)
    assert charbonnier(torch.full((2,), 10.0)).item() == pytest.approx((100 + 1e-6) ** 0.45, rel=1e-5)


def test_warp_reads_half_a_pixel_before_p_plus_flow() -> None:
    # official convention: pixel p samples the image at p + flow - 0.5, so a flow of k + 0.5
    # reads exactly k pixels to the right (and 0.5 vertically reads the same row)
    image = _smooth_image()
    flow = torch.zeros(1, 2, 32, 40)
    flow[:, 0] = 2.5
    flow[:, 1] = 0.5
    warped = warp_backward(image, flow)
    assert torch.allclose(warped[..., :, :-3], image[..., :, 2:-1], atol=1e-4)
    assert torch.all(warped[..., :, -1] < image[..., :, -1])  # outside the image reads zeros (partly)


def test_photometric_loss_is_smallest_for_the_true_motion() -> None:
    image1 = _smooth_image()
    image2 = torch.roll(image1, shifts=3, dims=-1)  # content moves 3 px to the right
    def loss_for(shift_x: float) -> float:
        flow = torch.zeros(1, 2, 32, 40)
        flow[:, 0] = shift_x
        flow[:, 1] = 0.5
        return photometric_loss([flow], image1, image2).item()

    losses = {shift: loss_for(shift) for shift in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)}
    assert min(losses, key=losses.get) == 3.5


def test_photometric_loss_averages_over_the_pyramid() -> None:
    image1, image2 = _smooth_image(), torch.roll(_smooth_image(), 2, dims=-2)
    coarse, fine = torch.randn(1, 2, 16, 20), torch.randn(1, 2, 32, 40)
    both = photometric_loss([coarse, fine], image1, image2)
    separate = (photometric_loss([coarse], image1, image2) + photometric_loss([fine], image1, image2)) / 2
    assert both.item() == pytest.approx(separate.item(), rel=1e-6)


def test_smoothness_is_minimal_for_a_constant_flow() -> None:
    constant = torch.full((1, 2, 16, 16), 5.0)
    noisy = constant + torch.randn_like(constant)
    floor = CHARBONNIER_EPS ** (2 * CHARBONNIER_ALPHA)
    assert smoothness_loss([constant]).item() == pytest.approx(floor, rel=1e-5)
    assert smoothness_loss([noisy]).item() > 10 * floor


def test_flownet_total_weights_smoothness_by_half() -> None:
    image1, image2 = _smooth_image(), _smooth_image() * 0.9
    flows = [torch.randn(1, 2, 16, 20), torch.randn(1, 2, 32, 40)]
    losses = flownet_losses(flows, image1, image2)
    assert losses.total.item() == pytest.approx(
        losses.photometric.item() + 0.5 * losses.smoothness.item(), rel=1e-6
    )


INTRINSICS = torch.tensor([100.0, 100.0, 32.0, 32.0])


def _moving_vertices(motion_px: tuple[float, float], steps: int = 2) -> torch.Tensor:
    """(1, steps + 1, V, 3) points at depth 5 m whose projections move by ``motion_px`` per step."""
    gen = torch.Generator().manual_seed(0)
    start = torch.cat([torch.rand(50, 2, generator=gen) * 0.8 - 0.4, torch.full((50, 1), 5.0)], dim=1)
    step = torch.tensor([motion_px[0], motion_px[1], 0.0]) * 5.0 / 100.0  # pixels -> metres at depth 5
    return torch.stack([start + k * step for k in range(steps + 1)])[None]


def test_flow_coherence_zero_when_vertices_follow_the_flow_and_two_when_opposite() -> None:
    vertices = _moving_vertices((6.0, -2.0))
    along = torch.zeros(1, 2, 2, 64, 64)
    along[:, :, 0], along[:, :, 1] = 6.0, -2.0
    assert flow_coherence_loss(vertices, along, INTRINSICS).item() == pytest.approx(0.0, abs=1e-5)
    assert flow_coherence_loss(vertices, -along, INTRINSICS).item() == pytest.approx(2.0, abs=1e-5)
    # perpendicular image flow: cosine 0
    across = torch.zeros(1, 2, 2, 64, 64)
    across[:, :, 0], across[:, :, 1] = 2.0, 6.0
    assert flow_coherence_loss(vertices, across, INTRINSICS).item() == pytest.approx(1.0, abs=1e-5)


def test_flow_coherence_ignores_small_flow_and_only_moves_vertices() -> None:
    vertices = _moving_vertices((6.0, 0.0)).requires_grad_(True)
    small = torch.zeros(1, 2, 2, 64, 64)
    small[:, :, 0] = -3.9  # below the 4 px threshold: ignored
    assert flow_coherence_loss(vertices, small, INTRINSICS).item() == 0.0
    opposite = -4.5 * torch.ones(1, 2, 2, 64, 64)
    loss = flow_coherence_loss(vertices, opposite, INTRINSICS)
    loss.backward()
    assert vertices.grad is not None and vertices.grad.abs().sum() > 0


def test_projection_matches_the_pinhole_model() -> None:
    pixels = project_to_pixels(torch.tensor([[0.5, -0.25, 2.0]]), INTRINSICS)
    assert torch.allclose(pixels, torch.tensor([[32 + 25.0, 32 - 12.5]]))


def test_geodesic_loss_is_the_rotation_angle() -> None:
    angle = 0.7
    r1 = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 0.2]]))
    r2 = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 0.2 + angle]]))
    assert geodesic_rotation_loss(r1, r2).item() == pytest.approx(angle, rel=1e-4)
    # float32 clamp
    assert geodesic_rotation_loss(r1, r1).item() == pytest.approx(math.acos(1 - 1e-6), rel=3e-2)


def _output_and_targets(steps: int = 3) -> tuple[ShapeNetOutput, ShapeNetTargets]:
    gen = torch.Generator().manual_seed(1)
    pose = 0.3 * torch.randn(1, steps, 72, generator=gen)
    translation = torch.randn(1, steps, 3, generator=gen) + torch.tensor([0, 0, 4.0])
    joints = torch.randn(1, steps, 24, 3, generator=gen)
    joints_2d = torch.rand(1, steps, 24, 2, generator=gen)
    output = ShapeNetOutput(
        rotmats=axis_angle_to_matrix(pose.reshape(1, steps, 24, 3)),
        translation=translation.clone(),
        delta_translation=torch.zeros(1, steps, 3),
        betas=torch.zeros(1, steps, 10),
        vertices=torch.randn(1, steps, 30, 3, generator=gen),
        joints=joints.clone(),
        initial_vertices=torch.randn(1, 30, 3, generator=gen),
        joints_2d=joints_2d.clone(),
    )
    return output, ShapeNetTargets(pose, translation, joints, joints_2d)


def test_shapenet_losses_near_zero_for_a_perfect_prediction_and_weighted() -> None:
    output, targets = _output_and_targets()
    perfect = shapenet_losses(output, targets)
    assert (perfect.translation.item() == 0.0 and perfect.joints.item() == 0.0
            and perfect.joints_2d.item() == 0.0)
    assert perfect.rotation.item() < 10 * 2e-3  # only the acos clamp remains
    output.translation = output.translation + 0.1
    output.joints = output.joints + 0.2
    output.joints_2d = output.joints_2d + 0.05  # clamped to [0, 1] before the MSE
    shifted = shapenet_losses(output, targets)
    assert shifted.translation.item() == pytest.approx(0.01, rel=1e-4)
    assert shifted.joints.item() == pytest.approx(0.04, rel=1e-4)
    expected_2d = 10 * torch.mean((output.joints_2d.clamp(0, 1) - targets.joints_2d) ** 2).item()
    assert shifted.joints_2d.item() == pytest.approx(expected_2d, rel=1e-5)
    off = shapenet_losses(output, targets, weights=ShapeNetLossWeights(joints=0.0, joints_2d=0.0))
    assert off.joints.item() == 0.0 and off.joints_2d.item() == 0.0
    assert shifted.total.item() == pytest.approx(
        sum(v for k, v in shifted.as_floats().items() if k != "total"), rel=1e-6
    )


def test_shapenet_flow_term_needs_flows_and_camera() -> None:
    output, targets = _output_and_targets(steps=2)
    vertices = _moving_vertices((6.0, 0.0), steps=2)
    output.initial_vertices, output.vertices = vertices[:, 0], vertices[:, 1:]
    flows = torch.zeros(1, 2, 2, 64, 64)
    flows[:, :, 0] = -6.0
    assert shapenet_losses(output, targets).flow.item() == 0.0
    with_flow = shapenet_losses(output, targets, flows=flows, intrinsics=INTRINSICS)
    assert with_flow.flow.item() == pytest.approx(0.1 * 2.0, rel=1e-4)
