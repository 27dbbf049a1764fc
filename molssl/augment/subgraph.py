"""Subgraph removal and MolCLR's ``mix`` augmentation (Wang et al. 2022, Nat. Mach. Intell.)."""

from __future__ import annotations

import torch
from torch import Tensor

from molssl.augment._graph import (
    GraphIndex,
    GraphLike,
    as_mask_row,
    check_rate,
    count_from_rate,
    masked_output,
    rand,
    select_per_group,
)
from molssl.augment.base import DEFAULT_MASK_ATOM, Augmentation


def grow_subgraphs(
    edge_index: Tensor, index: GraphIndex, counts: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Grow one connected subgraph per graph breadth-first, for the whole batch at once.

    Every graph with ``counts[g] > 0`` starts from a uniformly random atom (isolated atoms
    included); each step adds the unvisited neighbours of the last layer, taking a random subset
    of a layer when it would overshoot ``counts[g]``. A graph stops when it has ``counts[g]``
    atoms or when the start atom's connected component is exhausted (it then keeps fewer atoms;
    the loop always terminates). Each step is vectorised over all graphs' frontiers.

    Args:
        edge_index: ``long[2, E]`` directed edges (both directions of every bond).
        index: Graph maps of the batch.
        counts: ``long[G]`` target subgraph size per graph.
        generator: Source of randomness.

    Returns:
        ``bool[N]`` atoms in the subgraphs; each graph's selected atoms are connected in it.
    """
    node_graph = index.node_graph
    start = select_per_group(node_graph, (counts > 0).long(), generator)
    selected = start.clone()
    frontier = start
    remaining = counts - (counts > 0).long()
    src, dst = edge_index
    while bool((remaining > 0).any()):
        reached = torch.zeros_like(selected)
        reached[dst[frontier[src]]] = True
        candidates = (reached & ~selected).nonzero().squeeze(1)
        if candidates.numel() == 0:
            break
        candidate_graph = node_graph[candidates]
        picked = select_per_group(candidate_graph, remaining, generator)
        chosen = candidates[picked]
        if chosen.numel() == 0:
            break
        selected[chosen] = True
        frontier = torch.zeros_like(selected)
        frontier[chosen] = True
        remaining = remaining - torch.bincount(candidate_graph[picked], minlength=index.num_graphs)
    return selected


def _subgraph_edge_keep(edge_index: Tensor, sub: Tensor, drop_boundary_bonds: bool) -> Tensor:
    src_in, dst_in = sub[edge_index[0]], sub[edge_index[1]]
    return ~(src_in | dst_in) if drop_boundary_bonds else ~(src_in & dst_in)


class SubgraphRemoval(Augmentation):
    """Mask a connected subgraph of ``max(1, floor(rate * n))`` atoms per graph and cut its bonds.

    The subgraph grows breadth-first from a random atom (:func:`grow_subgraphs`); its atoms get
    the mask row and the bonds internal to it are deleted in both directions. Compared with the
    MolCLR reference (``removeSubgraph``): growth stops when the component is exhausted (the
    reference loops forever on ``CCCCCCCCCC.CC``), an isolated start atom works (the reference
    crashes on ``CC(=O)[O-].[Na+]``), and bonds are matched regardless of orientation (the
    reference dropped bonds networkx reported reversed).

    Args:
        rate: Fraction of atoms in the subgraph, in ``[0, 1]`` (default 0.25; 0 is the identity).
        mask_atom: Row of a masked atom, ``featurizer.mask_atom`` (default ``(118, 0)``).
        drop_boundary_bonds: Also delete bonds from the subgraph to the rest of the molecule, as
            the reference code does implicitly via ``networkx.remove_node`` (default False: only
            internal bonds, as described in the paper).

    Raises:
        ValueError: ``rate`` outside ``[0, 1]``; at call time, ``x`` width != ``len(mask_atom)``.
    """

    def __init__(
        self,
        rate: float = 0.25,
        mask_atom: tuple[int, ...] = DEFAULT_MASK_ATOM,
        drop_boundary_bonds: bool = False,
    ) -> None:
        self.rate = check_rate("SubgraphRemoval rate", rate)
        self.mask_atom = tuple(int(v) for v in mask_atom)
        self.drop_boundary_bonds = bool(drop_boundary_bonds)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        row = as_mask_row(self.mask_atom, data)
        counts = count_from_rate(self.rate, index.nodes_per_graph)
        sub = grow_subgraphs(data.edge_index, index, counts, generator)
        keep = _subgraph_edge_keep(data.edge_index, sub, self.drop_boundary_bonds)
        return masked_output(data, index, node_mask=sub, edge_keep=keep, mask_atom=row)


class Mix(Augmentation):
    """MolCLR's ``mix`` (reference: ``dataset/dataset_mix.py``): subgraph, then masking top-ups.

    Per graph with ``n`` atoms and ``m`` bonds:

    1. draw ``r ~ U(0, max_subgraph_rate)`` and remove a connected subgraph of ``floor(r * n)``
       atoms (no minimum of 1, as in the reference; 0 means no subgraph) as
       :class:`SubgraphRemoval` does;
    2. mask ``max(0, floor(atom_rate * n) - removed)`` further random atoms outside the subgraph,
       so the masked total is ``max(floor(atom_rate * n), removed)``;
    3. delete further random bonds among the remaining ones until at most
       ``ceil((1 - bond_rate) * m)`` remain (none if the subgraph already cut enough).

    Args:
        max_subgraph_rate: Upper bound of the per-graph subgraph rate (default 0.2).
        atom_rate: Target fraction of masked atoms (default 0.25).
        bond_rate: Target fraction of deleted bonds (default 0.25).
        mask_atom: Row of a masked atom, ``featurizer.mask_atom`` (default ``(118, 0)``).
        drop_boundary_bonds: See :class:`SubgraphRemoval` (default False).

    Raises:
        ValueError: A rate outside ``[0, 1]``; at call time, ``x`` width != ``len(mask_atom)``.
    """

    def __init__(
        self,
        max_subgraph_rate: float = 0.2,
        atom_rate: float = 0.25,
        bond_rate: float = 0.25,
        mask_atom: tuple[int, ...] = DEFAULT_MASK_ATOM,
        drop_boundary_bonds: bool = False,
    ) -> None:
        self.max_subgraph_rate = check_rate("Mix max_subgraph_rate", max_subgraph_rate)
        self.atom_rate = check_rate("Mix atom_rate", atom_rate)
        self.bond_rate = check_rate("Mix bond_rate", bond_rate)
        self.mask_atom = tuple(int(v) for v in mask_atom)
        self.drop_boundary_bonds = bool(drop_boundary_bonds)

    def apply(
        self, data: GraphLike, index: GraphIndex, generator: torch.Generator | None
    ) -> GraphLike:
        row = as_mask_row(self.mask_atom, data)
        num_graphs, device = index.num_graphs, data.x.device
        rates = rand(num_graphs, device, generator) * self.max_subgraph_rate
        sub_counts = count_from_rate(rates, index.nodes_per_graph, min_count=0)
        sub = grow_subgraphs(data.edge_index, index, sub_counts, generator)

        removed = torch.bincount(index.node_graph[sub], minlength=num_graphs)
        target = count_from_rate(self.atom_rate, index.nodes_per_graph, min_count=0)
        free = (~sub).nonzero().squeeze(1)
        extra = select_per_group(index.node_graph[free], (target - removed).clamp(min=0), generator)
        node_mask = sub.clone()
        node_mask[free[extra]] = True

        keep = _subgraph_edge_keep(data.edge_index, sub, self.drop_boundary_bonds)
        bond_alive = torch.ones_like(index.bond_graph, dtype=torch.bool)
        bond_alive[index.edge_bond[~keep]] = False
        alive = bond_alive.nonzero().squeeze(1)
        alive_graph = index.bond_graph[alive]
        bonds = index.bonds_per_graph.to(torch.float64)
        keep_target = torch.ceil((1.0 - self.bond_rate) * bonds).long()
        surplus = torch.bincount(alive_graph, minlength=num_graphs) - keep_target
        deleted = select_per_group(alive_graph, surplus.clamp(min=0), generator)
        bond_alive[alive[deleted]] = False
        return masked_output(
            data, index, node_mask=node_mask, edge_keep=bond_alive[index.edge_bond], mask_atom=row
        )
