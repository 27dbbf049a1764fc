"""parse_smiles: the one SMILES parser, its hydrogen policy and its errors."""

from __future__ import annotations

import pickle

import pytest
from rdkit import Chem

from molssl.featurize import (
    HydrogenPolicy,
    InvalidSmilesError,
    apply_hydrogen_policy,
    parse_smiles,
    quiet_rdkit_log,
)

VALID = [
    "[NH4+]",
    "C[C@H](N)C(=O)O",
    "F/C=C/F",
    "c1ccccc1",
    "C",
    "[Na+].[Cl-]",
    "*C(=O)O",
    "[13CH4]",
    "[Fe+2]",
    "[NH3]->[Co+3]",
    "  CCO\n",
]


@pytest.mark.parametrize("smiles", VALID)
def test_valid_smiles_parse(smiles: str) -> None:
    mol = parse_smiles(smiles)
    assert isinstance(mol, Chem.Mol)
    assert mol.GetNumAtoms() >= 1


def test_dative_bond_is_kept() -> None:
    mol = parse_smiles("[NH3]->[Co+3]")
    assert mol.GetBondWithIdx(0).GetBondType() == Chem.BondType.DATIVE


@pytest.mark.parametrize(
    ("smiles", "fragment"),
    [
        ("C1CC", "unclosed ring"),
        ("Xx", "syntax error"),
        ("c1cccc1", "kekulize"),
        ("C(C)(C)(C)(C)C", "valence"),
        ("", "empty SMILES"),
        ("   ", "whitespace-only"),
        (None, "None"),
        (float("nan"), "NaN"),
        (42, "expected a str, got int"),
        (b"CCO", "expected a str, got bytes"),
    ],
)
def test_invalid_inputs_raise_with_reason(smiles: object, fragment: str) -> None:
    with quiet_rdkit_log(), pytest.raises(InvalidSmilesError) as info:
        parse_smiles(smiles)  # type: ignore[arg-type]
    assert fragment in info.value.reason
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_rdkit_reason_is_one_clean_line() -> None:
    with quiet_rdkit_log(), pytest.raises(InvalidSmilesError) as info:
        parse_smiles("Xx")
    reason = info.value.reason
    assert "\n" not in reason
    assert "[" not in reason.split(":")[0]  # no RDKit timestamp prefix
    assert "^" not in reason


def test_huge_string_is_rejected_before_rdkit_and_truncated_in_message() -> None:
    huge = "C" * 1_000_000
    with pytest.raises(InvalidSmilesError) as info:
        parse_smiles(huge)
    assert "max_length=10000" in info.value.reason
    assert len(str(info.value)) < 500
    assert "1000000 characters" in str(info.value)


def test_max_length_is_configurable() -> None:
    long_chain = "C" * 200
    with pytest.raises(InvalidSmilesError):
        parse_smiles(long_chain, max_length=100)
    assert parse_smiles(long_chain, max_length=200).GetNumAtoms() == 200


def test_error_pickles() -> None:
    err = InvalidSmilesError("C1CC", "unclosed ring")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.smiles, copy.reason, str(copy)) == (err.smiles, err.reason, str(err))


def test_hydrogen_policy_values_and_errors() -> None:
    assert HydrogenPolicy("implicit") is HydrogenPolicy.IMPLICIT
    assert HydrogenPolicy.EXPLICIT.value == "explicit"
    assert HydrogenPolicy.coerce("explicit") is HydrogenPolicy.EXPLICIT
    with pytest.raises(ValueError, match="'implicit', 'explicit'"):
        parse_smiles("CCO", hydrogens="all")


@pytest.mark.parametrize(
    ("smiles", "implicit", "explicit"),
    [("CCO", 3, 9), ("[NH4+]", 1, 5), ("C", 1, 5), ("[H]C([H])([H])[H]", 1, 5), ("[2H]C", 2, 5)],
)
def test_hydrogen_policy_atom_counts(smiles: str, implicit: int, explicit: int) -> None:
    assert parse_smiles(smiles).GetNumAtoms() == implicit
    assert parse_smiles(smiles, hydrogens="explicit").GetNumAtoms() == explicit
    assert parse_smiles(smiles, HydrogenPolicy.EXPLICIT).GetNumAtoms() == explicit


def test_apply_hydrogen_policy_round_trip() -> None:
    mol = Chem.MolFromSmiles("CCO")
    assert apply_hydrogen_policy(mol, "implicit") is mol
    with_hs = apply_hydrogen_policy(mol, "explicit")
    assert with_hs.GetNumAtoms() == 9
    assert apply_hydrogen_policy(with_hs, "implicit").GetNumAtoms() == 3
