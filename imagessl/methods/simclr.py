"""SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"): two augmented views, encoder, 2-layer projection head, NT-Xent.

The loss is :class:`molssl.contrastive.NTXentLoss`, the same class molecular pretraining uses;
with ``gather_distributed`` the negatives come from every DDP process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagessl.config import SimCLRConfig
from imagessl.encoders import ImageEncoder
from imagessl.methods.registry import MethodContext, register_method, split_batch
from imagessl.transforms import SimCLRViews, TwoViewCollate, simclr_augmentation
from molssl.contrastive.heads import ProjectionHead
from molssl.contrastive.losses.ntxent import NTXentLoss

__all__ = ["Embeddings", "SimCLRModel", "SimCLRObjective"]


class Embeddings(NamedTuple):
    """Encoder embedding ``h [N, D]`` and projection ``z [N, proj_dim]``."""

    h: Tensor
    z: Tensor


class SimCLRModel(nn.Module):
    """Encoder followed by a projection head; ``forward(x) -> Embeddings(h, z)``."""

    def __init__(self, encoder: ImageEncoder, head: ProjectionHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Embeddings:
        h = self.encoder(x)
        return Embeddings(h, self.head(h))


class SimCLRObjective:
    """Both views through the model in one pass, NT-Xent between their projections.

    Accepts default-collated ``[images uint8 [B, 3, H, W], labels]`` (views built here from the
    trainer's generator) or ``[(view_a, view_b), labels]`` from :class:`TwoViewCollate`.
    """

    def __init__(self, views: SimCLRViews, loss: NTXentLoss) -> None:
        self.views = views
        self.loss = loss

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        images, _ = split_batch(batch)
        if isinstance(images, list | tuple):
            view_a, view_b = images
        else:
            view_a, view_b = self.views(images, generator)
        out = model(torch.cat([view_a, view_b]))
        n = view_a.shape[0]
        loss = self.loss(out.z[:n], out.z[n:])
        with torch.no_grad():
            pos = F.cosine_similarity(out.z[:n], out.z[n:]).mean()
        return loss, {"pos_cosine": float(pos)}


def _views(cfg: SimCLRConfig, ctx: MethodContext) -> SimCLRViews:
    aug = simclr_augmentation(ctx.image_size, cfg.color_strength, cfg.crop_scale, cfg.blur)
    return SimCLRViews(aug, ctx.normalize)


def _collate(cfg: SimCLRConfig, ctx: MethodContext) -> TwoViewCollate | None:
    return TwoViewCollate(_views(cfg, ctx)) if cfg.augment_in_workers else None


@register_method("simclr", collate=_collate)
def build_simclr(
    cfg: SimCLRConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[SimCLRModel, SimCLRObjective]:
    """SimCLR model (encoder + 2-layer head) and objective."""
    head = ProjectionHead(encoder.out_dim, cfg.proj_hidden_dim, cfg.proj_dim, num_layers=2)
    loss = NTXentLoss(cfg.temperature, gather_distributed=cfg.gather_distributed)
    return SimCLRModel(encoder, head), SimCLRObjective(_views(cfg, ctx), loss)
