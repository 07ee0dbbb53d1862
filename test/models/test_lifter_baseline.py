"""Coordinate-only lifter: sizes, shapes, and that a small one learns a few poses."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models import create_model


def test_default_and_configured_sizes():
    default = create_model("capf_baseline")
    assert len(default.joint_blocks) == 4
    assert tuple(default.state_dict()["joint_blocks.0.attn.qkv.weight"].shape) == (384, 128)
    small = create_model("capf_baseline", dim=32, depth=2, num_heads=4)
    assert len(small.joint_blocks) == 2
    assert tuple(small.state_dict()["pos_embed"].shape) == (1, 17, 32)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in default.parameters()) / 10
    with pytest.raises(ValueError):
        create_model("capf_baseline", dim=30, num_heads=4)


def test_lifts_batches_and_ignores_context_arguments():
    model = create_model("capf_baseline", dim=32, depth=1, num_heads=4).eval()
    keypoints = torch.rand(3, 17, 2) - 0.5
    with torch.no_grad():
        out = model(keypoints)
        again = model(keypoints, [torch.zeros(3, 8, 4, 4)], torch.zeros(3, 17, 2))
    assert out.shape == (3, 17, 3)
    assert torch.equal(out, again)


def test_joints_interact():
    """Attention across joints: moving one 2D joint changes the other joints' 3D output."""
    torch.manual_seed(0)
    model = create_model("capf_baseline", dim=32, depth=1, num_heads=4).eval()
    keypoints = torch.rand(1, 17, 2) - 0.5
    moved = keypoints.clone()
    moved[0, 5] += 0.3
    with torch.no_grad():
        change = (model(moved) - model(keypoints)).abs().sum(-1)[0]
    assert (change[torch.arange(17) != 5] > 0).all()


def test_small_lifter_overfits_a_few_poses():
    torch.manual_seed(0)
    model = create_model("capf_baseline", dim=32, depth=2, num_heads=4)
    keypoints = torch.rand(4, 17, 2) - 0.5
    target = torch.randn(4, 17, 3) * 0.2
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(300):
        loss = (model(keypoints) - target).norm(dim=-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
