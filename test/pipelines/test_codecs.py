"""Heatmap and SimDR codecs on synthetic outputs with known peaks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpe_ros.pipelines.codecs import COCO_FLIP_PAIRS, HeatmapCodec, SimDRCodec, swap_flip_pairs


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
