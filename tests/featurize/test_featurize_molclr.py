"""MolGraphFeaturizer ("molclr" scheme): hand-checked values, tricky SMILES, shortcuts."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch
from _featurize_checks import TRICKY, check_graph
from rdkit import Chem

from molssl.featurize import InvalidSmilesError, MolGraphFeaturizer, quiet_rdkit_log, vocab


@pytest.fixture(scope="module")
def featurizer() -> MolGraphFeaturizer:
    return MolGraphFeaturizer()


def test_declared_sizes() -> None:
    f = MolGraphFeaturizer()
    assert f.name == "molclr"
    assert f.atom_feature_sizes == (119, 4)
    assert f.bond_feature_sizes == (5, 3)
    assert f.self_loop_bond == (4, 0)
    assert f.mask_atom == (118, 0)


def test_ethanol_by_hand(featurizer: MolGraphFeaturizer) -> None:
    data = featurizer("CCO")
    assert data.x.tolist() == [[5, 0], [5, 0], [7, 0]]
    assert data.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert data.edge_attr.tolist() == [[0, 0]] * 4
    assert data.smiles == "CCO"
    assert data.x.dtype == data.edge_index.dtype == data.edge_attr.dtype == torch.long


def test_chirality_by_hand(featurizer: MolGraphFeaturizer) -> None:
    assert featurizer("C[C@H](N)O").x[:, 1].tolist() == [0, 2, 0, 0]  # @ = CCW
    assert featurizer("C[C@@H](N)O").x[:, 1].tolist() == [0, 1, 0, 0]  # @@ = CW
    # a chiral tag on a centre that is not one is cleared by RDKit, and by us
    assert featurizer("C[C@H](C)C").x[:, 1].tolist() == [0, 0, 0, 0]


def test_bond_directions_by_hand(featurizer: MolGraphFeaturizer) -> None:
    trans = featurizer("F/C=C/F")
    assert trans.edge_index.tolist() == [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]
    assert trans.edge_attr.tolist() == [[0, 1], [0, 1], [1, 0], [1, 0], [0, 1], [0, 1]]
    cis = featurizer("F\\C=C/F")
    assert cis.edge_attr[:, 1].tolist() == [2, 2, 0, 0, 1, 1]


def test_aromatic_bonds_by_hand(featurizer: MolGraphFeaturizer) -> None:
    for smiles in ("c1ccccc1", "C1=CC=CC=C1"):
        data = featurizer(smiles)
        assert data.edge_index.shape == (2, 12)
        assert data.edge_attr[:, 0].tolist() == [3] * 12


def test_out_of_vocabulary_falls_back(featurizer: MolGraphFeaturizer) -> None:
    assert featurizer("*C(=O)O").x[0].tolist() == [vocab.UNKNOWN_ATOM_INDEX, 0]
    dative = featurizer("[NH3]->[Co+3]")
    assert dative.x.tolist() == [[6, 0], [26, 0]]
    assert dative.edge_attr.tolist() == [[vocab.UNKNOWN_BOND_INDEX, 0]] * 2
    assert featurizer("[13CH4]").x.tolist() == [[5, 0]]


def test_every_rdkit_bond_type_and_chiral_tag_maps_without_error(
    featurizer: MolGraphFeaturizer,
) -> None:
    for bond_type in Chem.BondType.values.values():
        mol = Chem.RWMol(Chem.MolFromSmiles("CC"))
        mol.GetBondWithIdx(0).SetBondType(bond_type)
        _, _, edge_attr = featurizer.graph(mol.GetMol())  # RDKit cannot write some as SMILES
        assert edge_attr[:, 0].tolist() == [vocab.bond_type_index(bond_type)] * 2
    for tag in Chem.ChiralType.values.values():
        mol = Chem.RWMol(Chem.MolFromSmiles("CC"))
        mol.GetAtomWithIdx(0).SetChiralTag(tag)
        assert featurizer.graph(mol.GetMol())[0][0, 1].item() == vocab.chirality_index(tag)


@pytest.mark.parametrize("smiles", ["C", "[Na+].[Cl-]", "[Fe+2]", "[13CH4]"])
def test_no_bonds_shapes(featurizer: MolGraphFeaturizer, smiles: str) -> None:
    data = featurizer(smiles)
    assert data.edge_index.shape == (2, 0)
    assert data.edge_attr.shape == (0, 2)
    assert data.edge_index.dtype == data.edge_attr.dtype == torch.long
    assert data.num_nodes == data.x.shape[0] >= 1


@pytest.mark.parametrize("hydrogens", ["implicit", "explicit"])
@pytest.mark.parametrize("smiles", TRICKY)
def test_tricky_smiles_properties(smiles: str, hydrogens: str) -> None:
    featurizer = MolGraphFeaturizer(hydrogens=hydrogens)
    data = featurizer(smiles)
    check_graph(data, featurizer.atom_feature_sizes, featurizer.bond_feature_sizes)
    mol = Chem.MolFromSmiles(smiles)
    if hydrogens == "explicit":
        mol = Chem.AddHs(mol)
    assert data.x.shape[0] == mol.GetNumAtoms()
    assert data.edge_index.shape[1] == 2 * mol.GetNumBonds()


def _exact(featurizer: MolGraphFeaturizer, mol: Chem.Mol) -> tuple[torch.Tensor, ...]:
    return featurizer.graph(mol)  # no SMILES: every value read from RDKit


def _assert_same(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...], smiles: str) -> None:
    for left, right in zip(a, b, strict=True):
        assert torch.equal(left, right), smiles


@pytest.mark.parametrize("smiles", TRICKY)
def test_string_shortcuts_equal_reading_the_molecule(
    featurizer: MolGraphFeaturizer, smiles: str
) -> None:
    data = featurizer(smiles)
    mol = Chem.MolFromSmiles(smiles)
    _assert_same((data.x, data.edge_index, data.edge_attr), _exact(featurizer, mol), smiles)
    from_mol = featurizer(mol)
    _assert_same(
        (from_mol.x, from_mol.edge_index, from_mol.edge_attr), _exact(featurizer, mol), smiles
    )
    assert from_mol.smiles == Chem.MolToSmiles(mol)


def _shared_smiles(shared_data: Path) -> list[str]:
    with gzip.open(shared_data / "pretrain" / "moses_test.smi.gz", "rt") as handle:
        smiles = [next(handle).strip() for _ in range(150)]
    for name in ("HIV.csv", "clintox.csv", "tox21.csv"):
        path = shared_data / "moleculenet" / name
        if path.exists():
            smiles += pd.read_csv(path, usecols=["smiles"])["smiles"].iloc[::40].tolist()[:150]
    return smiles


def test_string_shortcuts_equal_reading_the_molecule_on_real_data(shared_data: Path) -> None:
    featurizer = MolGraphFeaturizer()
    checked = 0
    with quiet_rdkit_log():
        for smiles in _shared_smiles(shared_data):
            try:
                data = featurizer(smiles)
            except InvalidSmilesError:
                continue
            mol = Chem.MolFromSmiles(smiles)
            _assert_same((data.x, data.edge_index, data.edge_attr), _exact(featurizer, mol), smiles)
            checked += 1
    assert checked > 300


def test_invalid_raises(featurizer: MolGraphFeaturizer) -> None:
    for bad in ("C1CC", "Xx", "", "   ", None, float("nan"), "C" * 1_000_000):
        with quiet_rdkit_log(), pytest.raises(InvalidSmilesError):
            featurizer(bad)  # type: ignore[arg-type]


def test_explicit_hydrogens(featurizer: MolGraphFeaturizer) -> None:
    explicit = MolGraphFeaturizer(hydrogens="explicit")
    assert featurizer("CCO").num_nodes == 3
    data = explicit("CCO")
    assert data.num_nodes == 9
    assert data.x[:, 0].tolist().count(0) == 6  # six hydrogens, atom type 0
    assert data.edge_index.shape[1] == 16


def test_max_smiles_length_option() -> None:
    with pytest.raises(InvalidSmilesError, match="max_length=10"):
        MolGraphFeaturizer(max_smiles_length=10)("C" * 11)


def test_featurizer_pickles_and_compares(featurizer: MolGraphFeaturizer) -> None:
    copy = pickle.loads(pickle.dumps(featurizer))
    assert copy == featurizer
    assert copy != MolGraphFeaturizer(hydrogens="explicit")
    assert torch.equal(copy("CCO").x, featurizer("CCO").x)


def test_fingerprint_and_fragments_extras() -> None:
    fingerprints = pytest.importorskip("molssl.fingerprints")
    pytest.importorskip("molssl.fragments")
    smiles = "CC(=O)Oc1ccccc1C(=O)O"
    for hydrogens in ("implicit", "explicit"):
        featurizer = MolGraphFeaturizer(hydrogens=hydrogens, fingerprint=True, fragments=True)
        data = featurizer(smiles)
        assert data.fp.shape == (1, 2048) and data.fp.dtype == torch.bool
        # ECFP of the heavy-atom molecule, whatever the hydrogen policy
        assert torch.equal(data.fp, fingerprints.ecfp_bits(Chem.MolFromSmiles(smiles)))
        assert data.frag.shape == (data.num_nodes,) and data.frag.dtype == torch.long
        assert data.num_frags.shape == (1,) and data.num_frags.dtype == torch.long
        assert int(data.frag.max()) < int(data.num_frags)
    single = MolGraphFeaturizer(fingerprint=True, fragments=True)("C")
    assert single.frag.shape == (1,) and single.fp.shape == (1, 2048)
    small = MolGraphFeaturizer(fingerprint=True, fingerprint_bits=512)("CCO")
    assert small.fp.shape == (1, 512)
