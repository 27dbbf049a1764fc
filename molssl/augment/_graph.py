"""Vectorised helpers shared by the augmentations: graph maps, counts, random selection, output.

Everything here works on a collated ``torch_geometric.data.Batch`` as a whole (a single ``Data``
is treated as a batch of one graph). Nothing mutates its input.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

GraphLike = Data | Batch


@dataclass(frozen=True)
class GraphIndex:
    """Node/edge/bond to graph maps of a (collated) graph.

    Attributes:
        num_graphs: Number of graphs ``G`` (1 for a plain ``Data``).
        node_graph: ``long[N]`` graph id of every node.
        edge_graph: ``long[E]`` graph id of every directed edge.
        nodes_per_graph: ``long[G]`` atoms per graph.
        edge_bond: ``long[E]`` id of the (undirected) bond each directed edge belongs to.
        bond_graph: ``long[M]`` graph id of every bond.
        bonds_per_graph: ``long[G]`` bonds per graph.
    """

    num_graphs: int
    node_graph: Tensor
    edge_graph: Tensor
    nodes_per_graph: Tensor
    edge_bond: Tensor
    bond_graph: Tensor
    bonds_per_graph: Tensor


def is_empty(data: GraphLike) -> bool:
    """True when ``data`` has no nodes (e.g. an empty ``Batch``); augmentations return it as is."""
    x = getattr(data, "x", None)
    return x is None or x.size(0) == 0


def pair_bonds(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, int]:
    """Group directed edges into undirected bonds.

    Fast path: the featurizer writes bond ``i`` as edges ``2i`` and ``2i + 1`` (reversed); that
    convention is verified (and survives every augmentation here, which removes whole pairs with
    order-preserving boolean masks). Otherwise edges are paired by ``(min(u, v), max(u, v))``,
    which also covers shuffled edge orders; a self-loop is then a bond of one edge.

    Args:
        edge_index: ``long[2, E]`` with globally unique node ids.
        num_nodes: Number of nodes ``N``.

    Returns:
        ``(edge_bond, num_bonds)``: ``long[E]`` bond id per edge and the number of bonds ``M``.
    """
    num_edges = edge_index.size(1)
    if num_edges % 2 == 0:
        even, odd = edge_index[:, 0::2], edge_index[:, 1::2]
        if torch.equal(even, odd.flip(0)) and bool((even[0] != even[1]).all()):
            bond = torch.arange(num_edges, device=edge_index.device) // 2
            return bond, num_edges // 2
    lo = torch.minimum(edge_index[0], edge_index[1])
    hi = torch.maximum(edge_index[0], edge_index[1])
    _, bond = torch.unique(lo * max(num_nodes, 1) + hi, return_inverse=True)
    num_bonds = int(bond.max()) + 1 if num_edges else 0
    return bond, num_bonds


def graph_index(data: GraphLike) -> GraphIndex:
    """Build the :class:`GraphIndex` of ``data`` (uses ``batch.batch`` when present)."""
    x, edge_index = data.x, data.edge_index
    num_nodes, device = x.size(0), x.device
    node_graph = getattr(data, "batch", None)
    if node_graph is None:
        node_graph = torch.zeros(num_nodes, dtype=torch.long, device=device)
        num_graphs = 1
    else:
        num_graphs = int(data.num_graphs) if isinstance(data, Batch) else int(node_graph.max()) + 1
    edge_graph = node_graph[edge_index[0]]
    edge_bond, num_bonds = pair_bonds(edge_index, num_nodes)
    bond_graph = torch.zeros(num_bonds, dtype=torch.long, device=device)
    bond_graph.scatter_(0, edge_bond, edge_graph)
    return GraphIndex(
        num_graphs=num_graphs,
        node_graph=node_graph,
        edge_graph=edge_graph,
        nodes_per_graph=torch.bincount(node_graph, minlength=num_graphs),
        edge_bond=edge_bond,
        bond_graph=bond_graph,
        bonds_per_graph=torch.bincount(bond_graph, minlength=num_graphs),
    )


def count_from_rate(rate: float | Tensor, n: Tensor, min_count: int = 1) -> Tensor:
    """Per-graph number of items to pick, as MolCLR: ``max(min_count, floor(rate * n))``.

    Computed in float64 so it equals Python's ``math.floor(rate * n)``. Clamped to ``[0, n]``; a
    graph with ``n == 0`` gets 0, and ``rate == 0`` picks nothing (the identity).

    Args:
        rate: Scalar or ``float[G]`` fraction in ``[0, 1]``.
        n: ``long[G]`` items per graph.
        min_count: Lower bound for graphs with ``n > 0`` (1 in MolCLR's masking; 0 for top-ups).

    Returns:
        ``long[G]``.
    """
    rate_t = torch.as_tensor(rate, dtype=torch.float64, device=n.device)
    k = torch.floor(rate_t * n.to(torch.float64)).long()
    k = torch.maximum(k, torch.full_like(k, min_count))
    k = torch.where(rate_t > 0, k, torch.zeros_like(k))
    return torch.minimum(k, n)


def rand(n: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
    """``float64[n]`` uniform draws from ``generator`` (on its device), moved to ``device``."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, dtype=torch.float64, device=gen_device).to(device)


def select_per_group(
    group: Tensor, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Pick exactly ``min(counts[g], size of g)`` items uniformly at random in every group ``g``.

    Vectorised: a random permutation gives every item a distinct random key, one sort by
    ``group * n + key`` lays the groups out contiguously in random order, and an item is picked
    when its rank inside its group is below ``counts[group]``.

    Args:
        group: ``long[n]`` group id per item (any order).
        counts: ``long[G]`` how many items to pick per group.
        generator: Source of randomness (``None``: the global torch generator).

    Returns:
        ``bool[n]`` selection mask.
    """
    n = group.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=group.device)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    key = torch.randperm(n, generator=generator, device=gen_device).to(group.device)
    order = torch.argsort(group * n + key)
    size = torch.bincount(group, minlength=counts.numel())
    start = torch.cumsum(size, 0) - size
    sorted_group = group[order]
    rank = torch.arange(n, device=group.device) - start[sorted_group]
    picked = torch.empty(n, dtype=torch.bool, device=group.device)
    picked[order] = rank < counts[sorted_group]
    return picked


def edge_keys(data: GraphLike, num_edges: int) -> list[str]:
    """Edge-level attributes: ``edge_index`` plus every ``edge_*`` tensor with ``E`` rows."""
    keys = []
    for key in data.keys():
        value = data[key]
        if key == "edge_index" or (
            key.startswith("edge_") and isinstance(value, Tensor) and value.size(0) == num_edges
        ):
            keys.append(key)
    return keys


def masked_output(
    data: GraphLike,
    index: GraphIndex | None,
    node_mask: Tensor | None = None,
    edge_keep: Tensor | None = None,
    mask_atom: Tensor | None = None,
) -> GraphLike:
    """A shallow copy of ``data`` with masked atoms and dropped edges; ``data`` is untouched.

    Unchanged tensors (and extras such as ``smiles``, ``fp``, ``frag``, ``y``) are shared with the
    input, not copied: treat outputs as read-only. For a ``Batch`` the per-graph edge slices are
    rebuilt so ``to_data_list()`` still works.

    Args:
        data: Input graph or batch.
        index: Its :class:`GraphIndex` (needed only when ``edge_keep`` is given).
        node_mask: ``bool[N]`` atoms whose row becomes ``mask_atom``.
        edge_keep: ``bool[E]`` directed edges to keep (all edge-level attributes stay aligned).
        mask_atom: ``long[F_atom]`` row of a masked atom.
    """
    out = copy.copy(data)
    if node_mask is not None and bool(node_mask.any()):
        x = data.x.clone()
        x[node_mask] = mask_atom.to(dtype=x.dtype, device=x.device)
        out.x = x
    if edge_keep is not None and not bool(edge_keep.all()):
        num_edges = edge_keep.numel()
        keys = edge_keys(data, num_edges)
        for key in keys:
            value = data[key]
            out[key] = value[:, edge_keep] if key == "edge_index" else value[edge_keep]
        slices = getattr(data, "_slice_dict", None)
        if isinstance(data, Batch) and slices is not None and "edge_index" in slices:
            kept = torch.bincount(index.edge_graph[edge_keep], minlength=index.num_graphs)
            new = torch.cat([kept.new_zeros(1), torch.cumsum(kept, 0)]).to(
                slices["edge_index"].device
            )
            out._slice_dict = {**slices, **{k: new for k in keys if k in slices}}
    return out


def as_mask_row(mask_atom: tuple[int, ...] | list[int] | Tensor, data: GraphLike) -> Tensor:
    """Check ``mask_atom`` against ``data.x`` and return it as a tensor.

    Raises:
        ValueError: ``data.x`` is not 2-D or its width differs from ``len(mask_atom)``.
    """
    row = torch.as_tensor(mask_atom, dtype=data.x.dtype, device=data.x.device).reshape(-1)
    if data.x.dim() != 2 or data.x.size(1) != row.numel():
        raise ValueError(
            f"mask_atom {tuple(row.tolist())} has {row.numel()} features but x has shape "
            f"{tuple(data.x.shape)}; pass mask_atom=featurizer.mask_atom of the featurizer "
            "that built these graphs."
        )
    return row


def check_rate(name: str, rate: float) -> float:
    """Validate a rate in ``[0, 1]``.

    Raises:
        ValueError: ``rate`` is outside ``[0, 1]`` or not finite.
    """
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {rate!r}.")
    return float(rate)
