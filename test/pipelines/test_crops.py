"""Top-down crops: box to centre/scale, affine warp with grid_sample, exact inverse of keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.pipelines.crops import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INPUT_SIZE_256x192,
    INPUT_SIZE_384x288,
    affine_matrices,
    boxes_to_center_scale,
    crop_people,
    crop_to_image,
    transform_points,
)


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
