"""Pretext transforms: labels match what was done to the images."""

from __future__ import annotations

import itertools

import pytest
import torch

from imagessl.color import lab_to_rgb, rgb_to_lab
from imagessl.masks import MASKS
from imagessl.pretext import (
    NEIGHBOURS,
    Grid,
    JigsawTransform,
    RelPatchTransform,
    RotationTransform,
    maximal_hamming_permutations,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _cell_image(size: int, batch: int = 4) -> torch.Tensor:
    """Images whose 3x3 grid cell ``3r + c`` is filled with the value ``3r + c``."""
    grid = Grid(size, 0, 0)
    img = torch.full((batch, 3, size, size), -1.0)
    margin = (size - 3 * grid.cell) // 2
    for r, c in itertools.product(range(3), range(3)):
        rows = slice(margin + r * grid.cell, margin + (r + 1) * grid.cell)
        cols = slice(margin + c * grid.cell, margin + (c + 1) * grid.cell)
        img[:, :, rows, cols] = 3 * r + c
    return img


def test_rotation_labels_match_rotations_of_an_asymmetric_image() -> None:
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 0, 0], img[0, 0, 0, 1] = 1.0, 2.0  # top-left pixel and its right neighbour
    out, labels = RotationTransform(flip=False)(img, _gen())
    assert labels.tolist() == [0, 1, 2, 3]
    # 90 degrees counter-clockwise: the top row becomes the left column, read bottom-up.
    assert out[1, 0, 4, 0] == 1.0 and out[1, 0, 3, 0] == 2.0
    assert out[2, 0, 4, 4] == 1.0 and out[2, 0, 4, 3] == 2.0
    assert out[3, 0, 0, 4] == 1.0 and out[3, 0, 1, 4] == 2.0
    for k in range(4):
        assert torch.equal(out[k], torch.rot90(img[0], k, dims=(-2, -1)))


def test_rotation_covers_every_image_four_times() -> None:
    x = torch.randn(3, 3, 8, 8)
    out, labels = RotationTransform(flip=True)(x, _gen(1))
    assert out.shape == (12, 3, 8, 8)
    assert torch.bincount(labels).tolist() == [3, 3, 3, 3]


def test_relpatch_labels_match_neighbour_positions_and_gaps() -> None:
    size, gap, jitter = 64, 4, 2
    grid = Grid(size, gap, jitter)
    x = _cell_image(size, batch=64)
    (centre, neighbour), labels = RelPatchTransform(grid, channel_drop=0.0)(x, _gen(2))
    assert centre.shape == neighbour.shape == (64, 3, grid.patch, grid.patch)
    assert (centre == 4).all(), "the centre patch must lie inside the centre cell"
    for patch, label in zip(neighbour, labels.tolist(), strict=True):
        r, c = NEIGHBOURS[label]
        assert (patch == 3 * r + c).all()
    assert set(labels.tolist()) == set(range(8))
    cells = torch.tensor([[4, 5]])
    for seed in range(20):
        top, left = grid.origins(cells, _gen(seed))
        assert left[0, 1] - (left[0, 0] + grid.patch) >= gap  # never closer than the gap


def test_relpatch_channel_drop_keeps_one_channel() -> None:
    x = torch.randn(32, 3, 64, 64) + 5.0
    (centre, _), _ = RelPatchTransform(Grid(64, 4, 2), channel_drop=1.0)(x, _gen(3))
    kept = (centre.abs() > 1.0).flatten(2).all(dim=2)  # original channels are far from 0
    assert (kept.sum(dim=1) == 1).all()


def test_jigsaw_permutations_are_deterministic_with_promised_distance() -> None:
    perms = maximal_hamming_permutations(64, seed=0)
    assert perms.shape == (64, 9)
    assert torch.equal(perms, maximal_hamming_permutations(64, seed=0))
    assert all(sorted(p) == list(range(9)) for p in perms.tolist())
    dist = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    dist.fill_diagonal_(9)
    assert int(dist.min()) >= 7  # the documented minimum for k=64, seed=0 over all 9!
    assert len({tuple(p) for p in perms.tolist()}) == 64
    other = maximal_hamming_permutations(16, seed=1, candidates=5000)
    assert torch.equal(other, maximal_hamming_permutations(16, seed=1, candidates=5000))
    assert not torch.equal(other, maximal_hamming_permutations(16, seed=2, candidates=5000))


def test_jigsaw_tiles_follow_the_labelled_permutation() -> None:
    perms = maximal_hamming_permutations(8, seed=0, candidates=2000)
    grid = Grid(64, 2, 1)
    tiles, labels = JigsawTransform(grid, perms, standardize=False)(_cell_image(64, 16), _gen(4))
    assert tiles.shape == (16, 9, 3, grid.patch, grid.patch)
    for b in range(16):
        for position in range(9):
            assert (tiles[b, position] == perms[labels[b], position]).all()
    std_tiles, _ = JigsawTransform(grid, perms)(torch.randn(2, 3, 64, 64), _gen(4))
    assert torch.allclose(std_tiles.mean(dim=(2, 3, 4)), torch.zeros(2, 9), atol=1e-5)


def test_grid_rejects_patches_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="lower gap"):
        Grid(12, 3, 1)


@pytest.mark.parametrize("name", sorted(MASKS))
def test_masks_cover_about_the_requested_fraction(name: str) -> None:
    mask = MASKS[name](8, 32, 0.25, _gen(5), num_blocks=2)
    assert mask.shape == (8, 1, 32, 32) and mask.dtype == torch.bool
    assert 0.1 < mask.float().mean() < 0.3


def test_rgb_to_lab_reference_values_and_round_trip() -> None:
    rgb = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).T.reshape(3, 3, 1)
    lab = rgb_to_lab(rgb).squeeze(-1).T
    expected = torch.tensor([[53.2408, 80.0925, 67.2032], [100.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(lab, expected, atol=0.02)
    x = torch.rand(2, 3, 6, 6)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-4)
