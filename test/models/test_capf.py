"""CA-PF lifter: shapes, coordinate conventions, bilinear sampling, fast path = reference path."""

from __future__ import annotations

import pytest
import torch

from hpe_ros.models import create_model
from hpe_ros.models.capf import (
    EMBEDDED_SAMPLING_MAX_BATCH,
    CapfConfig,
    ContextAwarePoseFormer,
    border_taps,
    crop_pixels_to_grid,
    embed_levels,
    normalize_screen_coordinates,
    sample_bilinear,
    sample_zero_padded,
)

HRNET_SIZES = [(64, 48), (32, 24), (16, 12), (8, 6)]



def _features(channels, sizes, batch=2, dtype=torch.float32):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(batch, c, h, w, generator=generator, dtype=dtype)
            for c, (h, w) in zip(channels, sizes, strict=True)]


def _keypoints(batch=2, joints=17, dtype=torch.float32):
    generator = torch.Generator().manual_seed(2)
    keypoints_2d = (torch.rand(batch, joints, 2, generator=generator, dtype=dtype) - 0.5) * 1.5
    # crop pixels, some joints outside the 192x256 crop
    crop = (torch.rand(batch, joints, 2, generator=generator, dtype=dtype)
            * torch.tensor([210.0, 280.0], dtype=dtype) - 8.0)
    return keypoints_2d, crop


def _manual_bilinear(feature: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Border-padded bilinear value of (C, H, W) at pixel (x, y), written out corner by corner."""
    _, height, width = feature.shape
    x = min(max(x, 0.0), width - 1.0)
    y = min(max(y, 0.0), height - 1.0)
    x0, y0 = int(x // 1), int(y // 1)
    x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
    fx, fy = x - x0, y - y0
    return (
        feature[:, y0, x0] * (1 - fx) * (1 - fy)
        + feature[:, y0, x1] * fx * (1 - fy)
        + feature[:, y1, x0] * (1 - fx) * fy
        + feature[:, y1, x1] * fx * fy
    )


@pytest.mark.parametrize(
    ("name", "channels", "sizes"),
    [
        ("capf_hrnet32", (32, 64, 128, 256), HRNET_SIZES),
        ("capf_hrnet48", (48, 96, 192, 384), HRNET_SIZES),
        ("capf_cpn", (256,) * 4, [(16, 12)] * 4),
        ("capf_mpi", (48, 96, 192, 384), HRNET_SIZES),
    ],
)
def test_registered_models_lift_to_17x3(name, channels, sizes):
    model = create_model(name).eval()
    keypoints_2d, crop = _keypoints()
    with torch.no_grad():
        out = model(keypoints_2d, _features(channels, sizes), crop)
    assert out.shape == (2, 17, 3)
    assert torch.isfinite(out).all()


def test_official_parameter_shapes():
    """Shapes read from the official PoseTransformer (hrnet_32: base 32, embed_dim_ratio 128, 4 levels)."""
    state = create_model("capf_hrnet32").state_dict()
    expected = {
        "coord_embed.weight": (128, 2),
        "feat_embed.3.weight": (128, 256),
        "pos_embed": (1, 5, 17, 128),
        "context_blocks.3.attention_weights.weight": (16, 128),
        "context_blocks.3.sampling_offsets.weight": (32, 128),
        "context_blocks.0.embed_proj.0.weight": (32, 32),
        "context_blocks.0.embed_proj.3.weight": (32, 256),
        "context_blocks.0.mlp.fc1.weight": (256, 128),
        "level_blocks.3.attn.qkv.weight": (384, 128),
        "joint_blocks.3.attn.qkv.weight": (1920, 640),
        "joint_blocks.0.mlp.fc1.weight": (1280, 640),
        "head_norm.weight": (640,),
        "head.weight": (3, 640),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(key.startswith("context_blocks.4") for key in state)
    mpi = create_model("capf_mpi").state_dict()  # hrnet_48 features, 96-wide tokens, no context blocks
    assert tuple(mpi["pos_embed"].shape) == (1, 5, 17, 96)
    assert tuple(mpi["joint_blocks.0.attn.qkv.weight"].shape) == (1440, 480)
    assert not any(key.startswith("context_blocks") for key in mpi)


def test_coordinate_conventions():
    crop = torch.tensor([[[0.0, 0.0], [96.0, 128.0], [191.0, 255.0]]])
    grid = crop_pixels_to_grid(crop)
    assert torch.allclose(grid[0, 0], torch.tensor([-1.0, -1.0]))
    assert torch.allclose(grid[0, 1], torch.tensor([0.0, 0.0]))
    assert torch.allclose(grid[0, 2], torch.tensor([191 / 96 - 1, 255 / 128 - 1]))
    screen = normalize_screen_coordinates(torch.tensor([[0.0, 0.0], [1000.0, 1002.0]]), 1000.0, 1002.0)
    assert torch.allclose(screen, torch.tensor([[-1.0, -1.002], [1.0, 1.002]]))


def test_sample_bilinear_matches_hand_computed_interpolation():
    feature = torch.arange(2 * 5 * 7, dtype=torch.float64).view(1, 2, 5, 7).sin() * 10
    # known points in pixels: interior, on a pixel centre, past the right/bottom border
    pixels = [(2.25, 1.5), (3.0, 2.0), (6.6, 4.9), (-1.3, 2.7), (9.0, 9.0)]
    grid = torch.tensor([[[[2 * x / 6 - 1, 2 * y / 4 - 1] for x, y in pixels]]], dtype=torch.float64)
    sampled = sample_bilinear(feature, grid, "border")[0, 0]  # (points, C)
    for index, (x, y) in enumerate(pixels):
        assert torch.allclose(sampled[index], _manual_bilinear(feature[0], x, y), atol=1e-12)


def test_deformable_offset_sampling_by_hand():
    """A joint with a known tanh offset samples the map where the offset points."""
    feature = torch.linspace(0, 1, 3 * 8 * 6, dtype=torch.float64).view(1, 3, 8, 6).cos()
    ref = torch.tensor([[0.1, -0.3]], dtype=torch.float64)
    raw_offset = torch.tensor([0.4, -0.2], dtype=torch.float64)
    point = (ref + raw_offset.tanh()).view(1, 1, 1, 2)
    sampled = sample_bilinear(feature, point)[0, 0, 0]
    x = (point[0, 0, 0, 0].item() + 1) / 2 * 5
    y = (point[0, 0, 0, 1].item() + 1) / 2 * 7
    assert torch.allclose(sampled, _manual_bilinear(feature[0], x, y), atol=1e-12)


def test_border_taps_on_embedded_levels_equal_grid_sample_then_embedding():
    """Gathering from pre-embedded maps = ``embed(grid_sample(level))`` on every level and batch image."""
    sizes = HRNET_SIZES
    channels = (3, 5, 7, 9)
    features = _features(channels, sizes, batch=2, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    points = (torch.rand(2, 4, 30, 2, generator=generator, dtype=torch.float64) * 2 - 1) * 1.4  # some outside
    # on the border
    points[:, :, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 0.3]], dtype=torch.float64)
    blocks, head_dim = 2, 4
    weights = [torch.randn(blocks * head_dim, c, generator=generator, dtype=torch.float64) for c in channels]
    levels = embed_levels(features, weights, blocks)
    rows, corner_weights = border_taps(points, levels)
    assert torch.allclose(corner_weights.sum(-1), torch.ones((), dtype=torch.float64))
    for block in range(blocks):
        gathered = levels.rows[rows + block]  # (B, L, N, 4, head_dim)
        sampled = (gathered * corner_weights.unsqueeze(-1)).sum(-2)
        for level, feature in enumerate(features):
            weight = weights[level][block * head_dim : (block + 1) * head_dim]
            expected = sample_bilinear(feature, points[:, level].unsqueeze(2), "border")[:, :, 0] @ weight.T
            assert torch.allclose(sampled[:, level], expected, atol=1e-12)


def test_gathered_zero_padded_samples_equal_grid_sample():
    """The fast path's initial tokens: one point per joint on every level, zero outside the map."""
    features = _features((3, 5, 7, 9), HRNET_SIZES, batch=2, dtype=torch.float64)
    generator = torch.Generator().manual_seed(4)
    grid = (torch.rand(2, 40, 2, generator=generator, dtype=torch.float64) * 2 - 1) * 1.3
    # corners and edges of the map, just inside and just outside them, far outside
    grid[0, :8] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 0.3], [1.0 + 1e-9, 0.2],
                                [-1.02, 0.5], [0.4, 1.01], [-7.0, 9.0]], dtype=torch.float64)
    sampled = sample_zero_padded(features, grid)
    for values, feature in zip(sampled, features, strict=True):
        expected = sample_bilinear(feature, grid.unsqueeze(-2), "zeros").squeeze(-2)
        assert torch.allclose(values, expected, atol=1e-12)


def test_fast_path_survives_nan_joints():
    """A NaN joint must not turn into an out-of-range gather: the other people still come out right."""
    model = create_model("capf_hrnet32").eval()
    features = _features(model.config.level_channels, HRNET_SIZES, batch=2)
    keypoints_2d, crop = _keypoints(batch=2)
    with torch.no_grad():
        alone = model(keypoints_2d[1:], [f[1:] for f in features], crop[1:])
        keypoints_2d[0, 3] = float("nan")
        crop[0, 3] = float("nan")
        both = model(keypoints_2d, features, crop)
    assert torch.allclose(both[1:], alone, atol=1e-5)


def test_embedded_sampling_rejects_one_pixel_wide_maps():
    features = [torch.zeros(1, 2, 4, 1)]
    with pytest.raises(ValueError, match="2x2"):
        embed_levels(features, [torch.zeros(4, 2)], 1)


@pytest.mark.parametrize(("name", "batch"), [("capf_hrnet32", 2),
                                             ("capf_hrnet32", EMBEDDED_SAMPLING_MAX_BATCH + 1),
                                             ("capf_mpi", 2)])
def test_fast_path_equals_reference_path(name, batch):
    model = create_model(name).double().eval()
    with torch.no_grad():  # non-trivial offsets and attention so that sampling matters
        for block in model.context_blocks:
            block.sampling_offsets.weight.normal_(0, 0.2)
            block.attention_weights.weight.normal_(0, 0.2)
        model.pos_embed.normal_(0, 0.1)
    channels = model.config.level_channels
    features = _features(channels, HRNET_SIZES, batch=batch, dtype=torch.float64)
    keypoints_2d, crop = _keypoints(batch=batch, dtype=torch.float64)
    # corners, outside
    crop[0, :3] = torch.tensor([[0.0, 0.0], [192.0, 256.0], [-50.0, 400.0]], dtype=torch.float64)
    with torch.no_grad():
        model.use_fast_path = False
        reference = model(keypoints_2d, features, crop)
        model.use_fast_path = True
        fast = model(keypoints_2d, features, crop)
    assert torch.allclose(fast, reference, atol=1e-10)


def test_initial_sampling_offsets_form_rings():
    block = create_model("capf_hrnet32").context_blocks[0]
    offsets = block.sampling_offsets.bias.view(4, 4, 2)  # heads, samples, (x, y)
    assert torch.allclose(offsets[0, :, 0], torch.tensor([0.01, 0.02, 0.03, 0.04]))  # head 0 points along +x
    assert torch.allclose(offsets[:, 1], 2 * offsets[:, 0])
    assert torch.count_nonzero(block.attention_weights.weight) == 0


def test_small_lifter_overfits_a_few_poses():
    torch.manual_seed(0)
    config = CapfConfig(level_channels=(8, 16), token_dim=32, depth=1, num_heads=4, mlp_ratio=2.0)
    model = ContextAwarePoseFormer(config)
    features = _features((8, 16), [(16, 12), (8, 6)], batch=4)
    keypoints_2d, crop = _keypoints(batch=4)
    target = torch.randn(4, 17, 3) * 0.2
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(150):
        loss = (model(keypoints_2d, features, crop) - target).norm(dim=-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
