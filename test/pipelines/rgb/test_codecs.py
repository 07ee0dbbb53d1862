"""Heatmap and SimDR codecs on synthetic outputs with known peaks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hpe_ros.pipelines.rgb.codecs import COCO_FLIP_PAIRS, HeatmapCodec, SimDRCodec, swap_flip_pairs


def _peak_maps(points: list[tuple[int, int]], size=(48, 64), sigma=2.0) -> np.ndarray:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)) for x, y in points])[
        None
    ].astype(np.float32)


def test_heatmap_decode_integer_peaks_and_quarter_shift() -> None:
    codec = HeatmapCodec()
    maps = _peak_maps([(10, 20), (30, 40), (1, 30), (47, 5)])
    maps[0, 1, 40, 31] += 0.05  # right neighbour higher: +1/4 in x, y neighbours equal: no shift
    maps[0, 2, 31, 1] += 0.05  # x = 1 is at the border of the official refinement (1 < x): no shift at all
    decoded = codec.decode(maps)
    expected = np.array([[10, 20], [30.25, 40], [1, 30], [47, 5]], np.float32) * 4
    np.testing.assert_allclose(decoded.coords[0], expected, atol=1e-6)
    np.testing.assert_allclose(decoded.scores[0], maps[0].reshape(4, -1).max(1), atol=1e-7)


def test_heatmap_decode_zeroes_non_positive_maxima() -> None:
    maps = -np.ones((1, 2, 64, 48), np.float32)
    maps[0, 1, 7, 9] = 0.5
    decoded = HeatmapCodec(subpixel_refine=False).decode(torch.from_numpy(maps))
    np.testing.assert_array_equal(decoded.coords[0], [[0, 0], [36, 28]])


def test_heatmap_encode_decode_round_trip() -> None:
    codec = HeatmapCodec(sigma=2.0)
    keypoints = np.array([[40.0, 80.0], [4.0, 252.0], [100.0, 12.0], [-60.0, 10.0]])
    target = codec.encode(keypoints, visible=np.array([1, 1, 0, 1]))
    np.testing.assert_array_equal(target.weights, [1, 1, 0, 0])  # invisible, and outside the map
    assert target.heatmaps[2].max() == 0 and target.heatmaps[3].max() == 0
    assert target.heatmaps[0, 20, 10] == 1.0 and target.heatmaps[0, 20, 17] == 0.0  # 3-sigma window
    decoded = codec.decode(target.heatmaps[None])
    np.testing.assert_allclose(decoded.coords[0, :2], keypoints[:2], atol=1e-6)


def test_heatmap_flip_merge_mirrors_swaps_and_shifts() -> None:
    codec = HeatmapCodec()
    maps = torch.from_numpy(_peak_maps([(12 + j, 30) for j in range(17)]))
    # a network that sees the mirrored crop answers with mirrored maps and left/right swapped
    flipped = swap_flip_pairs(maps.flip(-1), COCO_FLIP_PAIRS)
    merged = codec.merge_flip(maps, flipped, COCO_FLIP_PAIRS)
    expected = (maps + torch.cat([maps[..., :1], maps[..., :-1]], dim=-1)) * 0.5
    torch.testing.assert_close(merged, expected, rtol=0, atol=0)
    # peaks at x and x + 1 with equal height: argmax x, moved 1/4 toward x + 1
    np.testing.assert_allclose(codec.decode(merged).coords[0, :, 0], (np.arange(17) + 12.25) * 4)


def _logits(bins: int, peaks: list[float]) -> torch.Tensor:
    positions = torch.arange(bins, dtype=torch.float32)
    return torch.stack([-((positions - p) ** 2) / 8.0 for p in peaks])[None]


@pytest.mark.parametrize("head_type", ["simdr", "sa-simdr"])
def test_simdr_decode_argmax_over_split_ratio(head_type: str) -> None:
    codec = SimDRCodec((192, 256), split_ratio=2.0, head_type=head_type)
    x = _logits(384, [21, 300])
    y = _logits(512, [101, 7])
    y[0, 1] *= 4  # sharper y distribution for joint 1: larger y maximum than x maximum
    decoded = codec.decode(x, y)
    np.testing.assert_allclose(decoded.coords[0], [[10.5, 50.5], [150, 3.5]])
    max_x = torch.softmax(x, -1).amax(-1)[0]
    max_y = torch.softmax(y, -1).amax(-1)[0]
    expected = torch.maximum(max_x, max_y) if head_type == "simdr" else torch.minimum(max_x, max_y)
    np.testing.assert_allclose(decoded.scores[0], expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("head_type", ["simdr", "sa-simdr"])
def test_simdr_flip_merge(head_type: str) -> None:
    codec = SimDRCodec((192, 256), split_ratio=2.0, head_type=head_type)
    peaks_x = [40.0 + 10 * j for j in range(17)]
    x, y = _logits(384, peaks_x), _logits(512, [200.0] * 17)
    # the mirrored crop: x bins reversed and shifted one bin (bin b <-> 383 - b - 1 for k = 2), sides swapped
    flipped_x = swap_flip_pairs(_logits(384, [383 - p - 1 for p in peaks_x]), COCO_FLIP_PAIRS)
    flipped_y = swap_flip_pairs(y, COCO_FLIP_PAIRS)
    prob_x, prob_y = codec.merge_flip(x, y, flipped_x, flipped_y, COCO_FLIP_PAIRS)
    torch.testing.assert_close(prob_x.sum(-1), torch.ones(1, 17))
    # after flipping back, the shifted mirror agrees with the direct prediction
    torch.testing.assert_close(prob_x[..., 1:-1], torch.softmax(x, -1)[..., 1:-1], rtol=1e-5, atol=1e-6)
    decoded = codec.decode(prob_x, prob_y, are_probabilities=True)
    np.testing.assert_allclose(decoded.coords[0, :, 0], np.array(peaks_x) / 2)


def test_simdr_encoders() -> None:
    keypoints = np.array([[10.2, 20.7], [191.9, 100.0], [-3.0, 50.0]])
    labels = SimDRCodec(split_ratio=2.0, head_type="simdr").encode(keypoints)
    np.testing.assert_array_equal(labels.labels, [[20, 41], [383, 200], [0, 100]])
    np.testing.assert_array_equal(labels.weights, [1, 0, 0])  # 384 bins: 383.8 rounds out of range
    codec = SimDRCodec(split_ratio=2.0, head_type="sa-simdr", sigma=4.0)
    target = codec.encode(keypoints, visible=np.array([1, 1, 0]))
    np.testing.assert_array_equal(target.weights, [1, 1, 0])
    assert target.x[2].max() == 0
    np.testing.assert_allclose(
        target.x[0].max(), np.exp(-(0.4**2) / 32) / (4 * np.sqrt(2 * np.pi)), rtol=1e-6
    )
    decoded = codec.decode(
        torch.from_numpy(target.x[None]), torch.from_numpy(target.y[None]), are_probabilities=True
    )
    np.testing.assert_allclose(decoded.coords[0, :2], [[10.0, 20.5], [191.5, 100.0]])  # the last bin is 383


def _reference_heatmap_decode(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint loop written from the rule: first argmax, 1/4 px toward the higher neighbour strictly
    inside (1 < p < size - 1), keypoints of non-positive maxima at 0; in heatmap pixels."""
    joints, height, width = maps.shape
    coords, scores = np.zeros((joints, 2), np.float32), np.zeros(joints, np.float32)
    for j in range(joints):
        flat = int(np.argmax(maps[j]))
        y, x = divmod(flat, width)
        scores[j] = maps[j, y, x]
        if scores[j] <= 0:
            continue
        point = np.array([x, y], np.float32)
        if 1 < x < width - 1 and 1 < y < height - 1:
            point[0] += np.float32(0.25) * np.sign(maps[j, y, x + 1] - maps[j, y, x - 1])
            point[1] += np.float32(0.25) * np.sign(maps[j, y + 1, x] - maps[j, y - 1, x])
        coords[j] = point
    return coords, scores


@pytest.mark.fuzz
@given(maps=arrays(np.float32, (5, 8, 6), elements=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 0.75, 1.0])))
def test_heatmap_decode_matches_the_rule_on_ties_borders_and_flat_maps(maps: np.ndarray) -> None:
    codec = HeatmapCodec(input_size=(24, 32), heatmap_size=(6, 8))
    expected, scores = _reference_heatmap_decode(maps)
    in_heatmap = codec.decode(maps[None], heatmap_pixels=True)
    np.testing.assert_array_equal(in_heatmap.coords[0], expected)
    np.testing.assert_array_equal(in_heatmap.scores[0], scores)
    np.testing.assert_array_equal(codec.decode(maps[None]).coords[0], expected * 4)


@pytest.mark.parametrize("split_ratio", [1.5, 2.0, 3.0])
def test_simdr_coordinates_are_float32_bin_over_k(split_ratio: float) -> None:
    codec = SimDRCodec((288, 384), split_ratio=split_ratio, head_type="sa-simdr")
    bins_x = np.arange(0, codec.num_bins[0], 7)[:17]
    x = torch.full((1, 17, codec.num_bins[0]), -10.0)
    x[0, torch.arange(17), torch.from_numpy(bins_x)] = 5.0
    y = torch.zeros(1, 17, codec.num_bins[1])
    y[0, :, 100] = 5.0
    decoded = codec.decode(x, y)
    # as torch.true_divide(int64 index, k) in float32, not rounded twice through float64
    expected = (torch.from_numpy(bins_x).float() / split_ratio).numpy()
    np.testing.assert_array_equal(decoded.coords[0, :, 0], expected)
    assert decoded.coords.dtype == np.float32


@pytest.mark.parametrize("head_type", ["simdr", "sa-simdr"])
def test_simdr_flip_of_a_mirror_symmetric_crop_keeps_the_keypoints(head_type: str) -> None:
    """A network that answers a mirrored crop with the mirrored answer: the flip test changes no keypoint."""
    codec = SimDRCodec((192, 256), split_ratio=2.0, head_type=head_type)
    rng = np.random.default_rng(8)
    peaks = rng.uniform(20, 360, 17)
    x, y = _logits(384, list(peaks)), _logits(512, list(rng.uniform(20, 490, 17)))
    # mirrored crop pixel u -> 191 - u is bin b -> 382 - b for k = 2 (the official one-bin shift)
    flipped_x = swap_flip_pairs(_logits(384, list(382 - peaks)), COCO_FLIP_PAIRS)
    flipped_y = swap_flip_pairs(y, COCO_FLIP_PAIRS)
    probabilities = codec.merge_flip(x, y, flipped_x, flipped_y, COCO_FLIP_PAIRS)
    merged = codec.decode(*probabilities, are_probabilities=True)
    np.testing.assert_array_equal(merged.coords, codec.decode(x, y).coords)
