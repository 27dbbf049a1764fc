"""What every pretraining objective shares: its config, the registry and the two-view forward.

An objective is the molecule-specific part of a training step for
:class:`molssl.contrastive.training.trainer.Trainer`: ``(model, batch, generator) -> (loss,
metrics)``. It also says which model it trains (``build_model(encoder)``: the encoder itself, or
a wrapper with a target network) and where the encoder's weights sit in that model's
``state_dict`` (``encoder_prefix``).

Objectives register themselves with :func:`register_objective` under a name and a preset (the
values that the ``None`` fields of :class:`ObjectiveConfig` take for that objective), on the
model of imagessl's method registry; ``--set objective.name=NAME`` and the config validation
read the registry, so a new objective touches its module, a preset and a test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform, build_augmentation
from molssl.contrastive.config import ConfigError, did_you_mean


class Objective(Protocol):
    """The interface the pretraining loop uses."""

    encoder_prefix: str

    def build_model(
        self, encoder: nn.Module, *, fingerprint_bits: int | None = None
    ) -> nn.Module: ...

    def __call__(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]: ...


Builder = Callable[["ObjectiveConfig", TwoViewTransform], Objective]


@dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective: its builder and preset."""

    name: str
    build: Builder
    preset: Mapping[str, Any]
    description: str


OBJECTIVES: dict[str, ObjectiveSpec] = {}
"""Registered objectives by name (filled when :mod:`molssl.objectives` is imported)."""


def register_objective(
    name: str, *, preset: Mapping[str, Any] | None = None, description: str = ""
) -> Callable[[Builder], Builder]:
    """Register ``build(config, augment) -> objective`` under ``name``.

    Args:
        name: The ``objective.name`` that selects it.
        preset: Values for the ``None`` fields of :class:`ObjectiveConfig` (``temperature``,
            ``lambda_1``, ...) when this objective runs.
        description: One line for ``--help`` and error messages.

    Raises:
        ValueError: ``name`` is already registered, or holds ``+`` (the composition sign).
    """

    def decorate(build: Builder) -> Builder:
        if name in OBJECTIVES:
            raise ValueError(f"objective {name!r} is already registered")
        if "+" in name or "," in name:
            raise ValueError(f"objective names cannot hold '+' or ',': {name!r}")
        OBJECTIVES[name] = ObjectiveSpec(name, build, dict(preset or {}), description)
        return build

    return decorate


def get_objective(name: str) -> ObjectiveSpec:
    """The registered objective ``name``.

    Raises:
        ConfigError: No objective of that name (with a suggestion).
    """
    spec = OBJECTIVES.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown objective {name!r}{did_you_mean(name, OBJECTIVES)} (objective.name); "
            f"choose one of {', '.join(OBJECTIVES)}"
        )
    return spec


@dataclass
class ObjectiveConfig:
    """Settings of a pretraining objective.

    ``None`` fields take the value of the objective's preset (``molssl.objectives.OBJECTIVES``).

    Attributes:
        name: A registered objective: ``molclr``, ``imolclr``, ``byol``, ``moco``.
        augmentation: Augmentation of each view: a registry name of :mod:`molssl.augment`
            (``molclr`` = atom masking + bond deletion at 25%, MolCLR's ``node`` default;
            ``subgraph``; ``mix``) or a mapping with ``name`` and arguments.
        temperature: NT-Xent / InfoNCE temperature; None takes the preset's (0.1 for molclr
            and imolclr, 0.2 for moco).
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
    temperature: float | None = None
    gather_distributed: bool = True
    lambda_1: float | None = None
    lambda_2: float | None = None
    base_momentum: float | None = None
    final_momentum: float | None = None
    queue_size: int = 4096
    predictor_hidden: int = 512

    def __post_init__(self) -> None:
        get_objective(self.name)
        temperature = self.value("temperature")
        if temperature is not None and not temperature > 0:
            raise ConfigError(
                f"objective.temperature must be > 0 (NT-Xent divides by it), got "
                f"{temperature}; MolCLR uses 0.1"
            )
        for name in ("lambda_1", "lambda_2"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"objective.{name} must be >= 0 or null, got {value}")

    def value(self, key: str, default: Any = None) -> Any:
        """The setting ``key``: this config's value, else the preset's, else ``default``."""
        own = getattr(self, key)
        if own is not None:
            return own
        return get_objective(self.name).preset.get(key, default)

    def resolved(self) -> tuple[float, float]:
        """``(lambda_1, lambda_2)`` with the preset's values where the config leaves None."""
        return float(self.value("lambda_1", 0.0)), float(self.value("lambda_2", 0.0))


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

    Both views go through the encoder in one forward pass, which halves the kernel launches
    and keeps DDP to one forward per step.

    Returns:
        ``(out, n)``: the model's output for the ``2n`` graphs (view a's first) and
        ``n = batch.num_graphs``.
    """
    view_a, view_b = augment(batch, generator)
    x, edge_index, edge_attr, graph, num_graphs = concat_views(view_a, view_b)
    return model(x, edge_index, edge_attr, graph, num_graphs), batch.num_graphs


def build_objective(
    config: ObjectiveConfig, *, mask_atom: tuple[int, ...] | None = None
) -> Objective:
    """Build the objective named by ``config.name`` with its preset's defaults filled in.

    Args:
        config: Objective settings.
        mask_atom: The featurizer's mask row, given to the augmentations.

    Raises:
        molssl.contrastive.config.ConfigError: Unknown objective name (a ``ValueError``).
        ValueError: A setting the objective does not use.
    """
    spec = get_objective(config.name)
    defaults: dict[str, Any] = {} if mask_atom is None else {"mask_atom": tuple(mask_atom)}
    augmentation = build_augmentation(config.augmentation, **defaults)
    return spec.build(config, TwoViewTransform(augmentation))
