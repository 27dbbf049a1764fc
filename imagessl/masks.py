"""Masks for the context encoder (Pathak et al. 2016): ``True`` marks pixels to inpaint.

Every generator has the signature ``(batch, size, fraction, generator, *, num_blocks) ->
bool [B, 1, size, size]`` and draws its randomness from ``generator``; :data:`MASKS` maps
names to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["MASKS", "block_masks", "center_masks", "region_masks"]


def center_masks(
    batch: int, size: int, fraction: float, generator: torch.Generator, *, num_blocks: int = 1
) -> Tensor:
    """The central square covering ``fraction`` of the image (Pathak's "central region")."""
    side = max(1, round(math.sqrt(fraction) * size))
    start = (size - side) // 2
    mask = torch.zeros(batch, 1, size, size, dtype=torch.bool, device=generator.device)
    mask[..., start : start + side, start : start + side] = True
    return mask


def block_masks(
    batch: int, size: int, fraction: float, generator: torch.Generator, *, num_blocks: int = 2
) -> Tensor:
    """``num_blocks`` random squares per image, together about ``fraction`` of its area."""
    side = max(1, round(math.sqrt(fraction / num_blocks) * size))
    device = generator.device
    starts = torch.randint(
        0, size - side + 1, (2, batch, num_blocks), generator=generator, device=device
    )
    coords = torch.arange(size, device=device)
    rows = (coords >= starts[0, ..., None]) & (coords < starts[0, ..., None] + side)
    cols = (coords >= starts[1, ..., None]) & (coords < starts[1, ..., None] + side)
    mask = (rows[..., :, None] & cols[..., None, :]).any(dim=1)
    return mask.unsqueeze(1)


def region_masks(
    batch: int, size: int, fraction: float, generator: torch.Generator, *, num_blocks: int = 1
) -> Tensor:
    """Random blob-shaped regions: smooth noise thresholded at its ``1 - fraction`` quantile."""
    coarse = max(2, size // 8)
    noise = torch.rand(batch, 1, coarse, coarse, generator=generator, device=generator.device)
    smooth = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    threshold = torch.quantile(smooth.flatten(1), 1.0 - fraction, dim=1).view(-1, 1, 1, 1)
    return smooth > threshold


MASKS: dict[str, Callable[..., Tensor]] = {
    "block": block_masks,
    "center": center_masks,
    "region": region_masks,
}
"""Mask generators by name (``InpaintingConfig.mask``)."""
