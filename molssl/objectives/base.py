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

Objectives compose: ``objective.name=imolclr+attrmask+descriptors`` with
``objective.weights=1,1,0.5`` trains the weighted sum of the terms (at most one two-view term,
any number of pretext terms; see :mod:`molssl.objectives.compose`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform, build_augmentation
from molssl.contrastive.config import ConfigError, did_you_mean, from_dict
from molssl.objectives.compose import ComposedObjective
from molssl.objectives.sections import (
    MOVED_KEYS,
    AttrMaskConfig,
    BYOLConfig,
    DescriptorsConfig,
    MoCoConfig,
)

logger = logging.getLogger(__name__)

SHARED_SETTINGS = ("temperature", "lambda_1", "lambda_2", "base_momentum", "final_momentum")
"""The flat settings of :class:`ObjectiveConfig` that a ``None`` leaves to the preset."""


class Objective(Protocol):
    """The interface the pretraining loop uses.

    A two-view objective may also offer ``call_with_views(model, batch, generator) -> (loss,
    metrics, TwoViewForward)``: composed with pretext terms, it is called that way and the
    terms reuse its forward of the views (:mod:`molssl.objectives.compose`).
    """

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
    """A registered objective: its builder, preset and kind.

    ``pretext`` objectives (``attrmask``, ``descriptors``) train a head on the encoder's
    output and compose with one two-view objective (``molclr``, ``moco``, ...), whose forward
    of the two views they reuse (:class:`TwoViewForward`).
    """

    name: str
    build: Builder
    preset: Mapping[str, Any]
    description: str
    pretext: bool = False
    config: type | None = None


OBJECTIVES: dict[str, ObjectiveSpec] = {}
"""Registered objectives by name (filled when :mod:`molssl.objectives` is imported)."""


def register_objective(
    name: str,
    *,
    preset: Mapping[str, Any] | None = None,
    description: str = "",
    pretext: bool = False,
    config: type | None = None,
) -> Callable[[Builder], Builder]:
    """Register ``build(config, augment) -> objective`` under ``name``.

    Args:
        name: The ``objective.name`` that selects it.
        preset: Values for the ``None`` fields of :class:`ObjectiveConfig` (``temperature``,
            ``lambda_1``, ...) when this objective runs.
        description: One line for ``--help`` and error messages.
        pretext: The objective is a pretext term (see :class:`ObjectiveSpec`): its object has
            ``name``, ``build_head(encoder) -> nn.Module``, is called as
            ``term(model, batch, generator, views=views)`` (``views``: the two-view term's
            :class:`TwoViewForward`, or None) and runs its head as ``model(..., head=name)``
            (:class:`molssl.objectives.compose.ComposedModel`).
        config: The dataclass of this objective's own settings, the section
            ``objective.<name>.*`` (YAML and ``--set``); the builder reads it as
            ``config.section(name)``. Its fields need defaults; ``__post_init__`` may check them.

    Raises:
        ValueError: ``name`` is already registered, holds ``+`` (the composition sign), or is
            a shared setting of :class:`ObjectiveConfig` that is not its section.
    """

    def decorate(build: Builder) -> Builder:
        if name in OBJECTIVES:
            raise ValueError(f"objective {name!r} is already registered")
        if "+" in name or "," in name:
            raise ValueError(f"objective names cannot hold '+' or ',': {name!r}")
        own = {f.name: f.type for f in fields(ObjectiveConfig)}
        if name in own and (config is None or own[name] not in (config, config.__name__)):
            raise ValueError(f"objective {name!r} would hide the setting objective.{name}")
        spec = ObjectiveSpec(name, build, dict(preset or {}), description, pretext, config)
        OBJECTIVES[name] = spec
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


def _parse_weights(weights: list[float] | str | None) -> list[float] | None:
    if weights is None or isinstance(weights, list):
        return weights
    try:
        return [float(w) for w in str(weights).split(",")]
    except ValueError as err:
        raise ConfigError(
            f"objective.weights={weights!r}: give one number per term, e.g. 1,1,0.5"
        ) from err


@dataclass
class ObjectiveConfig:
    """Settings of a pretraining objective.

    ``None`` fields take the value of the objective's preset (``molssl.objectives.OBJECTIVES``).
    The settings shared by several objectives are flat (``objective.temperature``); an
    objective's own settings are its section (``objective.moco.queue_size``,
    ``objective.byol.predictor_hidden``, ``objective.attrmask.mask_rate``), and an objective
    registered elsewhere with ``register_objective(..., config=Dataclass)`` gets one too
    (:meth:`section`). The flat ``queue_size`` and ``predictor_hidden`` of older configs are
    still read, into their sections.

    Attributes:
        name: A registered objective (``molclr``, ``imolclr``, ``byol``, ``moco``,
            ``attrmask``, ``descriptors``) or a sum of them joined by ``+``
            (``imolclr+attrmask+descriptors``): at most one two-view objective and any pretext
            terms. The shared settings below take the preset of the two-view term.
        weights: One weight per term of ``name`` (a list, or ``"1,1,0.5"``); None: all 1.
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
        queue_size: Old name of ``moco.queue_size`` (read into it; None once read).
        predictor_hidden: Old name of ``byol.predictor_hidden`` (read into it; None once read).
        attrmask: Settings of the ``attrmask`` term.
        descriptors: Settings of the ``descriptors`` term.
        moco: Settings of ``moco``.
        byol: Settings of ``byol``.
        sections: The sections of objectives registered with a ``config`` dataclass outside
            this package, by name; read and written as ``objective.<name>.*``.
    """

    name: str = "molclr"
    weights: list[float] | str | None = None
    augmentation: str | dict = "molclr"
    temperature: float | None = None
    gather_distributed: bool = True
    lambda_1: float | None = None
    lambda_2: float | None = None
    base_momentum: float | None = None
    final_momentum: float | None = None
    queue_size: int | None = None
    predictor_hidden: int | None = None
    attrmask: AttrMaskConfig = field(default_factory=AttrMaskConfig)
    descriptors: DescriptorsConfig = field(default_factory=DescriptorsConfig)
    moco: MoCoConfig = field(default_factory=MoCoConfig)
    byol: BYOLConfig = field(default_factory=BYOLConfig)
    sections: dict[str, Any] = field(default_factory=dict)

    __open_sections__ = "sections"

    @classmethod
    def open_section_types(cls) -> dict[str, type]:
        """``{name: dataclass}`` of the registered objectives whose section is not a field."""
        own = {f.name for f in fields(cls)}
        return {
            name: spec.config
            for name, spec in OBJECTIVES.items()
            if spec.config is not None and name not in own
        }

    def section(self, name: str) -> Any:
        """The settings of objective ``name`` (``objective.<name>.*``).

        Raises:
            ConfigError: ``name`` was registered without a ``config`` dataclass.
        """
        if name in {f.name for f in fields(self)} and name in OBJECTIVES:
            return getattr(self, name)
        if name in self.sections:
            return self.sections[name]
        raise ConfigError(
            f"objective {name!r} has no settings section; register it with "
            "register_objective(..., config=Dataclass)"
        )

    def _read_moved_keys(self) -> None:
        for key, section in MOVED_KEYS.items():
            old = getattr(self, key)
            if old is None:
                continue
            settings = getattr(self, section)
            current, default = getattr(settings, key), getattr(type(settings)(), key)
            if current not in (default, old):
                raise ConfigError(
                    f"objective.{key}={old} and objective.{section}.{key}={current} disagree; "
                    f"objective.{key} is the old name of objective.{section}.{key}: keep that one"
                )
            if old != default:
                logger.warning(
                    "objective.%s is the old name of objective.%s.%s; reading it there",
                    key,
                    section,
                    key,
                )
            setattr(self, section, replace(settings, **{key: old}))
            setattr(self, key, None)

    def _fill_sections(self) -> None:
        types_ = self.open_section_types()
        filled = {name: kind() for name, kind in types_.items()}
        for name, value in self.sections.items():
            if name in types_ and isinstance(value, Mapping):
                value = from_dict(types_[name], value, where=f"objective.{name}")
            filled[name] = value
        self.sections = filled

    def __post_init__(self) -> None:
        self._read_moved_keys()
        self._fill_sections()
        names = self.terms()
        specs = [get_objective(n) for n in names]
        if len(set(names)) != len(names):
            raise ConfigError(f"objective.name={self.name!r} names a term twice; name it once")
        two_view = [s.name for s in specs if not s.pretext]
        if len(two_view) > 1:
            raise ConfigError(
                f"objective.name={self.name!r} sums two two-view objectives ({', '.join(two_view)}"
                "); compose one of them with pretext terms, e.g. imolclr+attrmask+descriptors"
            )
        self.weights = _parse_weights(self.weights)
        if self.weights is not None:
            if len(self.weights) != len(names):
                raise ConfigError(
                    f"objective.weights has {len(self.weights)} values for the {len(names)} "
                    f"terms of {self.name!r}; give one per term, e.g. "
                    f"{','.join(['1'] * len(names))}"
                )
            if any(not w >= 0 for w in self.weights):
                raise ConfigError(f"objective.weights must be >= 0, got {self.weights}")
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

    def terms(self) -> list[str]:
        """The objective names summed by ``name`` (one for a single objective)."""
        return [part.strip() for part in self.name.split("+")]

    def term_weights(self) -> list[float]:
        """One weight per term (1 when ``weights`` is None)."""
        return list(self.weights) if self.weights is not None else [1.0] * len(self.terms())

    def primary(self) -> str:
        """The term whose preset fills the shared settings: the two-view one, else the first."""
        names = self.terms()
        return next((n for n in names if not get_objective(n).pretext), names[0])

    def term(self, name: str) -> ObjectiveConfig:
        """This config for the single term ``name`` of a composition."""
        return replace(self, name=name, weights=None)

    def value(self, key: str, default: Any = None) -> Any:
        """The setting ``key``: this config's value, else the primary term's preset, else
        ``default``."""
        own = getattr(self, key)
        if own is not None:
            return own
        return get_objective(self.primary()).preset.get(key, default)

    def effective(self) -> dict[str, Any]:
        """What a run of this config uses, presets applied (``run_info.json``, the start log).

        ``{"terms": {name: weight}, <shared setting>: value, ..., <term>: {its section}}``:
        the shared settings (:data:`SHARED_SETTINGS`) that are set or that the primary term's
        preset gives, and the section of every term that has one. ``config.yaml`` keeps the
        ``None`` of a setting left to its preset, so that a saved config given with another
        ``objective.name`` takes that objective's preset.
        """
        out: dict[str, Any] = {"terms": dict(zip(self.terms(), self.term_weights(), strict=True))}
        for key in SHARED_SETTINGS:
            value = self.value(key)
            if value is not None:
                out[key] = value
        for name in self.terms():
            try:
                section = self.section(name)
            except ConfigError:
                continue
            out[name] = asdict(section) if is_dataclass(section) else section
        return out

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


class TwoViewForward(NamedTuple):
    """The forward pass of a two-view objective, handed to the pretext terms composed with it.

    Attributes:
        view_a: The first augmented view of the batch.
        view_b: The second augmented view.
        encoded: The encoder's output on both views stacked (view a's graphs and atoms first):
            ``h`` ``float[2B, out_channels]`` and ``node`` ``float[2N', hidden_channels]``; for
            BYOL/MoCo, the online branch's.
        num_graphs: ``B``, the molecules in the batch.
    """

    view_a: Batch
    view_b: Batch
    encoded: Any
    num_graphs: int


def forward_views(
    model: nn.Module, augment: TwoViewTransform, batch: Batch, generator: torch.Generator
) -> tuple[Any, TwoViewForward]:
    """Augment ``batch`` into two views and run ``model`` once on both, stacked.

    Both views go through the encoder in one forward pass, which halves the kernel launches
    and keeps DDP to one forward per step.

    Returns:
        ``(out, views)``: the model's output for the ``2B`` graphs (view a's first) and the
        :class:`TwoViewForward` whose ``encoded`` is ``out`` (a model that wraps the encoder
        replaces it with the encoder's own output, as :mod:`molssl.objectives.momentum` does).
    """
    view_a, view_b = augment(batch, generator)
    x, edge_index, edge_attr, graph, num_graphs = concat_views(view_a, view_b)
    out = model(x, edge_index, edge_attr, graph, num_graphs)
    return out, TwoViewForward(view_a, view_b, out, batch.num_graphs)


class TwoViewObjective:
    """Base of the two-view objectives: :meth:`__call__` is :meth:`call_with_views` without
    the views. Subclasses implement :meth:`call_with_views`."""

    def __call__(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        loss, metrics, _ = self.call_with_views(model, batch, generator)
        return loss, metrics

    def call_with_views(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float], TwoViewForward]:
        """The loss and metrics of :meth:`__call__`, and the forward of the two views for the
        pretext terms composed with this objective."""
        raise NotImplementedError


def forward_two_views(
    model: nn.Module, augment: TwoViewTransform, batch: Batch, generator: torch.Generator
) -> tuple[Any, int]:
    """:func:`forward_views` without the views: ``(out, B)``."""
    out, views = forward_views(model, augment, batch, generator)
    return out, views.num_graphs


def build_objective(
    config: ObjectiveConfig,
    *,
    mask_atom: tuple[int, ...] | None = None,
    mask_bond: tuple[int, ...] | None = None,
) -> Objective:
    """Build the objective named by ``config.name`` with its preset's defaults filled in.

    A single two-view objective is returned as built (its model and checkpoint layout are
    unchanged); a pretext objective or a sum of terms becomes a
    :class:`~molssl.objectives.compose.ComposedObjective`.

    Args:
        config: Objective settings.
        mask_atom: The featurizer's mask row, given to the augmentations and ``attrmask``.
        mask_bond: The bond row that ``attrmask`` writes on the bonds of masked atoms (the
            featurizer's ``self_loop_bond``, as Hu et al.).

    Raises:
        molssl.contrastive.config.ConfigError: Unknown objective name (a ``ValueError``).
        ValueError: A setting the objective does not use.
    """
    defaults: dict[str, Any] = {} if mask_atom is None else {"mask_atom": tuple(mask_atom)}
    augment = TwoViewTransform(build_augmentation(config.augmentation, **defaults))
    names = config.terms()
    specs = [get_objective(n) for n in names]
    if len(names) == 1 and not specs[0].pretext:
        return specs[0].build(config, augment)
    terms = []
    for spec in specs:
        term = spec.build(config.term(spec.name), augment)
        if spec.pretext:
            term.name = spec.name
            if hasattr(term, "set_vocabulary"):
                term.set_vocabulary(mask_atom=mask_atom, mask_bond=mask_bond)
        terms.append(term)
    pretext = [spec.pretext for spec in specs]
    return ComposedObjective(names, terms, config.term_weights(), pretext)
