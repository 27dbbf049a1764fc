"""Weighted sums of objectives: one two-view objective plus pretext terms.

``objective.name=imolclr+attrmask+descriptors`` with ``objective.weights=1,1,0.5`` trains

    loss = 1 * imolclr + 1 * attrmask + 0.5 * descriptors

The two-view term (``molclr``, ``imolclr``, ``byol``, ``moco``) runs exactly as alone, on the
model it builds (the encoder, or BYOL/MoCo's online/target wrapper), and runs first. Its one
encoder forward of the two views (a :class:`~molssl.objectives.base.TwoViewForward`, exposed by
its ``call_with_views``) is handed to every pretext term, whose head reads the views' node or
graph embeddings: a composed step runs the encoder once. A two-view term without
``call_with_views`` (e.g. one defined outside this package) leaves the pretext terms to run
their own forward of the un-augmented batch, as they do alone. Everything trains inside one
:class:`ComposedModel`, called once per term (so DDP sees every parameter in a forward), and
the checkpoint holds the heads beside the encoder:

- ``primary.<encoder_prefix of the two-view term>``: the encoder (``encoder_prefix`` records it,
  so ``molssl embed``, ``finetune --init ckpt:PATH`` and ``predict`` load it and nothing else);
- ``heads.<term>.*``: the pretext heads (and the descriptor scaler, as buffers).

Per-term losses are logged as ``loss_<term>`` (unweighted) beside the terms' own metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["ComposedModel", "ComposedObjective", "core_model"]


class ComposedModel(nn.Module):
    """A two-view objective's model and the pretext heads, trained together.

    ``model(*args)`` runs the primary model (the two-view objective sees what it would alone);
    ``model(*args, head=name)`` runs the pretext head ``heads[name](*args)`` (on embeddings);
    ``model(*args, encode=method)`` runs ``encoder.<method>(*args)`` (a pretext term's own
    forward, e.g. ``encode_nodes``).

    Args:
        primary: The model the two-view term built (the encoder when there is none).
        heads: Pretext heads by term name.
        encoder_prefix: Where the encoder sits in ``primary`` (``""``: it is ``primary``).
    """

    def __init__(
        self, primary: nn.Module, heads: Mapping[str, nn.Module], encoder_prefix: str = ""
    ) -> None:
        super().__init__()
        self.primary = primary
        self.heads = nn.ModuleDict(dict(heads))
        self.encoder_path = encoder_prefix.rstrip(".")

    @property
    def encoder(self) -> nn.Module:
        """The encoder being trained (inside ``primary``)."""
        return self.primary.get_submodule(self.encoder_path) if self.encoder_path else self.primary

    def forward(
        self, *args: Any, head: str | None = None, encode: str | None = None, **kwargs: Any
    ) -> Any:
        """The primary model's output, pretext head ``head``'s, or encoder method ``encode``'s.

        Raises:
            ValueError: Both ``head`` and ``encode`` given.
        """
        if head is not None and encode is not None:
            raise ValueError("give a pretext head or an encoder method, not both")
        if head is not None:
            return self.heads[head](*args, **kwargs)
        if encode is not None:
            return getattr(self.encoder, encode)(*args, **kwargs)
        return self.primary(*args, **kwargs)

    def after_optimizer_step(self, step: int, total_steps: int) -> dict[str, float]:
        """The primary model's hook (BYOL/MoCo's momentum update), when it has one."""
        hook = getattr(self.primary, "after_optimizer_step", None)
        return dict(hook(step, total_steps) or {}) if hook is not None else {}


def core_model(model: nn.Module) -> nn.Module:
    """``model`` without DDP's, ``torch.compile``'s and :class:`ComposedModel`'s wrapping."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, ComposedModel):
            model = model.primary
        else:
            return model


class ComposedObjective:
    """The weighted sum of a two-view objective (optional) and pretext terms.

    Args:
        names: Term names, in ``objective.name`` order.
        terms: Built objectives, one per name; pretext terms have ``build_head(encoder)``.
        weights: One weight per term.
        pretext: Whether each term is a pretext term.

    Raises:
        ValueError: Lengths differ or more than one term is not a pretext term.
    """

    def __init__(
        self,
        names: Sequence[str],
        terms: Sequence[Any],
        weights: Sequence[float],
        pretext: Sequence[bool],
    ) -> None:
        if not len(names) == len(terms) == len(weights) == len(pretext):
            raise ValueError("names, terms, weights and pretext must have one entry per term")
        if sum(not p for p in pretext) > 1:
            raise ValueError("a composition holds at most one two-view objective")
        self.names = list(names)
        self.terms = list(terms)
        self.weights = [float(w) for w in weights]
        self.pretext = list(pretext)
        self.primary = next((t for t, p in zip(terms, pretext, strict=True) if not p), None)
        inner = self.primary.encoder_prefix if self.primary is not None else ""
        self.encoder_prefix = "primary." + inner

    def prepare(self, data: Any, indices: Any) -> None:
        """Let terms fit statistics on the training data (the descriptor scaler)."""
        for term in self.terms:
            if hasattr(term, "prepare"):
                term.prepare(data, indices)

    def checkpoint_metadata(self) -> dict[str, Any]:
        """What the terms record beside the weights (``descriptors``: names, center, scale)."""
        out: dict[str, Any] = {"objective_terms": self.names, "objective_weights": self.weights}
        for term in self.terms:
            if hasattr(term, "checkpoint_metadata"):
                out.update(term.checkpoint_metadata())
        return out

    def build_model(self, encoder: nn.Module, *, fingerprint_bits: int | None = None) -> nn.Module:
        """A :class:`ComposedModel` of the two-view term's model and every pretext head."""
        primary = encoder
        if self.primary is not None:
            primary = self.primary.build_model(encoder, fingerprint_bits=fingerprint_bits)
        heads = {
            name: term.build_head(encoder)
            for name, term, is_pretext in zip(self.names, self.terms, self.pretext, strict=True)
            if is_pretext
        }
        inner = self.primary.encoder_prefix if self.primary is not None else ""
        return ComposedModel(primary, heads, inner)

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        losses: dict[str, Tensor] = {}
        metrics: dict[str, float] = {}
        views = None
        if self.primary is not None:  # first: the pretext terms reuse its forward
            index = self.pretext.index(False)
            if hasattr(self.primary, "call_with_views"):
                loss, extra, views = self.primary.call_with_views(model, batch, generator)
            else:
                loss, extra = self.primary(model, batch, generator)
            losses[self.names[index]] = loss
            metrics.update(extra)
        for name, term, is_pretext in zip(self.names, self.terms, self.pretext, strict=True):
            if is_pretext:
                losses[name], extra = term(model, batch, generator, views=views)
                metrics.update(extra)
        total: Tensor | None = None
        for name, weight in zip(self.names, self.weights, strict=True):
            metrics[f"loss_{name}"] = float(losses[name].detach())
            total = weight * losses[name] if total is None else total + weight * losses[name]
        assert total is not None
        return total, metrics
