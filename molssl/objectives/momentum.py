"""Momentum-target objectives for molecules: BYOL and MoCo on the MolCLR graph views.

Both use the same two augmented views and the same encoder as MolCLR, wrapped in a
:class:`~molssl.contrastive.momentum.MomentumModel` whose target network follows the online
encoder by an exponential moving average (cosine momentum schedule):

- ``byol`` (Grill et al. 2020): the online projection goes through a BatchNorm MLP predictor
  and regresses the target projection of the other view (negative cosine, symmetrised); no
  negatives.
- ``moco`` (He et al. 2020; Chen et al. 2020, MoCo v2): InfoNCE of the online projection
  against the target projection of the other view, with the target projections of the last
  ``queue_size`` molecules (all ranks) as negatives. With ``lambda_1 > 0`` the negatives are
  weighted by iMolCLR's ``1 - lambda_1 * Tanimoto`` (Wang et al. 2022), computed from ECFP bits
  that the queue keeps beside each queued projection.

The encoder's weights sit under ``online.`` in the checkpoint's ``state_dict``; the checkpoint
records that prefix (``encoder_prefix``) so ``molssl embed`` and fine-tuning load them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform
from molssl.contrastive.heads import PredictionHead
from molssl.contrastive.losses.bootstrap import NegativeCosineLoss
from molssl.contrastive.losses.infonce import MoCoLoss
from molssl.contrastive.losses.ntxent import tanimoto_similarity, tanimoto_weights
from molssl.contrastive.momentum import MomentumModel
from molssl.contrastive.queue import FeatureQueue
from molssl.objectives.base import (
    BYOLConfig,
    MoCoConfig,
    ObjectiveConfig,
    TwoViewForward,
    TwoViewObjective,
    forward_views,
    register_objective,
)
from molssl.objectives.compose import core_model

__all__ = ["MOMENTUM_PRESETS", "MomentumObjective"]

#: Defaults of the momentum objectives (``None`` fields of ObjectiveConfig take these).
MOMENTUM_PRESETS: dict[str, dict[str, float]] = {
    "byol": {"base_momentum": 0.99, "final_momentum": 1.0, "lambda_1": 0.0, "lambda_2": 0.0},
    "moco": {
        "base_momentum": 0.99,
        "final_momentum": 0.99,
        "lambda_1": 0.0,
        "lambda_2": 0.0,
        "temperature": 0.2,
    },
}


class MomentumObjective(TwoViewObjective):
    """Two views -> online encoder (+ predictor) and momentum target -> BYOL or MoCo loss.

    Args:
        kind: ``"byol"`` or ``"moco"``.
        augment: Builds the two views of a batch.
        base_momentum: Target momentum at step 0.
        final_momentum: Target momentum at the last step.
        temperature: MoCo's InfoNCE temperature.
        queue_size: MoCo's number of queued negatives.
        lambda_1: MoCo: strength of the Tanimoto weights of the queued negatives (0: off).
        predictor_hidden: BYOL's predictor hidden width.

    Raises:
        ValueError: Unknown ``kind``, ``queue_size < 1`` or ``lambda_1`` outside ``[0, 1]``.
    """

    encoder_prefix = "online."

    def __init__(
        self,
        kind: str,
        augment: TwoViewTransform,
        *,
        base_momentum: float,
        final_momentum: float,
        temperature: float = 0.2,
        queue_size: int = 4096,
        lambda_1: float = 0.0,
        predictor_hidden: int = 512,
    ) -> None:
        if kind not in MOMENTUM_PRESETS:
            raise ValueError(f"unknown momentum objective {kind!r}; choose byol or moco")
        if queue_size < 1:
            raise ValueError(f"objective.moco.queue_size must be >= 1, got {queue_size}")
        if not 0.0 <= lambda_1 <= 1.0:
            raise ValueError(f"objective.lambda_1 must be in [0, 1], got {lambda_1}")
        if kind == "byol" and lambda_1:
            raise ValueError(
                "objective.lambda_1 weights negatives and BYOL has none; use objective.name=moco "
                "for Tanimoto-weighted queued negatives"
            )
        self.kind = kind
        self.augment = augment
        self.base_momentum, self.final_momentum = base_momentum, final_momentum
        self.queue_size = int(queue_size)
        self.lambda_1 = float(lambda_1)
        self.predictor_hidden = int(predictor_hidden)
        self.byol_loss = NegativeCosineLoss("byol")
        self.moco_loss = MoCoLoss(temperature)

    def build_model(self, encoder: nn.Module, *, fingerprint_bits: int | None = None) -> nn.Module:
        """Wrap ``encoder`` (a MolEncoder) into the :class:`MomentumModel` this objective
        trains: a predictor for BYOL, a queue (with ECFP bits when ``lambda_1 > 0``) for MoCo.

        Raises:
            ValueError: MoCo with ``lambda_1 > 0`` but no ECFP bits in the data.
        """
        if self.lambda_1 and not fingerprint_bits:
            raise ValueError(
                "objective.lambda_1 > 0 with moco needs ECFP bits in the store "
                "(data.fingerprint_kind=ecfp, the default of `molssl featurize`)"
            )
        dim = int(encoder.config.proj_dim)
        predictor, queue = None, None
        if self.kind == "byol":
            predictor = PredictionHead(dim, self.predictor_hidden, dim)
        else:
            extras = {"fp": ((int(fingerprint_bits),), torch.bool)} if self.lambda_1 else None
            queue = FeatureQueue(self.queue_size, dim, extras=extras)
        return MomentumModel(
            encoder,
            predictor=predictor,
            queue=queue,
            base_momentum=self.base_momentum,
            final_momentum=self.final_momentum,
        )

    def _queue_weights(self, batch: Batch, queue: FeatureQueue) -> Tensor | None:
        if not self.lambda_1:
            return None
        if "fp" not in batch:
            raise ValueError(
                "objective.lambda_1 > 0 needs ECFP bits on every graph (batch.fp); build the "
                "store with `molssl featurize` (default extras, fingerprint_kind=ecfp)"
            )
        sim = tanimoto_similarity(batch.fp, queue.extra("fp"))
        return tanimoto_weights(sim, self.lambda_1)

    def call_with_views(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float], TwoViewForward]:
        """The loss and metrics of :meth:`__call__`, and the forward of the two views (the
        online branch's encoder output) for the pretext terms composed with this objective."""
        out, views = forward_views(model, self.augment, batch, generator)
        views = views._replace(encoded=out.online)
        n = views.num_graphs
        p_a, p_b = out.prediction[:n], out.prediction[n:]
        t_a, t_b = out.target[:n], out.target[n:]
        if self.kind == "byol":
            loss = 0.5 * (self.byol_loss(p_a, t_b) + self.byol_loss(p_b, t_a))
            return loss, {}, views
        core = core_model(model)
        queue: FeatureQueue = core.queue
        negatives = queue.features.clone()  # enqueueing below writes the buffer in place
        weight = self._queue_weights(batch, queue)
        loss = 0.5 * (
            self.moco_loss(p_a, t_b, negatives, weight=weight)
            + self.moco_loss(p_b, t_a, negatives, weight=weight)
        )
        if model.training:
            extras = {"fp": batch.fp} if self.lambda_1 else {}
            queue.enqueue(t_b, **extras)
        return loss, {"queue_len": float(len(queue))}, views


def _build(config: ObjectiveConfig, augment: TwoViewTransform) -> MomentumObjective:
    if config.lambda_2:
        raise ValueError(
            f"objective.lambda_2 (fragment contrast) applies to molclr/imolclr, not "
            f"{config.name}; remove it or set it to 0"
        )
    return MomentumObjective(
        config.name,
        augment,
        base_momentum=config.value("base_momentum"),
        final_momentum=config.value("final_momentum"),
        temperature=config.value("temperature", 0.2),
        queue_size=config.moco.queue_size,
        lambda_1=config.value("lambda_1", 0.0),
        predictor_hidden=config.byol.predictor_hidden,
    )


register_objective(
    "byol",
    preset=MOMENTUM_PRESETS["byol"],
    description="BYOL: predictor + momentum target",
    config=BYOLConfig,
)(_build)
register_objective(
    "moco",
    preset=MOMENTUM_PRESETS["moco"],
    description="MoCo v2: momentum target + queue",
    config=MoCoConfig,
)(_build)
