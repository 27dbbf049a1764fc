"""Fixtures for the RDKit-backed tests: ~50 varied molecules (drugs, ions, tiny, isotopes)."""

from __future__ import annotations

import pytest
from rdkit import Chem

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(=O)Nc1ccc(O)cc1",
    "CCCCC(=O)NCCCC",
    "c1ccccc1",
    "c1ccncc1",
    "C1CCCCC1",
    "CCO",
    "C",
    "O",
    "[Na+].[Cl-]",
    "CC(C)NCC(O)c1ccc(O)c(O)c1",
    "CN(C)CCCN1c2ccccc2CCc2ccccc21",
    "Clc1ccc(cc1)C(c1ccccc1)N1CCN(CC1)CCOCC(=O)O",
    "O=C(O)CCCc1ccc(N(CCCl)CCCl)cc1",
    "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
    "N[C@@H](Cc1ccccc1)C(=O)O",
    "NC(=O)c1cnccn1",
    "CC1=C(C(=O)OC)C(c2ccccc2[N+](=O)[O-])C(C(=O)OC)=C(C)N1",
    "COc1ccc2[nH]cc(CCNC(C)=O)c2c1",
    "CS(=O)(=O)N1CCC(CC1)Nc1ncc(F)cn1",
    "FC(F)(F)c1ccc(Oc2ccccc2)cc1",
    "Brc1ccc(I)cc1",
    "C#CCO",
    "C=CC(=O)OC",
    "CC(C)(C)OC(=O)N1CCCC1C(=O)O",
    "O=C1CCCN1",
    "c1ccc2c(c1)ccc1ccccc12",
    "OC(=O)C(F)(F)F",
    "CCN(CC)CC",
    "CC(=O)OCC[N+](C)(C)C",
    "NS(=O)(=O)c1cc(Cl)c(NCc2ccco2)cc1C(=O)O",
    "CC(C)C[C@H](NC(=O)[C@@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O",
    "O=c1[nH]c(=O)c2[nH]cnc2[nH]1",
    "C1CC1",
    "C1=CC=CC=C1O",
    "P(=O)(O)(O)O",
    "[2H]C([2H])([2H])O",
    "CCCCCCCCCCCCCCCC(=O)O",
    "c1ccc(cc1)-c1ccccc1",
    "O=S(=O)(O)O",
    "CSCC[C@H](N)C(=O)O",
    "Oc1ccc(cc1)/C=C/c1cc(O)cc(O)c1",
    "CC(=O)C",
    "N#N",
    "[O-][N+](=O)c1ccccc1",
    "Cc1ccccc1N",
    "OCC(O)CO",
]


@pytest.fixture(scope="session")
def mols() -> list[Chem.Mol]:
    """The molecules of ``SMILES``, parsed once."""
    out = [Chem.MolFromSmiles(s) for s in SMILES]
    assert all(m is not None for m in out)
    return out
