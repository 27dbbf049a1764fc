"""Invariant checks shared by the augmentation tests."""

from __future__ import annotations

import math

import torch
from rdkit import Chem
from torch_geometric.data import Batch, Data

from molssl.featurize import vocab

MASK = (118, 0)


def bonds_of(data: Data | Batch) -> set[tuple[int, int]]:
    """Undirected bonds as ``(min, max)`` global node pairs."""
    return {(min(u, v), max(u, v)) for u, v in data.edge_index.t().tolist()}


def check_aligned(
    original: Data | Batch, out: Data | Batch, paired_order: bool = True, split: bool = True
) -> None:
    """Edges are a subset of the original with the same attributes, removed in pairs; with
    ``split`` also check that ``to_data_list()`` of a batch still works (slow-ish)."""
    assert out.edge_index.size(1) == out.edge_attr.size(0)
    assert out.x.shape == original.x.shape
    attr = {
        (u, v): tuple(a)
        for (u, v), a in zip(
            original.edge_index.t().tolist(), original.edge_attr.tolist(), strict=True
        )
    }
    pairs = out.edge_index.t().tolist()
    directed = set(map(tuple, pairs))
    assert len(directed) == len(pairs)
    for (u, v), a in zip(pairs, out.edge_attr.tolist(), strict=True):
        assert attr[(u, v)] == tuple(a)
        assert (v, u) in directed
    if paired_order:  # the featurizer convention (2i, 2i+1 = one bond) still holds
        assert torch.equal(out.edge_index[:, 0::2], out.edge_index[:, 1::2].flip(0))
    if isinstance(out, Batch) and split:
        assert torch.equal(out.batch, original.batch)
        kept = torch.bincount(out.batch[out.edge_index[0]], minlength=out.num_graphs)
        for i, g in enumerate(out.to_data_list()):
            assert g.edge_index.size(1) == int(kept[i])
            assert g.edge_index.numel() == 0 or int(g.edge_index.max()) < g.num_nodes
            assert g.smiles == original.smiles[i]
        for key in ("fp", "frag", "num_frags", "y", "ptr"):
            assert out[key] is original[key]


def masked_atoms(original: Data | Batch, out: Data | Batch) -> torch.Tensor:
    """``bool[N]`` masked atoms; asserts every other row is unchanged."""
    mask = (out.x == torch.tensor(MASK)).all(dim=1)
    assert not (original.x == torch.tensor(MASK)).all(dim=1).any()
    assert torch.equal(out.x[~mask], original.x[~mask])
    return mask


def per_graph(values: torch.Tensor, group: torch.Tensor, num_graphs: int) -> list[int]:
    return torch.bincount(group, weights=values.double(), minlength=num_graphs).long().tolist()


def expected(rate: float, n: int, min_count: int = 1) -> int:
    if rate == 0 or n == 0:
        return 0
    return min(n, max(min_count, math.floor(rate * n)))


def assert_same(a: Data | Batch, b: Data | Batch) -> None:
    """Every attribute of ``a`` and ``b`` is equal (input-not-mutated check)."""
    assert set(a.keys()) == set(b.keys())
    for key in a.keys():
        va, vb = a[key], b[key]
        if isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), key
        else:
            assert va == vb, key


def smiles_to_data(smiles: str) -> Data:
    """Featurize like ``MolGraphFeaturizer`` (molclr scheme): bond i -> edges 2i, 2i+1."""
    mol = Chem.MolFromSmiles(smiles)
    x = [
        [vocab.atom_type_index(a.GetAtomicNum()), vocab.chirality_index(a.GetChiralTag())]
        for a in mol.GetAtoms()
    ]
    edges, attrs = [], []
    for bond in mol.GetBonds():
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        feat = [
            vocab.bond_type_index(bond.GetBondType()),
            vocab.bond_direction_index(bond.GetBondDir()),
        ]
        edges += [[u, v], [v, u]]
        attrs += [feat, feat]
    n = len(x)
    return Data(
        x=torch.tensor(x, dtype=torch.long).view(-1, 2),
        edge_index=torch.tensor(edges, dtype=torch.long).view(-1, 2).t().contiguous(),
        edge_attr=torch.tensor(attrs, dtype=torch.long).view(-1, 2),
        smiles=smiles,
        fp=torch.rand(1, 16) > 0.5,
        frag=torch.arange(n, dtype=torch.long) % 3,
        num_frags=torch.tensor([3]),
        y=torch.tensor([[float(n)]]),
    )
