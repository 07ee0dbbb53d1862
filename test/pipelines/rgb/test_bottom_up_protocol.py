"""The bottom-up test protocols: official matrices and resize, back-projection, and the estimator's
multi-scale / flip aggregation under both protocols."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hpe_ros.models.swahr import HigherHRNet, HigherHRNetConfig
from hpe_ros.pipelines.rgb import bottom_up as bu
from hpe_ros.pipelines.rgb import bottom_up_protocol as bp
from hpe_ros.pipelines.rgb.crops import IMAGENET_MEAN, IMAGENET_STD

pytest.importorskip("munkres")
K = 17


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@settings(max_examples=100, deadline=None)
@given(st.integers(20, 1500), st.integers(20, 1500), st.sampled_from([512, 640]),
       st.sampled_from([(1.0,), (0.5, 1.0, 2.0), (0.75, 1.0, 1.25)]))
def test_official_matrix_is_the_resize_similarity(height: int, width: int, size: int, scales: tuple) -> None:
    for factor in scales:
        transform = bu.compute_resize(height, width, size, factor, min(scales))
        center, scale = np.array(transform.center), np.array(transform.official_scale)
        matrix = bp.official_affine(center, scale, transform.size)
        corners = np.array([[0.0, 0.0], [width - 1.0, 0.0], [0.0, height - 1.0], transform.center])
        exact = (corners - np.array(transform.center)) * transform.scale + np.array(transform.size) / 2
        # three float32 points: the same similarity up to float32 rounding
        np.testing.assert_allclose(_apply(matrix, corners), exact, atol=2e-3 * max(1.0, transform.scale))
        inverse = bp.official_affine(center, scale, transform.size, inverse=True)
        np.testing.assert_allclose(_apply(inverse, exact), corners, atol=2e-3)


@pytest.mark.parametrize("height, width", [(425, 640), (640, 427), (333, 333)])
def test_official_resize_is_within_one_grey_level_of_the_float_resize(height: int, width: int) -> None:
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = np.ascontiguousarray(np.repeat(np.repeat(image[::4, ::4], 4, 0), 4, 1)[:height, :width])
    transform = bu.compute_resize(height, width, 512)
    official = bp.resize_official(image, np.array(transform.center), np.array(transform.official_scale),
                                  transform.size)
    smooth = bu.warp_image(image, transform)
    assert official.shape == smooth.shape == (3, transform.size[1], transform.size[0])
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    grey = ((official - smooth) * std * 255).abs()
    assert grey.max() <= 1.0  # uint8 rounding (0.5) plus OpenCV's 1/32-pixel fixed point
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    restored = (official * std + mean) * 255  # ToTensor + Normalize of a uint8 image: integers
    assert (restored - restored.round()).abs().max() < 1e-3


def test_official_back_projection_is_float32_and_inverts_the_resize() -> None:
    transform = bu.compute_resize(425, 640, 512)  # landscape: 832 x 512
    grid = (transform.size[0] // 2, transform.size[1] // 2)
    image_points = np.array([[[10.0, 20.0], [320.0, 212.0], [639.0, 424.0]]])
    on_grid = ((image_points - transform.center) * transform.scale + np.array(transform.size) / 2) / 2
    back = transform.to_image_official(on_grid, grid)
    np.testing.assert_array_equal(back, back.astype(np.float32))
    np.testing.assert_allclose(back, image_points, atol=1e-3)
    np.testing.assert_allclose(back, transform.to_image(on_grid, grid), atol=1e-3)
    assert bp.official_to_image(np.zeros((0, K, 2)), np.zeros(2), np.ones(2), grid).shape == (0, K, 2)


def _tiny_estimator(**options: object) -> bu.BottomUpEstimator:
    torch.manual_seed(0)
    config = HigherHRNetConfig(width=8, blocks=1, stage_modules=(1, 1, 1), stem_blocks=1, num_basic_blocks=1)
    grouping = bu.GroupingConfig(detection_threshold=0.0, max_num_people=5)
    settings = bu.BottomUpConfig(input_size=64, grouping=grouping, **options)  # type: ignore[arg-type]
    return bu.BottomUpEstimator(HigherHRNet(config), settings)


@pytest.mark.parametrize("protocol", bp.PROTOCOLS)
def test_multi_scale_sums_projected_heatmaps_and_keeps_the_tags_of_scale_one(protocol: str) -> None:
    scales = (0.5, 1.0, 2.0)
    estimator = _tiny_estimator(protocol=protocol, scale_factors=scales)
    image = np.random.default_rng(1).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    heatmaps, tags, transform = estimator.predict_maps(image)
    base = (transform.size[1], transform.size[0])
    per_scale = []
    for factor in sorted(scales, reverse=True):
        resized = bu.compute_resize(90, 120, 64, factor, min(scales))
        batch = estimator.resize(image, resized)[None]
        per_scale.append(estimator.network_maps(batch, base))
    expected = (per_scale[0][0] + per_scale[1][0] + per_scale[2][0]) / 3.0
    torch.testing.assert_close(heatmaps, expected[0], rtol=0, atol=1e-6)
    scale_one_tags = torch.stack(per_scale[1][1], dim=-1)[0]
    torch.testing.assert_close(tags, scale_one_tags, rtol=0, atol=0)
    assert tags.shape[-1] == 2  # plain and flipped tag
    # back to the image with the official scale of the smallest test scale
    smallest = bu.compute_resize(90, 120, 64, 0.5, 0.5)
    assert transform.official_scale == smallest.official_scale


def test_without_flip_one_tag_per_pixel_and_the_protocols_resample_alike() -> None:
    image = np.random.default_rng(2).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    maps = {p: _tiny_estimator(protocol=p, flip_test=False).predict_maps(image) for p in bp.PROTOCOLS}
    for heatmaps, tags, _ in maps.values():
        assert heatmaps.shape == (K, 64, 128) and tags.shape == (K, 64, 128, 1)
    # one grey level of input difference moves a random network's maps only a little
    difference = (maps["official"][0] - maps["float"][0]).abs().max()
    assert 0 < difference < 0.05 * maps["official"][0].abs().max()


def test_protocol_and_scales_are_checked() -> None:
    with pytest.raises(ValueError, match="protocol"):
        _tiny_estimator(protocol="fast")
    with pytest.raises(ValueError, match="include 1.0"):
        _tiny_estimator(scale_factors=(0.5, 2.0))
    config = bu.official_test_config("crowdpose", 48, scale_factors=(2, 1, 0.5), flip_test=False)
    assert config.protocol == "official" and config.scale_factors == (2.0, 1.0, 0.5) and not config.flip_test
    assert config.input_size == 640 and config.grouping.detection_threshold == 0.1
    assert config.flip_index == bu.CROWDPOSE_FLIP_INDEX and len(config.grouping.joint_order) == 14
    assert bu.official_test_config(protocol="float").protocol == "float"


@pytest.mark.parametrize("protocol", bp.PROTOCOLS)
def test_estimator_people_lie_on_the_image(protocol: str) -> None:
    estimator = _tiny_estimator(protocol=protocol)
    image = np.random.default_rng(3).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    poses = estimator(image)
    assert 1 <= len(poses) and poses.keypoints.shape == (len(poses), K, 3)
    _, _, transform = estimator.predict_maps(image)
    half_extent = np.array(transform.size) / 2 / transform.scale
    assert np.all(np.abs(poses.keypoints[..., :2] - np.array(transform.center)) <= half_extent + 1e-3)
    if protocol == "official":
        np.testing.assert_array_equal(poses.keypoints[..., :2], poses.keypoints[..., :2].astype(np.float32))
