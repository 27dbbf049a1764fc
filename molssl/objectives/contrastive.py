"""MolCLR and iMolCLR: two augmented views -> encoder -> (weighted) NT-Xent [+ fragment NT-Xent].

- ``molclr`` (Wang et al., Nat. Mach. Intell. 2022): NT-Xent between the two views.
- ``imolclr`` (Wang et al., J. Chem. Inf. Model. 2022): NT-Xent whose negative terms are
  weighted by ``1 - lambda_1 * Tanimoto`` of the molecules' ECFP bits (faulty-negative
  mitigation), plus ``lambda_2`` times NT-Xent between the BRICS fragments of the two views.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform
from molssl.contrastive.distributed import gather_with_grad, is_dist_initialized, world_size
from molssl.contrastive.losses.fragment import FragmentContrastLoss
from molssl.contrastive.losses.ntxent import NTXentLoss, tanimoto_similarity, tanimoto_weights
from molssl.fingerprints import count_tanimoto_matrix
from molssl.objectives.base import (
    ObjectiveConfig,
    TwoViewForward,
    TwoViewObjective,
    forward_views,
    register_objective,
)
from molssl.objectives.compose import core_model


class ContrastiveObjective(TwoViewObjective):
    """Two augmented views -> encoder -> (weighted) NT-Xent [+ fragment NT-Xent].

    Args:
        augment: Builds the two views of a batch.
        loss: Graph-level NT-Xent.
        lambda_1: Tanimoto weighting strength (0 disables it; needs ``batch.fp``).
        lambda_2: Fragment loss weight (0 disables it; needs ``batch.frag``/``num_frags``).
        fragment_loss: Fragment NT-Xent (built from ``loss``'s temperature when None).
    """

    encoder_prefix = ""

    def __init__(
        self,
        augment: TwoViewTransform,
        loss: NTXentLoss,
        *,
        lambda_1: float = 0.0,
        lambda_2: float = 0.0,
        fragment_loss: FragmentContrastLoss | None = None,
    ) -> None:
        self.augment = augment
        self.loss = loss
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.fragment_loss = fragment_loss or FragmentContrastLoss(loss.temperature)

    def build_model(self, encoder: nn.Module, *, fingerprint_bits: int | None = None) -> nn.Module:
        """The model this objective trains: the encoder itself."""
        del fingerprint_bits
        return encoder

    def _weights(self, batch: Batch) -> Tensor | None:
        if not self.lambda_1:
            return None
        distributed = self.loss.gather_distributed and is_dist_initialized() and world_size() > 1
        if "fp_count" in batch:  # iMolCLR's exact count fingerprints
            keys, num = batch.fp_count, batch.fp_count_num
            other_keys, other_num = keys, num
            if distributed:
                other_keys, other_num = gather_with_grad(keys), gather_with_grad(num)
            sim = count_tanimoto_matrix(keys, num, other_keys, other_num)
        elif "fp" in batch:
            fp = batch.fp.float()
            sim = tanimoto_similarity(fp, gather_with_grad(fp) if distributed else fp)
        else:
            raise ValueError(
                "lambda_1 > 0 needs fingerprints on every graph (batch.fp or batch.fp_count); "
                "build the data with MolGraphFeaturizer(fingerprint=True) or `molssl featurize` "
                "(default extras)."
            )
        return tanimoto_weights(sim, self.lambda_1)

    def call_with_views(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float], TwoViewForward]:
        """The loss and metrics of :meth:`__call__`, and the forward of the two views for the
        pretext terms composed with this objective."""
        out, views = forward_views(model, self.augment, batch, generator)
        n = views.num_graphs
        z_a, z_b = out.z[:n], out.z[n:]
        loss = self.loss(z_a, z_b, weight=self._weights(batch))
        metrics = {"loss_global": float(loss.detach())}
        if self.lambda_2:
            if "frag" not in batch:
                raise ValueError(
                    "lambda_2 > 0 needs BRICS fragment ids (batch.frag, batch.num_frags); build "
                    "the data with MolGraphFeaturizer(fragments=True)."
                )
            encoder = core_model(model)
            split = batch.num_nodes
            frag_loss = self.fragment_loss(
                out.node[:split],
                out.node[split:],
                batch.frag,
                batch.num_frags,
                batch.batch,
                head=lambda e: encoder.project(encoder.embed_pooled(e)),
            )
            metrics["loss_fragment"] = float(frag_loss.detach())
            loss = loss + self.lambda_2 * frag_loss
        return loss, metrics, views


def _build(config: ObjectiveConfig, augment: TwoViewTransform) -> ContrastiveObjective:
    lambda_1, lambda_2 = config.resolved()
    return ContrastiveObjective(
        augment,
        NTXentLoss(config.value("temperature"), gather_distributed=config.gather_distributed),
        lambda_1=lambda_1,
        lambda_2=lambda_2,
    )


register_objective(
    "molclr",
    preset={"temperature": 0.1, "lambda_1": 0.0, "lambda_2": 0.0},
    description="NT-Xent between two augmented views (MolCLR)",
)(_build)
register_objective(
    "imolclr",
    preset={"temperature": 0.1, "lambda_1": 0.5, "lambda_2": 0.5},
    description="Tanimoto-weighted NT-Xent + BRICS fragment NT-Xent (iMolCLR)",
)(_build)
