"""Pretext-task transforms: ``(images, generator) -> (inputs, labels)``, vectorised on the batch.

- :class:`RotationTransform` (RotNet, Gidaris et al. 2018): every image in all four rotations.
- :class:`RelPatchTransform` (Doersch et al. 2015): a centre patch and one of its 8 neighbours
  from a 3x3 grid with gaps, jitter and colour-channel dropping.
- :class:`JigsawTransform` (Noroozi & Favaro 2016): 9 tiles shuffled by one of K permutations
  of maximal Hamming distance (:func:`maximal_hamming_permutations`).

Inputs are normalised float images ``[B, C, H, W]``; all randomness comes from ``generator``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "NEIGHBOURS",
    "Grid",
    "JigsawTransform",
    "RelPatchTransform",
    "RotationTransform",
    "crop_patches",
    "maximal_hamming_permutations",
]

NEIGHBOURS: tuple[tuple[int, int], ...] = (
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 0),
    (1, 2),
    (2, 0),
    (2, 1),
    (2, 2),
)
"""Grid ``(row, col)`` of the neighbour for relative-position label ``0..7``; the centre is (1, 1)."""


def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _randint(high: int, shape: tuple[int, ...], generator: torch.Generator, device) -> Tensor:
    return torch.randint(high, shape, generator=generator, device=generator.device).to(device)


class RotationTransform:
    """All four rotations (0, 90, 180, 270 degrees counter-clockwise) of every image.

    Args:
        flip: Randomly flip each image horizontally first (default True).

    Call:
        ``(x [B, C, H, W], generator) -> (x4 [4B, C, H, W], labels long [4B])``; rows
        ``kB..(k+1)B-1`` are ``torch.rot90(x, k, dims=(-2, -1))`` with label ``k``.
    """

    def __init__(self, flip: bool = True) -> None:
        self.flip = flip

    def __call__(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if self.flip:
            flip = _rand((x.shape[0],), generator, x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        rotated = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])
        labels = torch.arange(4, device=x.device).repeat_interleave(x.shape[0])
        return rotated, labels


@dataclass(frozen=True)
class Grid:
    """A 3x3 grid of patches on a ``size``-pixel image.

    Cells are ``size // 3`` pixels (the grid is centred); each patch is
    ``cell - gap - 2 * jitter`` pixels and sits in its cell with a random shift of up to
    ``jitter`` pixels, so neighbouring patches are always at least ``gap`` pixels apart.

    Raises:
        ValueError: If the patch would be smaller than 1 pixel.
    """

    size: int
    gap: int
    jitter: int

    def __post_init__(self) -> None:
        if self.gap < 0 or self.jitter < 0 or self.patch < 1:
            raise ValueError(
                f"a 3x3 grid on {self.size}px images with gap={self.gap} and "
                f"jitter={self.jitter} leaves patches of {self.patch}px; lower gap/jitter or "
                "raise resize"
            )

    @property
    def cell(self) -> int:
        return self.size // 3

    @property
    def patch(self) -> int:
        return self.cell - self.gap - 2 * self.jitter

    def origins(self, cells: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Top-left pixel of the patches in ``cells`` (``3 * row + col``), jittered."""
        margin = (self.size - 3 * self.cell) // 2 + self.gap // 2 + self.jitter
        top = margin + torch.div(cells, 3, rounding_mode="floor") * self.cell
        left = margin + (cells % 3) * self.cell
        if self.jitter and generator is not None:
            shift = _randint(2 * self.jitter + 1, (2, *cells.shape), generator, cells.device)
            top, left = top + shift[0] - self.jitter, left + shift[1] - self.jitter
        return top, left


def crop_patches(x: Tensor, top: Tensor, left: Tensor, size: int) -> Tensor:
    """Square crops: ``x [B, C, H, W]``, ``top/left long [B, P]`` -> ``[B, P, C, size, size]``."""
    offsets = torch.arange(size, device=x.device)
    rows = (top.unsqueeze(-1) + offsets)[..., :, None]
    cols = (left.unsqueeze(-1) + offsets)[..., None, :]
    batch = torch.arange(x.shape[0], device=x.device).view(-1, 1, 1, 1)
    return x[batch, :, rows, cols].permute(0, 1, 4, 2, 3)


class RelPatchTransform:
    """Centre patch and a random neighbour; label = neighbour position (index in NEIGHBOURS).

    Args:
        grid: Patch geometry.
        channel_drop: Probability per patch of keeping one random channel and replacing the
            others with Gaussian noise of std 0.01 (in normalised units).

    Call:
        ``(x [B, C, S, S], generator) -> ((centre, neighbour) [B, C, p, p] each, labels [B])``.
    """

    def __init__(self, grid: Grid, channel_drop: float = 0.5) -> None:
        self.grid = grid
        self.channel_drop = channel_drop

    def __call__(
        self, x: Tensor, generator: torch.Generator
    ) -> tuple[tuple[Tensor, Tensor], Tensor]:
        b, c = x.shape[:2]
        labels = _randint(len(NEIGHBOURS), (b,), generator, x.device)
        neighbour_cells = torch.tensor([3 * r + k for r, k in NEIGHBOURS], device=x.device)
        cells = torch.stack([torch.full_like(labels, 4), neighbour_cells[labels]], dim=1)
        top, left = self.grid.origins(cells, generator)
        patches = crop_patches(x, top, left, self.grid.patch)
        if self.channel_drop > 0 and c > 1:
            drop = _rand((b, 2, 1, 1, 1), generator, x.device) < self.channel_drop
            keep = _randint(c, (b, 2), generator, x.device)
            keep_mask = torch.nn.functional.one_hot(keep, c).bool().view(b, 2, c, 1, 1)
            noise = 0.01 * torch.randn(
                patches.shape, generator=generator, device=generator.device
            ).to(x.device)
            patches = torch.where(drop & ~keep_mask, noise, patches)
        return (patches[:, 0], patches[:, 1]), labels


@functools.lru_cache(maxsize=8)
def _permutations(k: int, seed: int, candidates: int | None) -> np.ndarray:
    all_perms = np.array(list(itertools.permutations(range(9))), dtype=np.int8)
    rng = np.random.default_rng(seed)
    pool = all_perms
    if candidates is not None and candidates < len(all_perms):
        pool = all_perms[np.sort(rng.choice(len(all_perms), candidates, replace=False))]
    if k > len(pool):
        raise ValueError(f"cannot choose {k} permutations from a pool of {len(pool)}")
    chosen = [int(rng.integers(len(pool)))]
    min_dist = (pool != pool[chosen[0]]).sum(axis=1)
    for _ in range(k - 1):
        best = int(np.argmax(min_dist))
        chosen.append(best)
        min_dist = np.minimum(min_dist, (pool != pool[best]).sum(axis=1))
    return pool[chosen].astype(np.int64)


def maximal_hamming_permutations(
    k: int = 64, seed: int = 0, candidates: int | None = None
) -> Tensor:
    """K permutations of 9 tiles chosen greedily for maximal minimum Hamming distance.

    Starting from a seeded random permutation, each step adds the candidate whose minimum
    Hamming distance to the chosen set is largest (first index on ties), as in Noroozi & Favaro
    (2016). Deterministic given ``(k, seed, candidates)``; results are cached. With all 9!
    candidates, ``k=64, seed=0`` reaches a minimum pairwise distance of 7 (of 9).

    Args:
        k: Number of permutations (>= 1).
        seed: Seed of the first permutation (and of the candidate subset).
        candidates: Choose from this many random permutations (None: all 362,880; ~1 s).

    Returns:
        ``long [k, 9]``; row ``j`` lists which tile goes to each position.

    Raises:
        ValueError: If ``k < 1`` or exceeds the candidate pool.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return torch.from_numpy(_permutations(int(k), int(seed), candidates).copy())


class JigsawTransform:
    """Nine tiles of a 3x3 grid, shuffled by a random permutation from a fixed set.

    Position ``i`` of the output holds tile ``permutations[label][i]``.

    Args:
        grid: Tile geometry.
        permutations: ``long [K, 9]`` (see :func:`maximal_hamming_permutations`).
        standardize: Standardise each tile on its own (mean 0, std 1 over its pixels) against
            low-level shortcuts (default True).

    Call:
        ``(x [B, C, S, S], generator) -> (tiles [B, 9, C, t, t], labels long [B])``.
    """

    def __init__(self, grid: Grid, permutations: Tensor, standardize: bool = True) -> None:
        self.grid = grid
        self.permutations = permutations
        self.standardize = standardize

    def __call__(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        b = x.shape[0]
        cells = torch.arange(9, device=x.device).expand(b, 9)
        top, left = self.grid.origins(cells, generator)
        tiles = crop_patches(x, top, left, self.grid.patch)
        labels = _randint(len(self.permutations), (b,), generator, x.device)
        order = self.permutations.to(x.device)[labels]
        tiles = tiles[torch.arange(b, device=x.device).unsqueeze(1), order]
        if not self.standardize:
            return tiles, labels
        mean = tiles.mean(dim=(2, 3, 4), keepdim=True)
        std = tiles.std(dim=(2, 3, 4), keepdim=True).clamp_min(1e-3)
        return (tiles - mean) / std, labels
