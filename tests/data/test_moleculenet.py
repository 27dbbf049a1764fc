"""Tests for loading MoleculeNet files and user task CSVs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from molssl.data import DATASETS, DataFormatError, load_csv_task, load_dataset

# Row counts of the files in the shared data directory (see its SOURCES.md).
EXPECTED = {
    "bbbp": (2050, 1),
    "tox21": (7831, 12),
    "toxcast": (8576, 617),
    "sider": (1427, 27),
    "clintox": (1484, 2),
    "muv": (93127, 17),
    "hiv": (41127, 1),
    "bace": (1513, 1),
    "freesolv": (642, 1),
    "esol": (1128, 1),
    "lipophilicity": (4200, 1),
    "qm7": (6834, 1),
    "qm8": (21786, 12),
    "qm9": (130831, 8),
}
BIG = {"qm9"}  # the only file whose load approaches a second here


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.slow) if k in BIG else k for k in EXPECTED]
)
def test_every_registered_dataset_loads(key: str, moleculenet_dir: Path) -> None:
    data = load_dataset(key, moleculenet_dir, download=False)
    n_rows, n_targets = EXPECTED[key]
    assert len(data) == n_rows == data.targets.shape[0]
    assert data.targets.shape == (n_rows, n_targets) and data.targets.dtype == np.float32
    assert data.target_names == data.spec.targets and len(data.target_names) == n_targets
    if DATASETS[key].targets:
        assert data.target_names == DATASETS[key].targets
    assert all(s and s == s.strip() for s in data.smiles)
    assert not np.isnan(data.targets).all(axis=0).any()


def test_first_molecule_kept_and_labels(moleculenet_dir: Path) -> None:
    data = load_dataset("BBBP", moleculenet_dir, download=False)
    assert data.smiles[0] == "[Cl].CC(C)NCC(O)COc1cccc2ccccc12"
    assert data.targets[0, 0] == 1.0
    assert set(np.unique(data.targets)) == {0.0, 1.0}


def test_esol_whitespace_stripped_and_tox21_missing_labels(moleculenet_dir: Path) -> None:
    esol = load_dataset("delaney", moleculenet_dir, download=False)
    assert esol.smiles[0] == "OCC3OC(OCC2OC(OC(C#N)c1ccccc1)C(O)C(O)C2O)C(O)C(O)C3O"
    assert esol.targets[0, 0] == pytest.approx(-0.77)
    tox21 = load_dataset("tox21", moleculenet_dir, download=False)
    assert np.isnan(tox21.targets[0, 3]) and tox21.targets[0, 2] == 1.0


@pytest.mark.slow
def test_qm9_hartree_targets_converted_to_ev(moleculenet_dir: Path) -> None:
    scaled = load_dataset("qm9", moleculenet_dir, download=False)
    raw = load_dataset("qm9", moleculenet_dir, download=False, apply_target_scale=False)
    gap = scaled.target_names.index("gap")
    mu = scaled.target_names.index("mu")
    assert raw.targets[0, gap] == pytest.approx(0.5048)
    assert scaled.targets[0, gap] == pytest.approx(0.5048 * 27.211386246, rel=1e-6)
    np.testing.assert_array_equal(scaled.targets[:, mu], raw.targets[:, mu])


def test_blank_lines_crlf_and_first_row(tmp_path: Path) -> None:
    path = tmp_path / "hiv_like.csv"
    path.write_bytes(b"smiles,activity,HIV_active\r\n\nCCO,CI,0\r\n\n c1ccccc1 ,CM,1\r\n\n")
    data = load_csv_task(path, "smiles", "HIV_active", "classification")
    assert data.smiles == ["CCO", "c1ccccc1"]
    np.testing.assert_array_equal(data.targets, [[0.0], [1.0]])
    assert data.spec.metric == "roc_auc" and data.spec.targets == ("HIV_active",)


def test_gz_reading_and_all_other_columns_as_targets(tmp_path: Path) -> None:
    path = tmp_path / "task.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('smiles,a,"b, c"\nC,1,\nCC,,2.5\n')
    data = load_csv_task(path)
    assert data.target_names == ("a", "b, c") and data.smiles == ["C", "CC"]
    np.testing.assert_array_equal(np.isnan(data.targets), [[False, True], [True, False]])
    assert data.targets[1, 1] == 2.5 and data.spec.metric == "rmse"


def test_non_numeric_label_names_file_column_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("smiles,y\nC,1\nCC,FAIL\nCCC,2\n")
    with pytest.raises(DataFormatError) as info:
        load_csv_task(path, targets=["y"])
    message = str(info.value)
    assert str(path) in message and "'y'" in message and "row 2" in message and "FAIL" in message


def test_missing_column_lists_available(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("SMILES,logS\nC,1\n")
    with pytest.raises(DataFormatError, match=r"'smiles'.*Available columns: \['SMILES', 'logS'\]"):
        load_csv_task(path, "smiles", "logS")
    with pytest.raises(DataFormatError, match="logP"):
        load_csv_task(path, "SMILES", ["logP"])


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match="empty"):
        load_csv_task(empty, targets="y")
    header_only = tmp_path / "header.csv"
    header_only.write_text("smiles,y\n")
    with pytest.raises(DataFormatError, match="no data rows"):
        load_csv_task(header_only, targets="y")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_csv_task(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="task_type"):
        load_csv_task(header_only, targets="y", task_type="ranking")  # type: ignore[arg-type]
