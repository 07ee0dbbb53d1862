"""HEMlets' official test-time pre- and post-processing (crops, input, flip merge, root-depth search)."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.models.hemlets import IMAGE_MEAN, IMAGE_STD
from hpe_ros.pipelines.rgb import hemlets as hl


def _ramp_image() -> np.ndarray:
    """A 300 x 400 BGR image whose channels are linear in x and y (bilinear sampling is exact)."""
    ys, xs = np.mgrid[0:300, 0:400].astype(np.float64)
    return np.stack([xs * 0.5, ys * 0.6, 20 + 0.2 * xs + 0.3 * ys], axis=-1).round().astype(np.uint8)


def _skeleton_with_mean_bones(rng: np.random.Generator) -> np.ndarray:
    """(18, 3) root-relative mm joints whose 15 searched bones have the official mean lengths."""
    joints = np.zeros((hl.NUM_JOINTS, 3))
    joints[8] = (0.0, -480.0, 40.0)  # the thorax is reached through no searched bone: placed freely
    lengths = dict(zip(hl.SEARCH_BONES, hl.MEAN_BONE_LENGTHS_MM, strict=True))
    placed = {0, 8}
    while len(placed) < 17:
        for (child, parent), length in lengths.items():
            if parent in placed and child not in placed:
                direction = rng.normal(size=3)
                joints[child] = joints[parent] + length * direction / np.linalg.norm(direction)
                placed.add(child)
    joints[hl.THORAX_INDEX] = (joints[11] + joints[14]) / 2
    return joints


def test_crop_maps_crop_pixels_to_image_pixels_as_trans_says():
    crop = hl.HemletsCrop.from_trans(np.array([37.0, -12.5, 0.8]))
    xy = np.array([[0.0, 0.0], [255.0, 128.0]])
    np.testing.assert_allclose(crop.to_image(xy), xy / 0.8 + (37.0, -12.5))
    np.testing.assert_allclose(crop.to_crop(crop.to_image(xy)), xy)
    around = hl.HemletsCrop.around(200.0, 150.0, 128.0)
    np.testing.assert_allclose(around.to_image(np.array([[128.0, 128.0]])), [[200.0, 150.0]])
    with pytest.raises(ValueError, match="positive"):
        hl.HemletsCrop.from_trans(np.array([0.0, 0.0, 0.0]))


def test_crop_pixels_sample_the_image_where_the_mapping_points():
    image = _ramp_image()
    crop = hl.HemletsCrop(offset_x=50.0, offset_y=20.0, scale=1.6)
    patch = hl.crop_image(image, crop)
    assert patch.shape == (256, 256, 3) and patch.dtype == np.uint8
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float64)
    src = crop.to_image(np.stack([xs, ys], axis=-1))
    inside = (src[..., 0] <= 398) & (src[..., 1] <= 298)
    x, y = src[..., 0], src[..., 1]
    expected = np.stack([x * 0.5, y * 0.6, 20 + 0.2 * x + 0.3 * y], -1)
    assert np.abs(patch[inside].astype(np.float64) - expected[inside]).max() <= 1.0  # 1 grey level
    far = hl.crop_image(image, hl.HemletsCrop(offset_x=-1000.0, offset_y=0.0, scale=1.0))
    assert not far.any()  # outside the image: black


def test_input_is_rgb_normalised_channels_first_and_the_flip_mirrors_it():
    crop = np.zeros((256, 256, 3), np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 10, 120, 250  # B, G, R
    crop[:, :8] = 0
    tensor = hl.normalise_crop(crop)
    assert tensor.shape == (3, 256, 256) and tensor.dtype == np.float32
    for channel, value in enumerate((250, 120, 10)):  # R, G, B
        assert tensor[channel, 0, 200] == pytest.approx((value - IMAGE_MEAN[channel]) / IMAGE_STD[channel])
    flipped = hl.flip_input(tensor)
    np.testing.assert_array_equal(flipped[:, :, 0], tensor[:, :, 255])
    assert flipped[0, 0, 255] == pytest.approx(-IMAGE_MEAN[0] / IMAGE_STD[0])  # the black band moved right
    with pytest.raises(ValueError, match="BGR"):
        hl.normalise_crop(crop[..., 0])


def test_flip_merge_of_an_exact_mirror_gives_the_prediction_back():
    rng = np.random.default_rng(3)
    output = rng.uniform(-0.4, 0.4, (hl.NUM_JOINTS, 3))
    crop_xy = (output[:, :2] + 0.5) * 256
    mirrored = np.empty_like(output)
    mirrored[:, 0] = (255.0 - crop_xy[:, 0]) / 256 - 0.5
    mirrored[:, 1:] = output[:, 1:]
    for left, right in hl.FLIP_PAIRS:
        mirrored[[left, right]] = mirrored[[right, left]]
    merged = hl.merge_flip(output, mirrored)
    np.testing.assert_allclose(merged[:, :2], crop_xy, atol=1e-9)
    np.testing.assert_allclose(merged[:, 2], output[:, 2], atol=1e-12)  # z is normalised, unflipped
    assert {frozenset(p) for p in hl.FLIP_PAIRS} == {frozenset(p) for p in
                                                    ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))}


def test_root_search_finds_the_depth_where_bones_have_their_mean_lengths():
    rng = np.random.default_rng(5)
    relative = _skeleton_with_mean_bones(rng)
    scale = 4.3  # on the fine grid around the coarse 4.5
    camera = relative + (150.0, -80.0, scale * hl.FOCAL_PX)
    image_xy = camera[:, :2] / camera[:, 2:] * hl.FOCAL_PX + hl.CENTRE_PX
    found = hl.search_root_depth(image_xy, camera[:, 2] - camera[0, 2])
    assert found.scale == pytest.approx(scale)
    assert found.bone_error_mm < 1e-6
    np.testing.assert_allclose(found.joints_mm, camera, atol=1e-6)


def test_decode_takes_network_output_back_to_camera_millimetres():
    rng = np.random.default_rng(8)
    camera = _skeleton_with_mean_bones(rng) + (-60.0, 40.0, 5.5 * hl.FOCAL_PX)
    image_xy = camera[:, :2] / camera[:, 2:] * hl.FOCAL_PX + hl.CENTRE_PX
    crop = hl.HemletsCrop.around(*image_xy[0], side=400.0)
    output = np.column_stack([crop.to_crop(image_xy) / 256 - 0.5, (camera[:, 2] - camera[0, 2]) / 2000])
    decoded = hl.decode(output, None, crop)
    np.testing.assert_allclose(decoded.image_joints, image_xy, atol=1e-9)
    np.testing.assert_allclose(decoded.camera.joints_mm, camera, atol=1e-6)
    assert decoded.camera.root_depth_mm == pytest.approx(camera[0, 2])
    with pytest.raises(ValueError, match="18, 3"):
        hl.decode(output[:17], None, crop)
