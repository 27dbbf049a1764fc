"""Pretraining objectives: MolCLR and iMolCLR as compositions of augmentations and losses.

An objective is the molecule-specific part of a training step for
:class:`molssl.contrastive.trainer.Trainer`: ``(model, batch, generator) -> (loss, metrics)``.
Both views of a batch go through the encoder in one forward pass (the views are concatenated
into one graph batch), which halves the kernel launches and keeps DDP to one forward per step.

- ``molclr`` (Wang et al., Nat. Mach. Intell. 2022): NT-Xent between the two views.
- ``imolclr`` (Wang et al., J. Chem. Inf. Model. 2022): NT-Xent whose negative terms are
  weighted by ``1 - lambda_1 * Tanimoto`` of the molecules' ECFP bits (faulty-negative
  mitigation), plus ``lambda_2`` times NT-Xent between the BRICS fragments of the two views.
- ``byol`` and ``moco``: momentum-target objectives, see :mod:`molssl.momentum_objectives`.

Every objective also says which model it trains: ``objective.build_model(encoder)`` (the
encoder itself, or a wrapper with a target network) and ``objective.encoder_prefix`` (where the
encoder's weights sit in that model's ``state_dict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform, build_augmentation
from molssl.config import ConfigError, did_you_mean
from molssl.contrastive.distributed import gather_with_grad, is_dist_initialized, world_size
from molssl.contrastive.fragment import FragmentContrastLoss
from molssl.contrastive.losses import NTXentLoss, tanimoto_similarity, tanimoto_weights
from molssl.fingerprints import count_tanimoto_matrix
from molssl.momentum_objectives import MOMENTUM_PRESETS, MomentumObjective


@dataclass
class ObjectiveConfig:
    """Settings of a pretraining objective.

    Attributes:
        name: ``molclr``, ``imolclr``, ``byol`` or ``moco`` (see :data:`OBJECTIVES`).
        augmentation: Augmentation of each view: a registry name of :mod:`molssl.augment`
            (``molclr`` = atom masking + bond deletion at 25%, MolCLR's ``node`` default;
            ``subgraph``; ``mix``) or a mapping with ``name`` and arguments.
        temperature: NT-Xent (and MoCo InfoNCE) temperature (0.1).
        gather_distributed: Under DDP, take negatives from every rank (all-gather).
        lambda_1: Faulty-negative weight strength; None takes the preset's (0 for molclr,
            byol and moco, 0.5 for imolclr). With moco it weights the queued negatives.
        lambda_2: Weight of the fragment loss; None takes the preset's (0 / 0.5); molclr and
            imolclr only.
        base_momentum: byol/moco: target-network momentum at step 0; None takes the preset's
            (0.99).
        final_momentum: byol/moco: momentum at the last step, cosine in between; None takes
            the preset's (1.0 for byol, constant 0.99 for moco).
        queue_size: moco: queued negatives (target projections of past molecules).
        predictor_hidden: byol: hidden width of the predictor MLP.
    """

    name: str = "molclr"
    augmentation: str | dict = "molclr"
    temperature: float = 0.1
    gather_distributed: bool = True
    lambda_1: float | None = None
    lambda_2: float | None = None
    base_momentum: float | None = None
    final_momentum: float | None = None
    queue_size: int = 4096
    predictor_hidden: int = 512

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ConfigError(
                f"unknown objective {self.name!r}{did_you_mean(self.name, OBJECTIVES)} "
                f"(objective.name); choose one of {', '.join(OBJECTIVES)}"
            )
        if not self.temperature > 0:
            raise ConfigError(
                f"objective.temperature must be > 0 (NT-Xent divides by it), got "
                f"{self.temperature}; MolCLR uses 0.1"
            )
        for name in ("lambda_1", "lambda_2"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"objective.{name} must be >= 0 or null, got {value}")

    def resolved(self) -> tuple[float, float]:
        """``(lambda_1, lambda_2)`` with the preset's values where the config leaves None."""
        preset = _PRESETS.get(self.name) or MOMENTUM_PRESETS[self.name]
        return (
            preset.get("lambda_1", 0.0) if self.lambda_1 is None else self.lambda_1,
            preset.get("lambda_2", 0.0) if self.lambda_2 is None else self.lambda_2,
        )


_PRESETS: dict[str, dict[str, float]] = {
    "molclr": {"lambda_1": 0.0, "lambda_2": 0.0},
    "imolclr": {"lambda_1": 0.5, "lambda_2": 0.5},
}
OBJECTIVES = (*_PRESETS, *MOMENTUM_PRESETS)


def concat_views(view_a: Batch, view_b: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """Stack two graph batches into one: ``(x, edge_index, edge_attr, batch, num_graphs)``."""
    num_nodes_a = view_a.num_nodes
    x = torch.cat([view_a.x, view_b.x])
    edge_index = torch.cat([view_a.edge_index, view_b.edge_index + num_nodes_a], dim=1)
    edge_attr = torch.cat([view_a.edge_attr, view_b.edge_attr])
    batch = torch.cat([view_a.batch, view_b.batch + view_a.num_graphs])
    return x, edge_index, edge_attr, batch, view_a.num_graphs + view_b.num_graphs


def forward_two_views(
    model: nn.Module, augment: TwoViewTransform, batch: Batch, generator: torch.Generator
) -> tuple[Any, int]:
    """Augment ``batch`` into two views and run ``model`` once on both, stacked.

    Returns:
        ``(out, n)``: the model's output for the ``2n`` graphs (view a's first) and
        ``n = batch.num_graphs``.
    """
    view_a, view_b = augment(batch, generator)
    x, edge_index, edge_attr, graph, num_graphs = concat_views(view_a, view_b)
    return model(x, edge_index, edge_attr, graph, num_graphs), batch.num_graphs


class ContrastiveObjective:
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

    def __call__(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        out, n = forward_two_views(model, self.augment, batch, generator)
        z_a, z_b = out.z[:n], out.z[n:]
        loss = self.loss(z_a, z_b, weight=self._weights(batch))
        metrics = {"loss_global": float(loss.detach())}
        if self.lambda_2:
            if "frag" not in batch:
                raise ValueError(
                    "lambda_2 > 0 needs BRICS fragment ids (batch.frag, batch.num_frags); build "
                    "the data with MolGraphFeaturizer(fragments=True)."
                )
            encoder = model.module if hasattr(model, "module") else model
            split = batch.num_nodes
            frag_loss = self.fragment_loss(
                out.node[:split],
                out.node[split:],
                batch.frag,
                batch.num_frags,
                batch.batch,
                head=lambda e: encoder.out_lin(encoder.feat_lin(e)),
            )
            metrics["loss_fragment"] = float(frag_loss.detach())
            loss = loss + self.lambda_2 * frag_loss
        return loss, metrics


def build_objective(
    config: ObjectiveConfig, *, mask_atom: tuple[int, ...] | None = None
) -> ContrastiveObjective | MomentumObjective:
    """Build the objective named by ``config.name`` with the preset's defaults filled in.

    Args:
        config: Objective settings.
        mask_atom: The featurizer's mask row, given to the augmentations.

    Raises:
        molssl.config.ConfigError: Unknown objective name (a ``ValueError``).
        ValueError: A setting the objective does not use.
    """
    if config.name not in OBJECTIVES:
        raise ConfigError(
            f"unknown objective {config.name!r}{did_you_mean(config.name, OBJECTIVES)}; "
            f"choose from {list(OBJECTIVES)}"
        )
    defaults: dict[str, Any] = {} if mask_atom is None else {"mask_atom": tuple(mask_atom)}
    augmentation = build_augmentation(config.augmentation, **defaults)
    if config.name in MOMENTUM_PRESETS:
        return _build_momentum(config, TwoViewTransform(augmentation))
    lambda_1, lambda_2 = config.resolved()
    return ContrastiveObjective(
        TwoViewTransform(augmentation),
        NTXentLoss(config.temperature, gather_distributed=config.gather_distributed),
        lambda_1=lambda_1,
        lambda_2=lambda_2,
    )


def _build_momentum(config: ObjectiveConfig, augment: TwoViewTransform) -> MomentumObjective:
    if config.lambda_2:
        raise ValueError(
            f"objective.lambda_2 (fragment contrast) applies to molclr/imolclr, not "
            f"{config.name}; remove it or set it to 0"
        )
    preset = MOMENTUM_PRESETS[config.name]
    pick = lambda value, key: preset[key] if value is None else value  # noqa: E731
    return MomentumObjective(
        config.name,
        augment,
        base_momentum=pick(config.base_momentum, "base_momentum"),
        final_momentum=pick(config.final_momentum, "final_momentum"),
        temperature=config.temperature,
        queue_size=config.queue_size,
        lambda_1=pick(config.lambda_1, "lambda_1"),
        predictor_hidden=config.predictor_hidden,
    )
