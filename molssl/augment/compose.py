"""Composition of augmentations: identity, sequence, random choice and two-view pairs."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch_geometric.data import Batch

from molssl.augment._graph import GraphIndex, GraphLike, edge_keys, masked_output
from molssl.augment.base import Augmentation


class Identity(Augmentation):
    """No augmentation: returns a shallow copy of its input (registry name ``"none"``)."""

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        return masked_output(data, index)


class Compose(Augmentation):
    """Apply ``augmentations`` one after the other, all drawing from the same generator.

    Args:
        augmentations: Callables ``(data, generator) -> data``.

    Raises:
        ValueError: ``augmentations`` is empty.
    """

    def __init__(self, augmentations: Sequence[Augmentation]) -> None:
        if not augmentations:
            raise ValueError("Compose needs at least one augmentation; use Identity() for none.")
        self.augmentations = list(augmentations)

    def __call__(self, data: GraphLike, generator: torch.Generator | None = None) -> GraphLike:
        for aug in self.augmentations:
            data = aug(data, generator)
        return data


class RandomChoice(Augmentation):
    """Apply one of ``augmentations``, chosen with probabilities ``p``, independently per graph.

    With ``per_graph=True`` (default) every graph of a ``Batch`` gets its own choice: each chosen
    option runs once over the whole batch and the graphs are then assembled from the outputs
    (``x`` rows and edge-level attributes per graph, collation order preserved). This assumes
    the options keep the node set and change only ``x`` and edge-level attributes, which holds for
    every augmentation in this package. With ``per_graph=False`` one choice covers the batch.

    Args:
        augmentations: Options to choose from.
        p: Probabilities (normalised; default uniform).
        per_graph: Choose per graph (default True) or per call.

    Raises:
        ValueError: No options, or ``p`` of the wrong length / negative / summing to 0.
    """

    def __init__(
        self,
        augmentations: Sequence[Augmentation],
        p: Sequence[float] | None = None,
        per_graph: bool = True,
    ) -> None:
        if not augmentations:
            raise ValueError("RandomChoice needs at least one augmentation.")
        probs = torch.ones(len(augmentations)) if p is None else torch.tensor(p, dtype=torch.float)
        if probs.numel() != len(augmentations) or bool((probs < 0).any()) or probs.sum() <= 0:
            raise ValueError(
                f"RandomChoice p={p!r} must hold {len(augmentations)} non-negative weights "
                "with a positive sum."
            )
        self.augmentations = list(augmentations)
        self.p = (probs / probs.sum()).tolist()
        self.per_graph = bool(per_graph)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        probs = torch.tensor(self.p, device=gen_device)
        num_draws = index.num_graphs if self.per_graph else 1
        choice = torch.multinomial(probs, num_draws, replacement=True, generator=generator)
        used = torch.unique(choice).tolist()
        if len(used) == 1:
            return self.augmentations[used[0]](data, generator)
        choice = choice.to(data.x.device)
        outputs = {j: self.augmentations[j](data, generator) for j in used}
        return _merge_per_graph(data, index, choice, outputs)


def _merge_per_graph(
    data: GraphLike, index: GraphIndex, choice: torch.Tensor, outputs: dict[int, GraphLike]
) -> GraphLike:
    node_choice = choice[index.node_graph]
    x = data.x.clone()
    parts: dict[str, list[torch.Tensor]] = {}
    edge_graphs = []
    for j, out in outputs.items():
        if out.x.shape != data.x.shape:
            raise ValueError(
                f"RandomChoice(per_graph=True) needs options that keep the nodes; option {j} "
                f"changed x from {tuple(data.x.shape)} to {tuple(out.x.shape)}."
            )
        rows = node_choice == j
        x[rows] = out.x[rows]
        edge_graph = index.node_graph[out.edge_index[0]]
        keep = choice[edge_graph] == j
        edge_graphs.append(edge_graph[keep])
        for key in edge_keys(out, out.edge_index.size(1)):
            value = out[key]
            parts.setdefault(key, []).append(value[:, keep] if key == "edge_index" else value[keep])
    edge_graph = torch.cat(edge_graphs)
    order = torch.sort(edge_graph, stable=True).indices
    merged = copy.copy(data)
    merged.x = x
    for key, values in parts.items():
        value = torch.cat(values, dim=1 if key == "edge_index" else 0)
        merged[key] = value[:, order] if key == "edge_index" else value[order]
    slices = getattr(data, "_slice_dict", None)
    if isinstance(data, Batch) and slices is not None and "edge_index" in slices:
        counts = torch.bincount(edge_graph, minlength=index.num_graphs)
        new = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        merged._slice_dict = {**slices, **{k: new for k in parts if k in slices}}
    return merged


class TwoViewTransform:
    """Two independently augmented views of one graph or batch.

    Args:
        aug_a: Augmentation of the first view.
        aug_b: Augmentation of the second view (default: ``aug_a``, drawn again).
    """

    def __init__(self, aug_a: Augmentation, aug_b: Augmentation | None = None) -> None:
        self.aug_a = aug_a
        self.aug_b = aug_a if aug_b is None else aug_b

    def __call__(
        self, data: GraphLike, generator: torch.Generator | None = None
    ) -> tuple[GraphLike, GraphLike]:
        """Return ``(view_a, view_b)``; both draw from ``generator`` in turn, so they differ."""
        return self.aug_a(data, generator), self.aug_b(data, generator)

    def __repr__(self) -> str:
        return f"TwoViewTransform(aug_a={self.aug_a!r}, aug_b={self.aug_b!r})"
