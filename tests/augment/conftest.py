"""Tiny graph builder mimicking the ``molclr`` featurizer format, and shared molecule lists."""

from __future__ import annotations

import pytest
import torch
from _augment_checks import smiles_to_data
from torch_geometric.data import Batch, Data

SMILES = [
    "C",
    "[Na+].[Cl-]",
    "CC(=O)[O-].[Na+]",
    "CCCCCCCCCC.CC",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "C[C@H](N)C(=O)O",
    "F/C=C/F",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "O",
    "[Fe+2]",
    "C1CC2CCC1CC2",
    "OCC(O)CO",
    "CCN(CC)CC.Cl",
    "c1ccc2c(c1)ccc1ccccc12",
    "CC(C)(C)c1ccc(O)cc1",
    "N#N",
    "[2H]C([2H])([2H])O",
    "C1=CC=CC=C1C1=CC=CC=C1",
    "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O",
    "O=C(O)C(O)C(O)C(O)C(O)CO",
    "S(=O)(=O)(O)O.[K+].[K+]",
    "CCCCCCCCCCCCCCCC(=O)O",
    "C1CCC(CC1)NC(=O)N",
    "Brc1ccc(Br)cc1",
    "CC",
    "[He]",
    "CS(C)=O",
    "C1CC1C2CC2.C3CC3",
    "OC(=O)CC(O)(CC(O)=O)C(O)=O",
]


@pytest.fixture(scope="module")
def graphs() -> list[Data]:
    torch.manual_seed(0)
    return [smiles_to_data(s) for s in SMILES]


@pytest.fixture(scope="module")
def batch(graphs: list[Data]) -> Batch:
    return Batch.from_data_list(graphs)
