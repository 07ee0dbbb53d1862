"""HSJP jigsaw codec (shuffling, heatmap labels, decoding) and a tiny pretraining run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.training import hsjp_pretext as hsjp


@pytest.mark.parametrize("grid", [(2, 2), (3, 3), (4, 3)])
def test_shuffle_moves_whole_patches_and_is_invertible(grid: tuple[int, int]) -> None:
    rows, cols = grid
    images = torch.randn(3, 3, rows * 8, cols * 6)
    permutations = hsjp.random_permutations(3, rows * cols, torch.Generator().manual_seed(1))
    shuffled = hsjp.shuffle_patches(images, permutations, grid)
    for b in range(3):
        for slot in range(rows * cols):
            patch = int(permutations[b, slot])
            (sr, sc), (pr, pc) = divmod(slot, cols), divmod(patch, cols)
            torch.testing.assert_close(
                shuffled[b, :, sr * 8 : (sr + 1) * 8, sc * 6 : (sc + 1) * 6],
                images[b, :, pr * 8 : (pr + 1) * 8, pc * 6 : (pc + 1) * 6],
            )
    torch.testing.assert_close(hsjp.unshuffle_patches(shuffled, permutations, grid), images)


@pytest.mark.parametrize("grid, size", [((4, 4), (64, 48)), ((3, 3), (48, 36)), ((2, 3), (16, 18))])
def test_heatmap_labels_decode_back_to_the_permutation(grid: tuple[int, int], size: tuple[int, int]) -> None:
    permutations = hsjp.random_permutations(8, grid[0] * grid[1], torch.Generator().manual_seed(2))
    labels = hsjp.patch_heatmaps(permutations, grid, size, sigma=2.0)
    assert labels.shape == (8, grid[0] * grid[1], *size)
    assert torch.equal(hsjp.decode_permutations(labels, grid), permutations)
    # each channel peaks inside the cell where its patch now lies
    cell_h, cell_w = size[0] // grid[0], size[1] // grid[1]
    peak = labels.flatten(2).argmax(2)
    slot_of_peak = (peak // size[1]) // cell_h * grid[1] + (peak % size[1]) // cell_w
    assert torch.equal(slot_of_peak, hsjp.inverse_permutations(permutations))


def test_decoding_assigns_distinct_cells_when_two_patches_claim_one() -> None:
    grid, size = (2, 2), (8, 8)
    permutations = torch.tensor([[2, 0, 3, 1]])
    labels = hsjp.patch_heatmaps(permutations, grid, size, sigma=1.0)
    confused = labels.clone()
    confused[0, 1] = 0.6 * labels[0, 1] + 0.7 * labels[0, 0]  # patch 1 also peaks in patch 0's cell
    assert torch.equal(hsjp.decode_permutations(confused, grid), permutations)


def _made_crops(folder: Path, count: int, size: int = 64) -> None:
    """Synthetic 'person' crops: smooth colour ramps plus a dark figure, so patches differ."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        image = np.stack([xx * 255, yy * 255, (1 - xx) * rng.uniform(80, 255)], axis=2)
        x0 = rng.integers(size // 4, size // 2)
        image[size // 8 : size - size // 8, x0 : x0 + size // 4] *= 0.3
        np.save(folder / f"crop_{i:02d}.npy", image.astype(np.uint8))


def test_tiny_pretraining_lowers_the_loss(tmp_path: Path) -> None:
    _made_crops(tmp_path, 4, size=48)
    torch.manual_seed(0)
    # a small stride-4 conv net keeps the run fast; test_hsjp.py covers the HRNet backbone itself
    backbone = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, 2, 1),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, 2, 1),
        torch.nn.BatchNorm2d(32),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, 1, 1),
        torch.nn.BatchNorm2d(32),
        torch.nn.ReLU(),
    )
    result = hsjp.pretrain_hsjp(
        backbone, tmp_path, steps=40, grid=(2, 2), crop_size=(32, 32), batch_size=4, lr=3e-3, seed=0
    )
    assert len(result.losses) == 40 and all(np.isfinite(result.losses))
    assert np.mean(result.losses[-5:]) < 0.5 * result.losses[0]
    assert result.model.backbone is backbone
    assert result.patch_accuracy > 0.25  # chance level for a 2 x 2 puzzle


def test_loading_reports_missing_pillow_or_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hsjp.load_person_crops(tmp_path / "absent", (32, 32))
    with pytest.raises(ValueError):
        hsjp.load_person_crops(tmp_path, (32, 32))
    (tmp_path / "person.jpg").write_bytes(b"\xff\xd8\xff")
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(hsjp.PillowMissingError, match="Pillow"):
            hsjp.load_person_crops(tmp_path, (32, 32))
    else:
        with pytest.raises(OSError):  # Pillow cannot identify a truncated jpeg
            hsjp.load_person_crops(tmp_path, (32, 32))


def test_crop_and_grid_sizes_must_divide() -> None:
    with pytest.raises(ValueError, match="divisible"):
        hsjp.shuffle_patches(torch.zeros(1, 3, 10, 9), torch.tensor([[0, 1, 2, 3]]), (2, 2))
