"""The top-down test protocols: decoding to the image, COCO rescoring and OKS NMS on small known inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpe_ros.pipelines.rgb.codecs import COCO_FLIP_PAIRS, HeatmapCodec, SimDRCodec, swap_flip_pairs
from hpe_ros.pipelines.rgb.crops import INPUT_SIZE_256x192, crop_people
from hpe_ros.pipelines.rgb.topdown_protocol import (
    NMS_SIGMAS,
    decode_2d,
    oks_nms,
    rescore,
    rescore_and_oks_nms,
)

IMAGE = np.zeros((240, 320, 3), np.uint8)
# centre (100, 120), 153.6 x 204.8 -> x 1.25 = 192 x 256 px: crop pixels = image pixels - (4, -8)
UNIT_BOX = np.array([[100 - 76.8, 120 - 102.4, 100 + 76.8, 120 + 102.4]])


def _peaks(points: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    maps = torch.zeros(1, len(points), size[1], size[0])
    for j, (x, y) in enumerate(points):
        maps[0, j, y, x] = 1.0
        maps[0, j, y, x + 1] = 0.5  # 1/4 px to the right
    return maps


@pytest.mark.parametrize("method", ["official", "float"])
def test_heatmap_peaks_land_on_the_image_pixels_they_stand_for(method: str) -> None:
    crops = crop_people(IMAGE, UNIT_BOX, INPUT_SIZE_256x192, method=method)
    codec = HeatmapCodec(INPUT_SIZE_256x192, (48, 64))
    peaks = np.array([[10 + j, 20 + j] for j in range(17)])
    decoded = decode_2d(codec, (_peaks(peaks, (48, 64)),), crops, flip_test=False)
    in_crop = (peaks + [0.25, 0.0]) * 4
    np.testing.assert_allclose(decoded.crop[0], in_crop)
    np.testing.assert_allclose(decoded.image[0], in_crop + [4.0, -8.0], atol=1e-4)


def test_heatmap_flip_test_with_a_mirror_answering_network() -> None:
    crops = crop_people(IMAGE, UNIT_BOX, INPUT_SIZE_256x192)
    codec = HeatmapCodec(INPUT_SIZE_256x192, (48, 64))
    peaks = np.array([[10 + j, 20 + j] for j in range(17)])
    maps = _peaks(peaks, (48, 64))
    mirrored = swap_flip_pairs(maps.flip(-1), COCO_FLIP_PAIRS)
    flipped = decode_2d(codec, (torch.cat([maps, mirrored]),), crops, flip_test=True)
    # mirrored back and shifted one column right (the official SHIFT_HEATMAP), the flipped maps peak at
    # x + 1 (1) and x + 2 (0.5); the mean is 0.5, 0.75, 0.25 at x, x + 1, x + 2: argmax x + 1, 1/4 toward x
    np.testing.assert_allclose(flipped.crop[0], (peaks + [0.75, 0.0]) * 4)
    np.testing.assert_allclose(flipped.scores[0], 0.75)
    plain = decode_2d(codec, (torch.cat([maps, mirrored]),), crops, flip_test=False)
    np.testing.assert_allclose(plain.crop[0], (peaks + [0.25, 0.0]) * 4)  # the mirrored half is ignored


def test_simdr_bins_land_on_the_image_pixels_they_stand_for() -> None:
    crops = crop_people(IMAGE, UNIT_BOX, INPUT_SIZE_256x192)
    codec = SimDRCodec(INPUT_SIZE_256x192, 2.0, "sa-simdr")
    x = torch.zeros(1, 17, 384)
    y = torch.zeros(1, 17, 512)
    x[0, torch.arange(17), torch.arange(17) * 9 + 5] = 30.0
    y[0, torch.arange(17), torch.arange(17) * 11 + 1] = 30.0
    decoded = decode_2d(codec, (x, y), crops, flip_test=False)
    expected = np.stack([np.arange(17) * 9 + 5, np.arange(17) * 11 + 1], axis=1) / 2.0
    np.testing.assert_array_equal(decoded.crop[0], expected)
    np.testing.assert_allclose(decoded.image[0], expected + [4.0, -8.0], atol=1e-4)


def test_rescoring_keeps_joints_above_the_threshold() -> None:
    joint_scores = np.array([[0.9, 0.1, 0.5, 0.2], [0.1, 0.0, 0.2, 0.15]], np.float32)
    scores = rescore(joint_scores, np.array([0.5, 0.8]), in_vis_thre=0.2)
    # first: (0.9 + 0.5) / 2 x 0.5 (0.2 is not above 0.2); second: no joint above, 0
    np.testing.assert_allclose(scores, [0.35, 0.0], rtol=1e-6)


def _person(rng: np.random.Generator, offset: float) -> np.ndarray:
    return rng.uniform(0, 100, (17, 2)) + offset


def test_oks_nms_drops_near_duplicates_and_keeps_others() -> None:
    rng = np.random.default_rng(1)
    first = _person(rng, 0.0)
    people = np.stack([first, first + 0.5, _person(rng, 400.0), first + 30.0])
    scores = np.array([0.6, 0.9, 0.5, 0.4])
    areas = np.full(4, 100.0 * 100.0)
    # the duplicate (0.5 px away, OKS ~0.99) scores higher: it is kept, the original dropped
    assert oks_nms(people, scores, areas, threshold=0.9) == [1, 2, 3]
    # 30 px away the OKS is low but not below 1e-6; 400 px away it is (about 1e-90)
    assert oks_nms(people, scores, areas, threshold=1e-6) == [1, 2]
    assert oks_nms(np.zeros((0, 17, 2)), np.zeros(0), np.zeros(0)) == []


def test_oks_of_the_nms_is_the_coco_formula() -> None:
    person = np.zeros((1, 17, 2))
    other = np.zeros((1, 17, 2))
    other[0, :, 0] = 3.0  # 3 px to the right
    area = 2500.0
    oks = np.mean(np.exp(-9.0 / (2 * NMS_SIGMAS) ** 2 / (area + np.spacing(1)) / 2))
    people = np.concatenate([person, other])
    assert oks_nms(people, np.array([1.0, 0.5]), np.full(2, area), threshold=oks + 1e-9) == [0, 1]
    assert oks_nms(people, np.array([1.0, 0.5]), np.full(2, area), threshold=oks - 1e-9) == [0]


def test_rescore_and_nms_per_image_in_first_seen_order() -> None:
    rng = np.random.default_rng(2)
    a = _person(rng, 0.0)
    keypoints = np.stack([a, a + 0.2, _person(rng, 0.0), a])
    joint_scores = np.full((4, 17), 0.8, np.float32)
    box_scores = np.array([0.9, 0.5, 0.7, 0.6])
    scales = np.full((4, 2), 0.5)  # 100 x 100 px crops
    results = rescore_and_oks_nms([7, 7, 3, 3], keypoints, joint_scores, box_scores, scales)
    assert [(r.image_id, round(r.score, 6)) for r in results] == [(7, 0.72), (3, 0.56), (3, 0.48)]
    np.testing.assert_allclose(results[0].keypoints, a.astype(np.float32))
