import math

import torch

from hpe_ros.models.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
)


def _random_axis_angle(n: int, max_angle: float = math.pi * 0.999) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=gen, dtype=torch.float64) * max_angle
    return axis * angle


def test_axis_angle_matrix_is_a_rotation_about_the_axis() -> None:
    aa = torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=torch.float64)
    rot = axis_angle_to_matrix(aa)[0]
    # +90 degrees about z maps x to y
    assert torch.allclose(rot @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
                          torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)


def test_round_trip_axis_angle_including_near_zero_and_near_pi() -> None:
    aa = torch.cat([_random_axis_angle(500), torch.tensor([[1e-9, 0, 0], [0, 0, 0], [0, math.pi - 1e-4, 0]],
                                                          dtype=torch.float64)])
    rot = axis_angle_to_matrix(aa)
    back = matrix_to_axis_angle(rot)
    assert torch.allclose(axis_angle_to_matrix(back), rot, atol=1e-9)
    assert torch.allclose(back[:500], aa[:500], atol=1e-7)


def test_rot6d_round_trip_and_orthonormal_output() -> None:
    rot = axis_angle_to_matrix(_random_axis_angle(100))
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(rot)), rot, atol=1e-12)
    noisy = rot6d_to_matrix(matrix_to_rot6d(rot) + 0.1 * torch.randn(100, 6, dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    assert torch.allclose(noisy.transpose(-1, -2) @ noisy, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(noisy), torch.ones(100, dtype=torch.float64), atol=1e-12)
