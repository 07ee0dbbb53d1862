"""Batched rotation conversions in torch (axis-angle, rotation matrices, 6D).

The 6D representation (Zhou et al., CVPR 2019) follows the convention of SPIN-derived code:
the 6 numbers are read as a 3x2 matrix whose *columns* are the first two columns of the
rotation matrix before Gram-Schmidt (interleaved). EventHPE lays them out differently (column
1, then column 2); ``hpe_ros.models.eventhpe`` handles that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def axis_angle_to_matrix(axis_angle: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Rodrigues' formula: (..., 3) axis-angle vectors (radians) -> (..., 3, 3) matrices."""
    angle = torch.linalg.vector_norm(axis_angle, dim=-1, keepdim=True)  # (..., 1)
    axis = axis_angle / angle.clamp_min(eps)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis.shape[:-1], 3, 3)
    sin = torch.sin(angle)[..., None]
    cos = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + sin * skew + (1.0 - cos) * (skew @ skew)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, stable near 0 and pi."""
    quat = matrix_to_quaternion(matrix)
    return quaternion_to_axis_angle(quat)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # four candidate forms; pick per element the one with the largest, best-conditioned root
    candidates_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    roots = torch.sqrt(candidates_sq.clamp_min(1e-12)) * 0.5  # |w|, |x|, |y|, |z|
    w_form = torch.stack(
        [
            roots[..., 0],
            (m[..., 2, 1] - m[..., 1, 2]),
            (m[..., 0, 2] - m[..., 2, 0]),
            (m[..., 1, 0] - m[..., 0, 1]),
        ],
        dim=-1,
    )
    x_form = torch.stack(
        [
            (m[..., 2, 1] - m[..., 1, 2]),
            roots[..., 1],
            (m[..., 0, 1] + m[..., 1, 0]),
            (m[..., 0, 2] + m[..., 2, 0]),
        ],
        dim=-1,
    )
    y_form = torch.stack(
        [
            (m[..., 0, 2] - m[..., 2, 0]),
            (m[..., 0, 1] + m[..., 1, 0]),
            roots[..., 2],
            (m[..., 1, 2] + m[..., 2, 1]),
        ],
        dim=-1,
    )
    z_form = torch.stack(
        [
            (m[..., 1, 0] - m[..., 0, 1]),
            (m[..., 0, 2] + m[..., 2, 0]),
            (m[..., 1, 2] + m[..., 2, 1]),
            roots[..., 3],
        ],
        dim=-1,
    )
    # off-diagonal entries of each form are 4 * root * component; divide by 4 * root
    forms = torch.stack([w_form, x_form, y_form, z_form], dim=-2)  # (..., 4, 4)
    scale = torch.stack(
        [
            torch.stack(
                [torch.ones_like(roots[..., 0]), 4 * roots[..., 0], 4 * roots[..., 0], 4 * roots[..., 0]], -1
            ),
            torch.stack(
                [4 * roots[..., 1], torch.ones_like(roots[..., 1]), 4 * roots[..., 1], 4 * roots[..., 1]], -1
            ),
            torch.stack(
                [4 * roots[..., 2], 4 * roots[..., 2], torch.ones_like(roots[..., 2]), 4 * roots[..., 2]], -1
            ),
            torch.stack(
                [4 * roots[..., 3], 4 * roots[..., 3], 4 * roots[..., 3], torch.ones_like(roots[..., 3])], -1
            ),
        ],
        dim=-2,
    )
    quats = forms / scale
    best = candidates_sq.argmax(dim=-1)
    quat = torch.gather(quats, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = F.normalize(quat, dim=-1)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def quaternion_to_axis_angle(quat: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle."""
    xyz = quat[..., 1:]
    sin_half = torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    half = torch.atan2(sin_half, quat[..., :1])
    angle = 2.0 * half
    # angle / sin(half) -> 2 as the angle -> 0
    small = sin_half < 1e-6
    factor = torch.where(small, 2.0 + angle**2 / 12.0, angle / sin_half.clamp_min(1e-12))
    return xyz * factor


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3): Gram-Schmidt on the two columns of the (3, 2) reshaped input."""
    cols = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    b1 = F.normalize(cols[..., 0], dim=-1)
    a2 = cols[..., 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, laid out as ``rot6d_to_matrix`` reads them."""
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)
