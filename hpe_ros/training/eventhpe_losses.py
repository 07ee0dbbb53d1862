"""EventHPE training losses, as the official code computes them.

FlowNet (unsupervised): a photometric loss (the second gray frame warped back by the flow,
compared to the first) plus a smoothness loss, both robust Charbonnier
(``(x^2 + eps^2)^alpha``, alpha 0.45, eps 1e-3), averaged over the flow pyramid; total
``photometric + 0.5 * smoothness``. Gray frames are in 0..255.

ShapeNet (supervised + flow coherence), with the official training weights:
translation MSE x1, geodesic rotation loss x10, 3D joints MSE x1, 2D joints MSE x10 (predicted
joints clamped to [0, 1]), flow coherence x0.1, delta-translation magnitude x0 (off).
The flow-coherence loss compares the image motion of every SMPL vertex (projected at t and
t-1) with the FlowNet flow sampled at the vertex's projection at t-1: ``1 - cos`` where the
sampled flow is longer than 4 px, zero elsewhere, averaged over all vertices and steps.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F  # noqa: N812

from hpe_ros.models.eventhpe import ShapeNetOutput
from hpe_ros.models.rotations import axis_angle_to_matrix

CHARBONNIER_ALPHA = 0.45
CHARBONNIER_EPS = 1e-3
SMOOTHNESS_WEIGHT = 0.5
FLOW_COHERENCE_MIN_FLOW = 4.0  # pixels: vertices where FlowNet sees less motion are ignored
GEODESIC_EPS = 1e-6


# --------------------------------------------------------------------------------------------------
# FlowNet
# --------------------------------------------------------------------------------------------------


def charbonnier(
    delta: torch.Tensor, alpha: float = CHARBONNIER_ALPHA, eps: float = CHARBONNIER_EPS
) -> torch.Tensor:
    """Mean robust Charbonnier penalty ``(delta^2 + eps^2)^alpha``."""
    return (delta * delta + eps * eps).pow(alpha).mean()


def warp_backward(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (B, C, H, W) at ``p + flow(p)`` for every pixel p (bilinear, zeros outside).

    Pixel p = (x, y) maps to the normalised coordinate ``2 p / size - 1`` sampled with
    ``align_corners=False``, exactly as the official code: this reads the image half a pixel up and
    left of ``p + flow`` (a constant shift the network is trained with).
    """
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=flow.dtype, device=flow.device),
        torch.arange(width, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    x = 2.0 * (xs + flow[:, 0]) / width - 1.0
    y = 2.0 * (ys + flow[:, 1]) / height - 1.0
    grid = torch.stack([x, y], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def photometric_loss(flows: list[torch.Tensor], image1: torch.Tensor, image2: torch.Tensor) -> torch.Tensor:
    """Charbonnier of ``image1 - warp(image2, flow)`` at every pyramid level (images resized), averaged."""
    total = image1.new_zeros(())
    for flow in flows:
        size = flow.shape[-2:]
        previous = F.interpolate(image1, size=size, mode="bilinear", align_corners=False)
        current = F.interpolate(image2, size=size, mode="bilinear", align_corners=False)
        total = total + charbonnier(previous - warp_backward(current, flow))
    return total / len(flows)


def smoothness_loss(flows: list[torch.Tensor]) -> torch.Tensor:
    """Charbonnier of flow differences to the 4 neighbour directions (-, |, \\, /), averaged."""
    total = flows[0].new_zeros(())
    for flow in flows:
        horizontal = flow[..., :, 1:] - flow[..., :, :-1]
        vertical = flow[..., 1:, :] - flow[..., :-1, :]
        diagonal = flow[..., 1:, 1:] - flow[..., :-1, :-1]
        anti_diagonal = flow[..., :-1, 1:] - flow[..., 1:, :-1]
        level = sum(charbonnier(d) for d in (horizontal, vertical, diagonal, anti_diagonal))
        total = total + level / 4.0
    return total / len(flows)


@dataclass
class FlowNetLosses:
    """FlowNet loss terms; ``total`` is what is minimised."""

    total: torch.Tensor
    photometric: torch.Tensor
    smoothness: torch.Tensor


def flownet_losses(
    flows: list[torch.Tensor],
    image1: torch.Tensor,
    image2: torch.Tensor,
    smoothness_weight: float = SMOOTHNESS_WEIGHT,
) -> FlowNetLosses:
    """FlowNet's unsupervised loss for the flow pyramid between gray frames (B, 1, H, W) in 0..255."""
    photometric = photometric_loss(flows, image1, image2)
    smoothness = smoothness_loss(flows)
    return FlowNetLosses(photometric + smoothness_weight * smoothness, photometric, smoothness)


# --------------------------------------------------------------------------------------------------
# ShapeNet
# --------------------------------------------------------------------------------------------------


def project_to_pixels(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(..., 3) camera-frame points -> (..., 2) pixels with (fx, fy, cx, cy); no depth clamping."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    return torch.stack(
        [points[..., 0] / points[..., 2] * fx + cx, points[..., 1] / points[..., 2] * fy + cy], dim=-1
    )


def flow_coherence_loss(
    vertices: torch.Tensor,
    flows: torch.Tensor,
    intrinsics: torch.Tensor,
    min_flow: float = FLOW_COHERENCE_MIN_FLOW,
) -> torch.Tensor:
    """Shape-based vs image-based flow.

    Args:
        vertices: (B, T + 1, V, 3) mesh vertices in the camera frame, the initial state first.
        flows: (B, T, 2, H, W) FlowNet flow of each step, in pixels of the H x W input.
        intrinsics: (4,) fx, fy, cx, cy in pixels of the same input.
    """
    batch, steps, _, height, width = flows.shape
    pixels = project_to_pixels(vertices, intrinsics)  # (B, T + 1, V, 2)
    vertex_flow = pixels[:, 1:] - pixels[:, :-1]
    size = torch.tensor([width, height], dtype=pixels.dtype, device=pixels.device)
    # same normalisation as the official code (2 p / size - 1, align_corners=False); no gradient
    # flows through the sampling position
    grid = (2.0 * pixels[:, :-1].detach() / size - 1.0).reshape(batch * steps, 1, -1, 2)
    sampled = F.grid_sample(
        flows.reshape(batch * steps, 2, height, width), grid, mode="bilinear", padding_mode="zeros",
        align_corners=False,
    )  # (B*T, 2, 1, V)
    sampled = sampled[:, :, 0].transpose(1, 2).reshape(batch, steps, -1, 2)
    valid = torch.linalg.vector_norm(sampled, dim=-1) > min_flow
    return (valid * (1.0 - F.cosine_similarity(vertex_flow, sampled, dim=-1))).mean()


def geodesic_rotation_loss(
    predicted: torch.Tensor, target: torch.Tensor, eps: float = GEODESIC_EPS
) -> torch.Tensor:
    """Mean rotation angle (radians) between (..., 3, 3) matrices, acos argument clamped by ``eps``."""
    trace = (predicted * target).sum(dim=(-2, -1))  # trace(R1 R2^T)
    return torch.acos(torch.clamp(0.5 * (trace - 1.0), -1.0 + eps, 1.0 - eps)).mean()


@dataclass
class ShapeNetTargets:
    """Ground truth of a clip of T steps (the official dataloader's ``theta, tran, joints3d, joints2d``)."""

    pose: torch.Tensor  # (B, T, 72) axis-angle
    translation: torch.Tensor  # (B, T, 3) metres
    joints: torch.Tensor  # (B, T, 24, 3) metres, translation included
    joints_2d: torch.Tensor | None = None  # (B, T, 24, 2) pixels / input size, in [0, 1]


@dataclass(frozen=True)
class ShapeNetLossWeights:
    """Weights of the official training script's defaults (``event_pose_estimation/train.py``)."""

    delta_translation: float = 0.0
    translation: float = 1.0
    rotation: float = 10.0
    joints: float = 1.0
    joints_2d: float = 10.0
    flow: float = 0.1
    geodesic: bool = True  # False: MSE on rotation matrices


@dataclass
class ShapeNetLosses:
    """Weighted ShapeNet loss terms (zero where the weight or the input is absent)."""

    total: torch.Tensor
    delta_translation: torch.Tensor
    translation: torch.Tensor
    rotation: torch.Tensor
    joints: torch.Tensor
    joints_2d: torch.Tensor
    flow: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name).detach()) for f in fields(self)}


def shapenet_losses(
    output: ShapeNetOutput,
    targets: ShapeNetTargets,
    flows: torch.Tensor | None = None,
    intrinsics: torch.Tensor | None = None,
    weights: ShapeNetLossWeights | None = None,
) -> ShapeNetLosses:
    """ShapeNet's supervised + flow-coherence loss.

    ``flows`` (B, T, 2, H, W) and ``intrinsics`` (fx, fy, cx, cy) enable the flow-coherence term;
    ``output.joints_2d`` and ``targets.joints_2d`` the 2D term.
    """
    weights = weights or ShapeNetLossWeights()
    zero = output.translation.new_zeros(())
    delta_translation = translation = rotation = joints = joints_2d = flow = zero
    if weights.delta_translation > 0:
        delta_translation = weights.delta_translation * output.delta_translation.pow(2).mean()
    if weights.translation > 0:
        translation = weights.translation * F.mse_loss(output.translation, targets.translation)
    if weights.rotation > 0:
        target_rotmats = axis_angle_to_matrix(targets.pose.reshape(*targets.pose.shape[:2], -1, 3))
        if weights.geodesic:
            rotation = geodesic_rotation_loss(output.rotmats, target_rotmats)
        else:
            rotation = F.mse_loss(output.rotmats, target_rotmats)
        rotation = weights.rotation * rotation
    if weights.joints > 0:
        joints = weights.joints * F.mse_loss(output.joints, targets.joints)
    if weights.joints_2d > 0 and output.joints_2d is not None and targets.joints_2d is not None:
        joints_2d = weights.joints_2d * F.mse_loss(output.joints_2d.clamp(0.0, 1.0), targets.joints_2d)
    if weights.flow > 0 and flows is not None and intrinsics is not None:
        flow = weights.flow * flow_coherence_loss(output.vertices_with_initial, flows, intrinsics)
    total = delta_translation + translation + rotation + joints + joints_2d + flow
    return ShapeNetLosses(total, delta_translation, translation, rotation, joints, joints_2d, flow)
