"""SubgraphRemoval and Mix: connected subgraphs, internal bonds cut, reference bugs, top-ups."""

from __future__ import annotations

import math

import pytest
import torch
from _augment_checks import (
    assert_same,
    bonds_of,
    check_aligned,
    expected,
    masked_atoms,
    per_graph,
    smiles_to_data,
)
from torch_geometric.data import Batch

from molssl.augment import Mix, SubgraphRemoval


def _adjacency(data) -> dict[int, set[int]]:
    adj: dict[int, set[int]] = {i: set() for i in range(data.num_nodes)}
    for u, v in data.edge_index.t().tolist():
        adj[u].add(v)
    return adj


def _component(adj: dict[int, set[int]], start: int, within: set[int] | None = None) -> set[int]:
    seen, stack = {start}, [start]
    while stack:
        for w in adj[stack.pop()]:
            if w not in seen and (within is None or w in within):
                seen.add(w)
                stack.append(w)
    return seen


def check_subgraph(original, out, rate: float, split: bool = True) -> None:
    """Per graph: connected masked set of the exact size (or a whole component), internal bonds
    removed in both directions and every other bond kept."""
    check_aligned(original, out, split=split)
    mask = masked_atoms(original, out)
    adj = _adjacency(original)
    graph_of = original.batch.tolist() if isinstance(original, Batch) else [0] * original.num_nodes
    groups: dict[int, set[int]] = {}
    for i in mask.nonzero().flatten().tolist():
        groups.setdefault(graph_of[i], set()).add(i)
    sizes = torch.bincount(torch.tensor(graph_of), minlength=max(graph_of) + 1).tolist()
    for g, n in enumerate(sizes):
        sub = groups.get(g, set())
        k = expected(rate, n)
        assert len(sub) == k or (0 < len(sub) < k and _component(adj, min(sub)) == sub)
        if sub:
            assert _component(adj, min(sub), within=sub) == sub
    masked = set(mask.nonzero().flatten().tolist())
    internal = {(u, v) for u, v in bonds_of(original) if u in masked and v in masked}
    assert bonds_of(out) == bonds_of(original) - internal


@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_subgraph_invariants(batch: Batch, rate: float) -> None:
    reference = batch.clone()
    aug = SubgraphRemoval(rate)
    for seed in range(200):
        out = aug(batch, torch.Generator().manual_seed(seed))
        check_subgraph(batch, out, rate, split=seed % 20 == 0)
    assert_same(batch, reference)


def test_reference_bug_disconnected_chain_terminates() -> None:
    """MolCLR's removeSubgraph loops forever when the start component is too small."""
    data = smiles_to_data("CCCCCCCCCC.CC")
    sizes = set()
    for seed in range(100):
        out = SubgraphRemoval(0.5)(data, torch.Generator().manual_seed(seed))
        check_subgraph(data, out, 0.5)
        sizes.add(int(masked_atoms(data, out).sum()))
    assert sizes == {2, 6}


def test_reference_bug_isolated_start_atom() -> None:
    """MolCLR's removeSubgraph crashes when the start atom has no bonds (the Na+ of a salt)."""
    data = smiles_to_data("CC(=O)[O-].[Na+]")
    hit_sodium = False
    for seed in range(100):
        out = SubgraphRemoval(1.0)(data, torch.Generator().manual_seed(seed))
        check_subgraph(data, out, 1.0)
        mask = masked_atoms(data, out)
        if bool(mask[4]):
            hit_sodium = True
            assert int(mask.sum()) == 1 and torch.equal(out.edge_index, data.edge_index)
    assert hit_sodium


def test_reference_bug_bond_orientation() -> None:
    """Bonds outside the subgraph all survive, whatever their stored orientation."""
    data = smiles_to_data("CN1C=NC2=C1C(=O)N(C(=O)N2C)C")
    flipped = data.clone()
    flipped.edge_index = data.edge_index[:, torch.arange(data.edge_index.size(1)) ^ 1]
    flipped.edge_attr = data.edge_attr
    for seed in range(50):
        for d in (data, flipped):
            check_subgraph(d, SubgraphRemoval(0.25)(d, torch.Generator().manual_seed(seed)), 0.25)


def test_subgraph_drop_boundary_bonds(batch: Batch) -> None:
    out = SubgraphRemoval(0.25, drop_boundary_bonds=True)(batch, torch.Generator().manual_seed(0))
    check_aligned(batch, out)
    masked = set(masked_atoms(batch, out).nonzero().flatten().tolist())
    touching = {(u, v) for u, v in bonds_of(batch) if u in masked or v in masked}
    assert bonds_of(out) == bonds_of(batch) - touching


def test_subgraph_determinism_and_rates(batch: Batch) -> None:
    aug = SubgraphRemoval(0.25)
    a = aug(batch, torch.Generator().manual_seed(3))
    b = aug(batch, torch.Generator().manual_seed(3))
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert torch.equal(SubgraphRemoval(0.0)(batch).x, batch.x)
    check_subgraph(batch, SubgraphRemoval(1.0)(batch, torch.Generator().manual_seed(0)), 1.0)


def test_mix_invariants(batch: Batch) -> None:
    reference = batch.clone()
    n = torch.bincount(batch.batch).tolist()
    m = (torch.bincount(batch.batch[batch.edge_index[0]], minlength=len(n)) // 2).tolist()
    aug = Mix()
    for seed in range(200):
        out = aug(batch, torch.Generator().manual_seed(seed))
        check_aligned(batch, out, split=seed % 20 == 0)
        mask = masked_atoms(batch, out)
        # the subgraph (<= 20%) never exceeds the 25% target, so the total is exactly the target
        assert per_graph(mask, batch.batch, len(n)) == [math.floor(0.25 * k) for k in n]
        left = torch.bincount(out.batch[out.edge_index[0]], minlength=len(n)) // 2
        assert all(lk <= math.ceil(0.75 * mk) for lk, mk in zip(left.tolist(), m, strict=True))
    assert_same(batch, reference)


def test_mix_without_subgraph_is_exact_top_up(batch: Batch) -> None:
    n = torch.bincount(batch.batch).tolist()
    m = (torch.bincount(batch.batch[batch.edge_index[0]], minlength=len(n)) // 2).tolist()
    for seed in range(20):
        out = Mix(max_subgraph_rate=0.0)(batch, torch.Generator().manual_seed(seed))
        left = torch.bincount(out.batch[out.edge_index[0]], minlength=len(n)) // 2
        assert left.tolist() == [math.ceil(0.75 * k) for k in m]
        mask = masked_atoms(batch, out)
        assert per_graph(mask, batch.batch, len(n)) == [math.floor(0.25 * k) for k in n]


def test_mix_large_subgraph_dominates() -> None:
    """With a subgraph above the atom target no extra atom is masked and the count stays connected."""
    data = smiles_to_data("CCCCCCCCCCCCCCCCCCCC")
    for seed in range(30):
        out = Mix(max_subgraph_rate=1.0, atom_rate=0.0, bond_rate=0.0)(
            data, torch.Generator().manual_seed(seed)
        )
        mask = masked_atoms(data, out)
        idx = mask.nonzero().flatten().tolist()
        assert idx == list(range(idx[0], idx[0] + len(idx))) if idx else True
