"""Momentum-target and clustering methods on the SimCLR views: MoCo v2, BYOL and SwAV.

- ``moco`` (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
  Learning"; Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning"): the
  online encoder + projection head contrasts each view with the momentum target's projection of
  the other view (InfoNCE, :class:`molssl.contrastive.MoCoLoss`), with the target projections
  of the last ``queue_size`` images as negatives (:class:`molssl.contrastive.FeatureQueue`).
- ``byol`` (Grill et al. 2020, "Bootstrap Your Own Latent"): a BatchNorm MLP predictor on the
  online projection regresses the target projection of the other view (negative cosine); the
  target follows the online network with a cosine momentum schedule; no negatives.
- ``swav`` (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
  Assignments"): prototype scores of each view predict the Sinkhorn-Knopp codes of the other
  view (:class:`molssl.contrastive.SwAVLoss`); optionally a queue of past projections joins
  the equipartition (small batches). Two views, no multi-crop.

The target network and the queue are buffers/parameters of the model, so checkpoints and
``--resume`` carry them; the online encoder's weights sit under ``online.encoder.`` (MoCo, BYOL)
or ``encoder.`` (SwAV), which the method registry records for evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagessl.config import BYOLConfig, MoCoConfig, SwAVConfig
from imagessl.encoders import ImageEncoder
from imagessl.methods.registry import MethodContext, register_method, split_batch
from imagessl.methods.simclr import SimCLRModel
from imagessl.transforms import SimCLRViews, TwoViewCollate, simclr_augmentation
from molssl.contrastive.heads import PredictionHead, ProjectionHead
from molssl.contrastive.losses.bootstrap import NegativeCosineLoss
from molssl.contrastive.losses.infonce import MoCoLoss
from molssl.contrastive.losses.swav import SwAVLoss, SwAVPrototypes
from molssl.contrastive.momentum import MomentumModel
from molssl.contrastive.queue import FeatureQueue

__all__ = ["ImageMomentumModel", "MomentumObjective", "SwAVModel", "SwAVObjective"]

ViewConfig = MoCoConfig | BYOLConfig | SwAVConfig


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _views(cfg: ViewConfig, ctx: MethodContext) -> SimCLRViews:
    aug = simclr_augmentation(ctx.image_size, cfg.color_strength, cfg.crop_scale, cfg.blur)
    return SimCLRViews(aug, ctx.normalize)


def _collate(cfg: ViewConfig, ctx: MethodContext) -> TwoViewCollate | None:
    return TwoViewCollate(_views(cfg, ctx)) if cfg.augment_in_workers else None


def _forward_two_views(
    model: nn.Module, views: SimCLRViews, batch: Any, generator: torch.Generator
) -> tuple[Any, int]:
    """Two views of the batch's images (or the two given), one forward pass over both stacked.

    Returns:
        ``(out, n)``: the model's output for the ``2n`` images (view a's first) and ``n``.
    """
    images, _ = split_batch(batch)
    if isinstance(images, list | tuple):
        view_a, view_b = images[0], images[1]
    else:
        view_a, view_b = views(images, generator)
    return model(torch.cat([view_a, view_b])), view_a.shape[0]


class ImageMomentumModel(MomentumModel):
    """:class:`~molssl.contrastive.momentum.MomentumModel` around a :class:`SimCLRModel`;
    ``encoder`` is the online encoder (what probes and evaluation read)."""

    @property
    def encoder(self) -> ImageEncoder:
        """The online encoder."""
        return self.online.encoder


class MomentumObjective:
    """Both views through online network and target in one pass; MoCo or BYOL loss, symmetric.

    Args:
        kind: ``"moco"`` or ``"byol"``.
        views: The two-view augmentation.
        temperature: MoCo's InfoNCE temperature.
    """

    def __init__(self, kind: str, views: SimCLRViews, temperature: float = 0.2) -> None:
        self.kind, self.views = kind, views
        self.moco_loss = MoCoLoss(temperature)
        self.byol_loss = NegativeCosineLoss("byol")

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        out, n = _forward_two_views(model, self.views, batch, generator)
        p_a, p_b, t_a, t_b = out.prediction[:n], out.prediction[n:], out.target[:n], out.target[n:]
        if self.kind == "byol":
            loss = 0.5 * (self.byol_loss(p_a, t_b) + self.byol_loss(p_b, t_a))
            with torch.no_grad():
                cos = 0.5 * (F.cosine_similarity(p_a, t_b) + F.cosine_similarity(p_b, t_a)).mean()
            return loss, {"target_cosine": float(cos)}
        queue: FeatureQueue = _unwrap(model).queue
        negatives = queue.features.clone()  # enqueueing below writes the buffer in place
        loss = 0.5 * (self.moco_loss(p_a, t_b, negatives) + self.moco_loss(p_b, t_a, negatives))
        if model.training:
            queue.enqueue(t_b)
        return loss, {"queue_len": float(len(queue))}


@register_method("moco", collate=_collate, encoder_prefix="online.encoder.")
def build_moco(
    cfg: MoCoConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[ImageMomentumModel, MomentumObjective]:
    """MoCo v2: 2-layer projection head, constant-momentum target, queue of target keys."""
    head = ProjectionHead(encoder.out_dim, cfg.proj_hidden_dim, cfg.proj_dim, num_layers=2)
    model = ImageMomentumModel(
        SimCLRModel(encoder, head),
        queue=FeatureQueue(cfg.queue_size, cfg.proj_dim, gather_distributed=cfg.gather_distributed),
        base_momentum=cfg.momentum,
        final_momentum=cfg.momentum,
    )
    return model, MomentumObjective("moco", _views(cfg, ctx), cfg.temperature)


@register_method("byol", collate=_collate, encoder_prefix="online.encoder.")
def build_byol(
    cfg: BYOLConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[ImageMomentumModel, MomentumObjective]:
    """BYOL: BatchNorm projector and predictor, cosine-scheduled momentum target."""
    head = ProjectionHead(
        encoder.out_dim, cfg.proj_hidden_dim, cfg.proj_dim, num_layers=2, batch_norm=True
    )
    model = ImageMomentumModel(
        SimCLRModel(encoder, head),
        predictor=PredictionHead(cfg.proj_dim, cfg.pred_hidden_dim, cfg.proj_dim),
        base_momentum=cfg.base_momentum,
        final_momentum=cfg.final_momentum,
    )
    return model, MomentumObjective("byol", _views(cfg, ctx))


class SwAVOutput(NamedTuple):
    """Encoder embedding ``h``, projection ``z`` and prototype scores ``[N, K]``."""

    h: Tensor
    z: Tensor
    scores: Tensor


class SwAVModel(nn.Module):
    """Encoder, projection head, prototypes and an optional queue of past projections."""

    def __init__(
        self,
        encoder: ImageEncoder,
        head: ProjectionHead,
        prototypes: SwAVPrototypes,
        queue: FeatureQueue | None = None,
    ) -> None:
        super().__init__()
        self.encoder, self.head, self.prototypes, self.queue = encoder, head, prototypes, queue

    def forward(self, x: Tensor) -> SwAVOutput:
        h = self.encoder(x)
        z = F.normalize(self.head(h), dim=1)
        return SwAVOutput(h, z, self.prototypes(z))


class SwAVObjective:
    """Two views, prototype scores, swapped prediction of Sinkhorn codes (+ queued scores)."""

    def __init__(self, views: SimCLRViews, loss: SwAVLoss) -> None:
        self.views, self.loss = views, loss

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        out, n = _forward_two_views(model, self.views, batch, generator)
        core = _unwrap(model)
        queue_scores = None
        if core.queue is not None and len(core.queue):
            with torch.no_grad():
                queued = core.queue.features.view(-1, 2, core.queue.dim // 2)
                queue_scores = [core.prototypes(queued[:, 0]), core.prototypes(queued[:, 1])]
        loss = self.loss([out.scores[:n], out.scores[n:]], queue_scores=queue_scores)
        if core.queue is not None and model.training:
            core.queue.enqueue(torch.cat([out.z[:n], out.z[n:]], dim=1))
        with torch.no_grad():
            used = out.scores.argmax(dim=1).unique().numel()
        return loss, {"prototypes_used": float(used)}


@register_method("swav", collate=_collate)
def build_swav(
    cfg: SwAVConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[SwAVModel, SwAVObjective]:
    """SwAV with two views and an optional queue."""
    head = ProjectionHead(
        encoder.out_dim, cfg.proj_hidden_dim, cfg.proj_dim, num_layers=2, batch_norm=True
    )
    queue = None
    if cfg.queue_size:
        queue = FeatureQueue(
            cfg.queue_size, 2 * cfg.proj_dim, gather_distributed=cfg.gather_distributed
        )
    model = SwAVModel(encoder, head, SwAVPrototypes(cfg.proj_dim, cfg.num_prototypes), queue)
    loss = SwAVLoss(cfg.temperature, cfg.epsilon, cfg.sinkhorn_iterations, cfg.gather_distributed)
    return model, SwAVObjective(_views(cfg, ctx), loss)
