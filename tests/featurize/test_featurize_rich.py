"""RichGraphFeaturizer ("rich" scheme): sizes, hand-checked values, tricky SMILES."""

from __future__ import annotations

import pytest
import torch
from _featurize_checks import TRICKY, check_graph

from molssl.featurize import MolGraphFeaturizer, RichGraphFeaturizer


def test_declared_sizes_and_special_rows() -> None:
    f = RichGraphFeaturizer()
    assert f.name == "rich"
    assert f.atom_feature_sizes == (119, 12, 12, 7, 2, 10, 2, 4)
    assert f.bond_feature_sizes == (5, 2, 2, 7)
    assert f.self_loop_bond == (4, 0, 0, 0)
    assert f.mask_atom == (118, 11, 11, 6, 0, 9, 0, 0)
    for row, sizes in (
        (f.mask_atom, f.atom_feature_sizes),
        (f.self_loop_bond, f.bond_feature_sizes),
    ):
        assert len(row) == len(sizes)
        assert all(0 <= value < size for value, size in zip(row, sizes, strict=True))


def test_alaninol_by_hand() -> None:
    x = RichGraphFeaturizer()("C[C@H](N)O").x.tolist()
    # type, degree, charge(+5), hybridization, aromatic, total Hs, in ring, chirality
    assert x == [
        [5, 1, 5, 3, 0, 3, 0, 0],
        [5, 3, 5, 3, 0, 1, 0, 2],
        [6, 1, 5, 3, 0, 2, 0, 0],
        [7, 1, 5, 3, 0, 1, 0, 0],
    ]


def test_benzene_and_ammonium_by_hand() -> None:
    benzene = RichGraphFeaturizer()("c1ccccc1")
    assert benzene.x.tolist() == [[5, 2, 5, 2, 1, 1, 1, 0]] * 6
    assert benzene.edge_attr.tolist() == [[3, 1, 1, 0]] * 12  # aromatic, conjugated, ring
    assert RichGraphFeaturizer()("[NH4+]").x.tolist() == [[6, 0, 6, 3, 0, 4, 0, 0]]


def test_double_bond_stereo_by_hand() -> None:
    f = RichGraphFeaturizer()
    assert f("F/C=C/F").edge_attr[2].tolist() == [1, 0, 0, 3]  # STEREOE
    assert f("F\\C=C/F").edge_attr[2].tolist() == [1, 0, 0, 2]  # STEREOZ


@pytest.mark.parametrize("hydrogens", ["implicit", "explicit"])
@pytest.mark.parametrize("smiles", TRICKY)
def test_tricky_smiles_within_vocabulary(smiles: str, hydrogens: str) -> None:
    f = RichGraphFeaturizer(hydrogens=hydrogens)
    data = f(smiles)
    check_graph(data, f.atom_feature_sizes, f.bond_feature_sizes)
    molclr = MolGraphFeaturizer(hydrogens=hydrogens)(smiles)
    # same graph, same atom types, same bond types and chirality as the MolCLR scheme
    assert torch.equal(data.edge_index, molclr.edge_index)
    assert torch.equal(data.x[:, 0], molclr.x[:, 0])
    assert torch.equal(data.x[:, 7], molclr.x[:, 1])
    assert torch.equal(data.edge_attr[:, 0], molclr.edge_attr[:, 0])


def test_no_bonds_shapes() -> None:
    data = RichGraphFeaturizer()("[Na+].[Cl-]")
    assert data.x.shape == (2, 8)
    assert data.edge_index.shape == (2, 0)
    assert data.edge_attr.shape == (0, 4)
    assert data.edge_attr.dtype == torch.long
