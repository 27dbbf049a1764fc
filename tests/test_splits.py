"""Splitters: parity with DeepChem's ScaffoldSplitter, and properties of the seeded splitters."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, rdBase

from molssl.splits import (
    SPLITTERS,
    get_splitter,
    murcko_scaffold,
    random_scaffold_split,
    random_split,
    scaffold_split,
    validate_sizes,
)

# Acyclic molecules share the "" scaffold; benzene, pyridine and cyclohexane rings recur.
TOY_SMILES = [
    "CCO",
    "c1ccccc1O",
    "c1ccccc1N",
    "CCCC",
    "C1CCCCC1C",
    "c1ccncc1",
    "c1ccccc1CC(=O)O",
    "C1CCCCC1O",
    "OCC",
    "c1ccc2ccccc2c1",
    "c1ccncc1C",
    "CC(C)C",
    "c1ccccc1",
    "C1CC1",
    "c1ccc2ccccc2c1O",
    "N",
    "c1ccccc1Cl",
    "C1CCNCC1",
    "C1CCNCC1C",
    "c1ccoc1",
]


def _load_parseable(path: Path) -> list[str]:
    smiles = pd.read_csv(path)["smiles"].tolist()
    with rdBase.BlockLogs():
        return [s for s in smiles if Chem.MolFromSmiles(s) is not None]


@pytest.fixture(scope="module")
def deepchem():
    with rdBase.BlockLogs():
        return pytest.importorskip(
            "deepchem",
            reason="deepchem (a dependency: pip install -c constraints.txt -e .) is "
            "needed for the parity test",
        )


def _assert_deepchem_parity(deepchem, smiles: list[str]) -> None:
    dataset = deepchem.data.NumpyDataset(
        X=np.zeros(len(smiles)), ids=np.array(smiles, dtype=object)
    )
    expected = deepchem.splits.ScaffoldSplitter().split(dataset, 0.8, 0.1, 0.1)
    actual = scaffold_split(smiles, (0.8, 0.1, 0.1))
    for name, got, want in zip(("train", "valid", "test"), actual, expected, strict=True):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.asarray(want, dtype=np.int64), err_msg=name)


def test_scaffold_split_matches_deepchem_bbbp(deepchem, moleculenet_dir: Path) -> None:
    _assert_deepchem_parity(deepchem, _load_parseable(moleculenet_dir / "BBBP.csv"))


@pytest.mark.slow
def test_scaffold_split_matches_deepchem_tox21(deepchem, moleculenet_dir: Path) -> None:
    _assert_deepchem_parity(deepchem, _load_parseable(moleculenet_dir / "tox21.csv"))


def test_scaffold_split_matches_deepchem_with_invalid_smiles(deepchem) -> None:
    smiles = TOY_SMILES[:7] + ["not_a_smiles", "C1CC"] + TOY_SMILES[7:]
    _assert_deepchem_parity(deepchem, smiles)


def test_scaffold_split_invalid_smiles_left_out(caplog: pytest.LogCaptureFixture) -> None:
    smiles = ["c1ccccc1", "xyz", "CCO", "", float("nan")]
    with caplog.at_level(logging.WARNING, logger="molssl.splits"):
        parts = scaffold_split(smiles)  # type: ignore[arg-type]
    assert "3 of 5 SMILES could not be parsed" in caplog.text
    assert sorted(np.concatenate(parts).tolist()) == [0, 2]


def test_scaffold_split_toy_groups_and_order() -> None:
    train, valid, test = scaffold_split(TOY_SMILES, (0.5, 0.25, 0.25))
    # Benzene and the acyclic "" scaffold both have 5 members: the tie goes to the larger first
    # index (DeepChem sorts (size, first index) descending), so benzene (first index 1) leads.
    benzene = [1, 2, 6, 12, 16]
    acyclic = [0, 3, 8, 11, 15]
    assert murcko_scaffold("c1ccccc1CC(=O)O") == "c1ccccc1"
    assert murcko_scaffold("CCO") == ""
    assert train[: len(benzene)].tolist() == benzene
    assert train[len(benzene) : len(benzene) + len(acyclic)].tolist() == acyclic
    assert len(train) <= 10 and len(train) + len(valid) <= 15
    _assert_partition([train, valid, test], len(TOY_SMILES))
    _assert_scaffolds_not_straddled(TOY_SMILES, [train, valid, test])


def _assert_partition(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert all(p.dtype == np.int64 for p in parts)
    assert len(joined) == n and np.array_equal(np.sort(joined), np.arange(n))


def _assert_scaffolds_not_straddled(smiles: list[str], parts: list[np.ndarray]) -> None:
    owner: dict[str, int] = {}
    for split_id, part in enumerate(parts):
        for index in part:
            scaffold = murcko_scaffold(smiles[index])
            assert owner.setdefault(scaffold, split_id) == split_id, scaffold


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_random_scaffold_split_properties(seed: int) -> None:
    sizes = (0.6, 0.2, 0.2)
    parts = random_scaffold_split(TOY_SMILES, sizes, seed=seed)
    again = random_scaffold_split(TOY_SMILES, sizes, seed=seed)
    for a, b in zip(parts, again, strict=True):
        np.testing.assert_array_equal(a, b)
    _assert_partition(list(parts), len(TOY_SMILES))
    _assert_scaffolds_not_straddled(TOY_SMILES, list(parts))
    assert len(parts[0]) <= 0.6 * len(TOY_SMILES)
    assert len(parts[1]) <= 0.2 * len(TOY_SMILES)


def test_random_scaffold_split_depends_on_seed() -> None:
    smiles = [f"c1ccccc1{'C' * k}" for k in range(1, 4)] + [
        f"C1CC{'C' * k}C1" for k in range(0, 30)
    ]
    splits = {tuple(random_scaffold_split(smiles, seed=s)[2].tolist()) for s in range(5)}
    assert len(splits) > 1


@pytest.mark.parametrize("n", [0, 1, 10, 101])
def test_random_split_properties(n: int) -> None:
    train, valid, test = random_split(n, (0.8, 0.1, 0.1), seed=3)
    assert (len(valid), len(test)) == (int(0.1 * n), int(0.1 * n))
    _assert_partition([train, valid, test], n)
    for a, b in zip((train, valid, test), random_split(n, seed=3), strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_split_accepts_smiles_and_seed_changes_it() -> None:
    a = random_split(TOY_SMILES, seed=0)
    b = random_split(len(TOY_SMILES), seed=0)
    c = random_split(len(TOY_SMILES), seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("sizes", "match"),
    [
        ((0.8, 0.1), "three fractions"),
        ((0.8, 0.3, -0.1), "non-negative"),
        ((0.8, 0.1, float("nan")), "finite"),
        ((0.8, 0.1, 0.2), "sum to 1"),
    ],
)
@pytest.mark.parametrize("name", sorted(SPLITTERS))
def test_invalid_sizes_raise(name: str, sizes: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        get_splitter(name)(TOY_SMILES, sizes, 0)


def test_validate_sizes_and_registry() -> None:
    assert validate_sizes([0.7, 0.2, 0.1]) == (0.7, 0.2, 0.1)
    assert get_splitter("scaffold") is scaffold_split
    with pytest.raises(ValueError, match="unknown splitter 'stratified'"):
        get_splitter("stratified")


def test_split_sha256_is_the_digest_of_the_file_rows_as_compact_json():
    from molssl.splits import split_sha256

    rows = np.array([0, 2, 3, 5, 6])  # rows 1 and 4 of the file were dropped
    split = (np.array([4, 0]), np.array([1]), np.array([2, 3]))
    expected = hashlib.sha256(b"[[6,0],[2],[3,5]]").hexdigest()
    assert split_sha256(rows, split) == expected


def test_split_file_accepts_chemprops_format(tmp_path):
    from molssl.predefined_splits import load_split_file

    path = tmp_path / "splits.json"
    path.write_text(json.dumps([{"train": "0-3,7", "val": [5], "test": [6, 4]}]))
    split = load_split_file(path)
    assert [p.tolist() for p in split.parts] == [[0, 1, 2, 3, 7], [5], [4, 6]]
    assert split.source == {
        "kind": "file",
        "file": "splits.json",
        "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        ({"train": [0], "valid": [1], "val": [2], "test": [3]}, "both 'valid' and 'val'"),
        ({"train": "0-x", "test": [3]}, "'0-x', not a row or range"),
        ({"train": "3-1", "test": [4]}, "the empty range '3-1'"),
        ({"train": [0.5], "test": [1]}, "0.5, not a row index"),
        ({"train": [True], "test": [1]}, "True, not a row index"),
        ({"train": {"a": 1}, "test": [1]}, "must be a list of row indices"),
        ({"tran": [0], "test": [1]}, "unknown set 'tran' (did you mean 'train'?)"),
    ],
)
def test_malformed_split_mappings_name_the_problem(sets, expected):
    from molssl.predefined_splits import InvalidSplitError, split_from_mapping

    with pytest.raises(InvalidSplitError) as info:
        split_from_mapping(sets, "s.json", {})
    assert expected in str(info.value) and str(info.value).startswith("s.json: ")


def test_split_values_are_case_insensitive_and_stripped():
    from molssl.predefined_splits import InvalidSplitError, split_from_values

    split = split_from_values([" TRAIN", "Valid ", "val", "test", "train"], "c", {})
    assert [p.tolist() for p in split.parts] == [[0, 4], [1, 2], [3]]
    with pytest.raises(InvalidSplitError, match="row 1 has 'tset' \\(did you mean 'test'\\?\\)"):
        split_from_values(["train", "tset"], "c", {})


def test_carve_valid_takes_the_validation_share_out_of_train_only():
    from molssl.predefined_splits import carve_valid

    smiles = TOY_SMILES * 3
    train, valid = carve_valid(smiles, "random", (0.8, 0.1, 0.1), seed=0)
    assert len(valid) == len(smiles) // 9  # 0.1 / (0.8 + 0.1) of the training rows
    assert sorted(train.tolist() + valid.tolist()) == list(range(len(smiles)))
    train, valid = carve_valid(smiles, "scaffold", (0.8, 0.1, 0.1), seed=0)
    assert len(valid) > 0 and sorted(train.tolist() + valid.tolist()) == list(range(len(smiles)))
