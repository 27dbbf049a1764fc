"""Atom masking and bond deletion (MolCLR, Wang et al. 2022, Nat. Mach. Intell. 4, 279-287)."""

from __future__ import annotations

import torch

from molssl.augment._graph import (
    GraphIndex,
    GraphLike,
    as_mask_row,
    check_rate,
    count_from_rate,
    graph_index,
    is_empty,
    masked_output,
    select_per_group,
)
from molssl.featurize.vocab import MASK_ATOM_INDEX

DEFAULT_MASK_ATOM: tuple[int, ...] = (MASK_ATOM_INDEX, 0)
"""Row of a masked atom in the default ``molclr`` scheme: mask token, chirality unspecified."""


class Augmentation:
    """Base class: ``__call__(data, generator=None)`` returns a new graph, never mutating ``data``.

    Subclasses implement :meth:`apply`, which receives a non-empty graph and its
    :class:`~molssl.augment._graph.GraphIndex`. Empty inputs (0 nodes, e.g. a ``Batch`` of 0
    graphs) are returned as a shallow copy without drawing any random numbers.
    """

    def __call__(self, data: GraphLike, generator: torch.Generator | None = None) -> GraphLike:
        """Augment ``data`` (a ``Data`` or a collated ``Batch``) with randomness from ``generator``."""
        if is_empty(data):
            return masked_output(data, None)
        return self.apply(data, graph_index(data), generator)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        """Augment a non-empty ``data`` whose graph maps are ``index``; implemented by subclasses."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class AtomMask(Augmentation):
    """Replace ``max(1, floor(rate * n))`` random atoms of every graph by the mask row.

    ``n`` is the number of atoms of that graph; atoms are masked, never removed, so node-level
    extras (``frag``) stay aligned. Masked rows become ``mask_atom`` (mask token, chirality reset).

    Args:
        rate: Fraction of atoms to mask per graph, in ``[0, 1]`` (default 0.25; 0 is the identity).
        mask_atom: Row of a masked atom, ``featurizer.mask_atom`` (default ``(118, 0)``).

    Raises:
        ValueError: ``rate`` outside ``[0, 1]``; at call time, ``x`` width != ``len(mask_atom)``.
    """

    def __init__(self, rate: float = 0.25, mask_atom: tuple[int, ...] = DEFAULT_MASK_ATOM) -> None:
        self.rate = check_rate("AtomMask rate", rate)
        self.mask_atom = tuple(int(v) for v in mask_atom)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        row = as_mask_row(self.mask_atom, data)
        counts = count_from_rate(self.rate, index.nodes_per_graph)
        node_mask = select_per_group(index.node_graph, counts, generator)
        return masked_output(data, index, node_mask=node_mask, mask_atom=row)


class BondDeletion(Augmentation):
    """Delete ``max(1, floor(rate * m))`` random bonds of every graph (``m`` = its bonds).

    A bond is deleted as a whole: both directed edges and their ``edge_attr`` rows (and any other
    ``edge_*`` attribute). A graph without bonds deletes nothing. Edges are paired into bonds by
    :func:`~molssl.augment._graph.pair_bonds` (verified ``2i/2i+1`` convention, else by endpoints).

    Note:
        MolCLR's ``dataset.py`` uses ``max(0, floor(0.25 * m))`` for bonds; here, as for atoms,
        at least one bond is deleted when the graph has any and ``rate > 0``.

    Args:
        rate: Fraction of bonds to delete per graph, in ``[0, 1]`` (default 0.25; 0 is the identity).

    Raises:
        ValueError: ``rate`` outside ``[0, 1]``.
    """

    def __init__(self, rate: float = 0.25) -> None:
        self.rate = check_rate("BondDeletion rate", rate)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        counts = count_from_rate(self.rate, index.bonds_per_graph)
        deleted = select_per_group(index.bond_graph, counts, generator)
        return masked_output(data, index, edge_keep=~deleted[index.edge_bond])
