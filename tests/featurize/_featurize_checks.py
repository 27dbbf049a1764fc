"""SMILES and graph invariants shared by the featurizer tests."""

from __future__ import annotations

import torch
from torch_geometric.data import Data

TRICKY = [
    "[NH4+]",
    "C[C@H](N)C(=O)O",
    "C[C@@H](N)O",
    "F/C=C/F",
    "F\\C=C/F",
    "c1ccccc1",
    "C1=CC=CC=C1",
    "C",
    "[Na+].[Cl-]",
    "*C(=O)O",
    "[13CH4]",
    "[2H]C([2H])([2H])O",
    "[H]C([H])([H])[H]",
    "[Fe+2]",
    "[NH3]->[Co+3]",
    "[Cu-3]",
    "c1cc[se]c1",
    "C#N",
    "C%10CC%10",
    "CC(C)(C)[Si](C)(C)OC",
    "[O-][N+](=O)c1ccccc1",
    "c1ccc2[nH]ccc2c1",
    "C[S@@](=O)c1ccccc1",
    "C/C=C/C=C\\C",
    "CCO ethanol",
    "CC[C@H](C)[C@@H](C(=O)O)N |&1:2|",
]


def check_graph(data: Data, sizes_atom: tuple[int, ...], sizes_bond: tuple[int, ...]) -> None:
    """Shapes, dtypes, every index below its vocabulary size, paired and sorted edges."""
    assert data.x.dtype == data.edge_index.dtype == data.edge_attr.dtype == torch.long
    n, e = data.x.shape[0], data.edge_index.shape[1]
    assert data.x.shape == (n, len(sizes_atom))
    assert data.edge_attr.shape == (e, len(sizes_bond))
    for column, size in enumerate(sizes_atom):
        assert 0 <= data.x[:, column].min() and data.x[:, column].max() < size
    for column, size in enumerate(sizes_bond):
        if e:
            assert 0 <= data.edge_attr[:, column].min() and data.edge_attr[:, column].max() < size
    if e:
        forward, backward = data.edge_index[:, 0::2], data.edge_index[:, 1::2]
        assert torch.equal(forward, backward.flip(0))
        assert torch.equal(data.edge_attr[0::2], data.edge_attr[1::2])
        assert bool((forward[0] < forward[1]).all())
        keys = (forward[0] * n + forward[1]).tolist()
        assert keys == sorted(keys)
        assert data.edge_index.max() < n
