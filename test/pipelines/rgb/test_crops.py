"""Top-down crops: box to centre/scale, the official cv2 warp and the float grid_sample warp, keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hpe_ros.pipelines.rgb.crops import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INPUT_SIZE_256x192,
    INPUT_SIZE_384x288,
    affine_matrices,
    boxes_to_center_scale,
    crop_people,
    crop_to_image,
    heatmap_to_image,
    invert_affine,
    official_affine_matrices,
    transform_points,
)


def _bilinear(image: np.ndarray, crop_to_image_matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Reference float64 bilinear resampler, zero outside the image (pixel i centred at i)."""
    height, width = image.shape[:2]
    v, u = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float64)
    x = crop_to_image_matrix[0, 0] * u + crop_to_image_matrix[0, 1] * v + crop_to_image_matrix[0, 2]
    y = crop_to_image_matrix[1, 0] * u + crop_to_image_matrix[1, 1] * v + crop_to_image_matrix[1, 2]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    padded = np.zeros((height + 4, width + 4, image.shape[2]))
    padded[2:-2, 2:-2] = image

    def at(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        inside = (ix >= -1) & (ix <= width) & (iy >= -1) & (iy <= height)
        values = padded[np.clip(iy, -2, height + 1) + 2, np.clip(ix, -2, width + 1) + 2]
        return np.where(inside[..., None], values, 0)

    top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
    bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def _test_image(height: int = 240, width: int = 320) -> np.ndarray:
    """Smooth gradients plus a noisy patch (sharp edges) in uint8 RGB."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([127 + 120 * np.sin(xs / 9.0 + ys / 13.0), xs * 255 / width, (ys * 3) % 256], -1)
    image[60:140, 100:160] = np.random.default_rng(5).integers(0, 256, (80, 60, 3))
    return image.astype(np.uint8)


def test_box_to_center_scale_aspect_and_padding() -> None:
    boxes = np.array([[10, 20, 110, 420, 0.9], [0, 0, 300, 100, 0.5]])  # tall, wide (score column ignored)
    regions = boxes_to_center_scale(boxes, INPUT_SIZE_256x192)
    np.testing.assert_allclose(regions.center, [[60, 220], [150, 50]])
    # tall: width grows to 0.75 * 400 = 300; wide: height grows to 300 / 0.75 = 400; then x 1.25 / 200
    np.testing.assert_allclose(
        regions.scale, [[300 * 1.25 / 200, 400 * 1.25 / 200], [300 * 1.25 / 200, 400 * 1.25 / 200]]
    )


@pytest.mark.parametrize("input_size", [INPUT_SIZE_256x192, INPUT_SIZE_384x288])
@pytest.mark.parametrize("rotation", [0.0, 37.0])
def test_keypoints_round_trip_through_crop(input_size: tuple[int, int], rotation: float) -> None:
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 500, (5, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(30, 300, (5, 2))], axis=1)
    image = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    crops = crop_people(image, boxes, input_size, rotation_deg=rotation)
    assert crops.images.shape == (5, 3, input_size[1], input_size[0])
    keypoints = rng.uniform(-50, 850, (5, 17, 2))
    in_crop = transform_points(keypoints, crops.image_to_crop)
    np.testing.assert_allclose(crop_to_image(in_crop, crops), keypoints, atol=1e-4)
    # the box centre lands in the middle of the crop
    centre = transform_points(crops.boxes.center[:, None], crops.image_to_crop)[:, 0]
    np.testing.assert_allclose(centre, np.tile(np.array(input_size) / 2, (5, 1)), atol=1e-9)


def test_rotation_direction() -> None:
    matrix = affine_matrices(np.array([[100.0, 100.0]]), np.array([[192 / 200, 256 / 200]]), (192, 256), 90.0)
    # as in the official get_affine_transform: what is right of the centre goes up, what is above goes left
    points = transform_points(np.array([[[150.0, 100.0], [100.0, 50.0]]]), matrix)[0]
    np.testing.assert_allclose(points, [[96, 128 - 50], [96 - 50, 128]], atol=1e-9)


def test_unit_scale_crop_is_an_exact_pixel_copy() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (400, 300, 3), dtype=np.uint8)
    # 1.25 * width = 192 px and centre (150, 200): crop pixel (u, v) = image pixel (u + 54, v + 72)
    box = np.array([[150 - 76.8, 200 - 102.4, 150 + 76.8, 200 + 102.4]])
    crops = crop_people(image, box, INPUT_SIZE_256x192)
    expected = image[72 : 72 + 256, 54 : 54 + 192].astype(np.float32) / 255.0
    expected = (expected - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    # float32 sampling grid: within 0.05 grey levels of the exact copy
    np.testing.assert_allclose(crops.images[0].permute(1, 2, 0).numpy(), expected, atol=1e-3)


def test_outside_the_image_is_black_and_empty_frames_work() -> None:
    image = np.full((50, 50, 3), 255, np.uint8)
    crops = crop_people(
        image, np.array([[-200.0, -200.0, -100.0, -60.0]]), INPUT_SIZE_256x192, channels_last=True
    )
    black = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]).reshape(
        1, 3, 1, 1
    )
    torch.testing.assert_close(crops.images, black.expand_as(crops.images), rtol=0, atol=1e-6)
    assert crops.images.is_contiguous(memory_format=torch.channels_last)
    assert crop_people(image, np.zeros((0, 4))).images.shape == (0, 3, 256, 192)


def test_real_coco_frame(shared_data: Path) -> None:
    from PIL import Image  # noqa: PLC0415 - only for reading the fixture

    path = sorted((shared_data / "coco").glob("*.jpg"))[0]
    image = np.asarray(Image.open(path).convert("RGB"))
    height, width = image.shape[:2]
    boxes = np.array([[0, 0, width, height], [width * 0.25, height * 0.25, width * 0.75, height * 0.75]])
    crops = crop_people(image, boxes, INPUT_SIZE_384x288)
    assert crops.images.shape == (2, 3, 384, 288) and torch.isfinite(crops.images).all()
    # the middle of the crop is the middle of the box
    middle = crops.images[1, :, 192, 144] * torch.tensor(IMAGENET_STD) + torch.tensor(IMAGENET_MEAN)
    np.testing.assert_allclose(middle.numpy() * 255, image[int(height * 0.5), int(width * 0.5)], atol=2.0)


@pytest.mark.parametrize("rotation", [0.0, 25.0])
@pytest.mark.parametrize(
    "box", [[40.0, 30.0, 140.0, 230.0], [-30.0, 100.0, 200.0, 300.0], [150.5, 60.25, 171.0, 99.0]]
)
def test_both_methods_match_a_reference_bilinear_resampler(box: list[float], rotation: float) -> None:
    image = _test_image()
    for method, tolerance in (("official", 1.0), ("float", 0.02)):
        crops = crop_people(image, np.array([box]), INPUT_SIZE_256x192, rotation_deg=rotation,
                            normalize=False, method=method)
        reference = _bilinear(image, crops.crop_to_image[0], INPUT_SIZE_256x192)
        got = crops.images[0].permute(1, 2, 0).numpy()
        # official: OpenCV's fixed-point interpolation rounded to uint8, within one grey level
        assert np.abs(got - reference).max() <= tolerance, method
    official = crop_people(image, np.array([box]), INPUT_SIZE_256x192, rotation_deg=rotation, normalize=False)
    assert official.images.dtype == torch.float32 and torch.equal(official.images, official.images.round())


def test_official_integer_translation_is_an_exact_copy_and_normalised_like_to_tensor() -> None:
    image = _test_image()
    # width 153.6 -> x 1.25 = 192 px: unit scale, centre (150, 120) -> crop (u, v) = image (u + 54, v - 8)
    box = np.array([[150 - 76.8, 120 - 102.4, 150 + 76.8, 120 + 102.4]])
    crops = crop_people(image, box, INPUT_SIZE_256x192, normalize=False)
    expected = np.zeros((256, 192, 3), np.float32)
    expected[8:248] = image[:, 54:246]
    np.testing.assert_array_equal(crops.images[0].permute(1, 2, 0).numpy(), expected)
    normalised = crop_people(image, box, INPUT_SIZE_256x192).images[0].permute(1, 2, 0).numpy()
    mean, std = np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)
    by_hand = (expected / np.float32(255) - mean) / std
    np.testing.assert_allclose(normalised, by_hand, rtol=0, atol=1e-6)


@pytest.mark.fuzz
@given(
    center=st.tuples(st.floats(-500, 2500), st.floats(-500, 2500)),
    width=st.floats(1.0, 3000.0),
    rotation=st.floats(-45.0, 45.0),
    size=st.sampled_from([INPUT_SIZE_256x192, INPUT_SIZE_384x288, (48, 64), (72, 96)]),
)
def test_official_matrices_are_the_similarity_up_to_float32_rounding(
    center: tuple[float, float], width: float, rotation: float, size: tuple[int, int]
) -> None:
    regions = boxes_to_center_scale(np.array([[*center, width, width * size[1] / size[0]]]), size, 1.0,
                                    box_format="xywh", official=True)
    exact = affine_matrices(regions.center, regions.scale, size, rotation)
    forward = official_affine_matrices(regions.center, regions.scale, size, rotation)
    inverse = official_affine_matrices(regions.center, regions.scale, size, rotation, inverse=True)
    # the points are float32: their rounding (6e-8 of the largest coordinate) over half the box width
    reach = max(abs(center[0]), abs(center[1]), width)
    relative = 1e-6 * (1 + reach / width)
    tolerance = relative * np.abs(exact).max()
    np.testing.assert_allclose(forward[:, :, :2], exact[:, :, :2], rtol=0, atol=tolerance)
    corners = np.array([[[0.0, 0.0], [size[0], size[1]], [size[0] / 2, size[1] / 2]]])
    expected = transform_points(corners, invert_affine(exact))
    np.testing.assert_allclose(transform_points(corners, inverse), expected, rtol=0, atol=2e-6 * reach)


def test_official_center_scale_is_float32_and_formats_agree() -> None:
    xywh = np.array([[10.3, 20.7, 100.1, 400.9], [0.0, 0.0, 301.3, 99.9]])
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    official = boxes_to_center_scale(xywh, box_format="xywh", official=True)
    for values in (official.center, official.scale):
        np.testing.assert_array_equal(values, values.astype(np.float32).astype(np.float64))
    plain = boxes_to_center_scale(xyxy)
    np.testing.assert_allclose(official.center, plain.center, rtol=1e-7)
    np.testing.assert_allclose(official.scale, plain.scale, rtol=1e-6)
    with pytest.raises(ValueError, match="box_format"):
        boxes_to_center_scale(xywh, box_format="cxcywh")
    with pytest.raises(ValueError, match="crop method"):
        crop_people(_test_image(), xyxy, method="nearest")


@pytest.mark.parametrize("method", ["official", "float"])
def test_heatmap_pixels_map_back_like_stride_times_crop_pixels(method: str) -> None:
    rng = np.random.default_rng(4)
    corners = rng.uniform(0, 600, (4, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(20, 400, (4, 2))], axis=1)
    rotation = rng.uniform(-30, 30, 4)
    crops = crop_people(_test_image(), boxes, INPUT_SIZE_384x288, method=method, rotation_deg=rotation)
    points = rng.uniform(0, 72, (4, 17, 2))
    direct = heatmap_to_image(points, crops, (72, 96))
    through_crop = crop_to_image(points * 4.0, crops)
    np.testing.assert_allclose(direct, through_crop, rtol=0, atol=1e-4)
    if method == "official":  # stored like the official float32 predictions
        np.testing.assert_array_equal(direct, direct.astype(np.float32).astype(np.float64))
