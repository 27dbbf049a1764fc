"""Classification pretext tasks: rotation, relative patch position and jigsaw.

Each is a transform producing ``(inputs, labels)`` from the normalised batch, a model (shared
encoder + MLP head) and cross-entropy; the logged metric ``acc`` is the pretext accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagessl.config import JigsawConfig, RelPatchConfig, RotationConfig
from imagessl.encoders import ImageEncoder
from imagessl.methods.registry import MethodContext, register_method, split_batch
from imagessl.pretext import (
    Grid,
    JigsawTransform,
    RelPatchTransform,
    RotationTransform,
    maximal_hamming_permutations,
)
from imagessl.transforms import Normalize
from molssl.contrastive.heads import ProjectionHead

__all__ = ["JigsawModel", "PairModel", "PretextObjective", "RotationModel"]


class RotationModel(nn.Module):
    """``x [N, C, H, W] -> logits [N, 4]``: encoder + 2-layer MLP."""

    def __init__(self, encoder: ImageEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(encoder.out_dim, encoder.out_dim, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


class PairModel(nn.Module):
    """Shared encoder on both patches, concatenated features, MLP: ``-> logits [B, classes]``."""

    def __init__(self, encoder: ImageEncoder, hidden_dim: int, num_classes: int = 8) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(2 * encoder.out_dim, hidden_dim, num_classes)

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        h = self.encoder(torch.cat([first, second]))
        n = first.shape[0]
        return self.head(torch.cat([h[:n], h[n:]], dim=1))


class JigsawModel(nn.Module):
    """Shared encoder per tile, 9 concatenated features, MLP: ``tiles [B, 9, C, t, t] -> [B, K]``."""

    def __init__(self, encoder: ImageEncoder, hidden_dim: int, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(9 * encoder.out_dim, hidden_dim, num_classes)

    def forward(self, tiles: Tensor) -> Tensor:
        b = tiles.shape[0]
        h = self.encoder(tiles.flatten(0, 1))
        return self.head(h.view(b, -1))


class PretextObjective:
    """Normalise (and resize), apply the pretext transform, classify, cross-entropy.

    Args:
        transform: ``(x, generator) -> (inputs, labels)``; a tuple of inputs is passed to the
            model as separate arguments.
        normalize: uint8 -> standardised float.
        resize: Resize the normalised images to this side first (None: keep).
    """

    def __init__(
        self,
        transform: Callable[[Tensor, torch.Generator], tuple[Any, Tensor]],
        normalize: Normalize,
        resize: int | None = None,
    ) -> None:
        self.transform = transform
        self.normalize = normalize
        self.resize = resize

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        images, _ = split_batch(batch)
        x = self.normalize(images)
        if self.resize is not None and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", antialias=True)
        inputs, labels = self.transform(x, generator)
        logits = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.detach().argmax(dim=1) == labels).float().mean()
        return loss, {"acc": float(acc)}


@register_method("rotation")
def build_rotation(
    cfg: RotationConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[RotationModel, PretextObjective]:
    """RotNet: 4-way rotation classification of every image in all four rotations."""
    return RotationModel(encoder), PretextObjective(RotationTransform(cfg.flip), ctx.normalize)


@register_method("relpatch")
def build_relpatch(
    cfg: RelPatchConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[PairModel, PretextObjective]:
    """Relative patch position: 8-way classification of the neighbour's position."""
    grid = Grid(cfg.resize or ctx.image_size, cfg.gap, cfg.jitter)
    transform = RelPatchTransform(grid, cfg.channel_drop)
    model = PairModel(encoder, cfg.hidden_dim, 8)
    return model, PretextObjective(transform, ctx.normalize, cfg.resize)


@register_method("jigsaw")
def build_jigsaw(
    cfg: JigsawConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[JigsawModel, PretextObjective]:
    """Jigsaw: K-way classification of the tile permutation."""
    grid = Grid(cfg.resize or ctx.image_size, cfg.gap, cfg.jitter)
    perms = maximal_hamming_permutations(cfg.num_permutations, cfg.permutation_seed, cfg.candidates)
    model = JigsawModel(encoder, cfg.hidden_dim, cfg.num_permutations)
    return model, PretextObjective(JigsawTransform(grid, perms), ctx.normalize, cfg.resize)
