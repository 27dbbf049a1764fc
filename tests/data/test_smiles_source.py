"""Tests for streaming SMILES sources and their sharding."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from molssl.data import (
    DataFormatError,
    SmilesIterableDataset,
    SmilesSource,
    embedded_smiles_path,
    embedded_tpsa_path,
    read_tpsa_table,
)
from molssl.featurize import parse_smiles

SMILES = ["C", "CC", "CCO", "c1ccccc1", "C#N", "O=C=O", "CCN", "[Na+].[Cl-]", "CC(=O)O", "N#N"]


@pytest.fixture
def smi_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.smi"
    lines = ["SMILES id"] + [f"{s}\tmol{i}" for i, s in enumerate(SMILES)]
    lines.insert(4, "")
    path.write_text("\n".join(lines) + "\n\n")
    return path


ROWS = [*SMILES[:3], "", *SMILES[3:], ""]  # a blank line in the middle and one at the end


def test_smi_header_blank_lines_and_indices(smi_file: Path) -> None:
    assert list(SmilesSource(smi_file)) == list(enumerate(ROWS))
    ids = [row_id for _, _, row_id in SmilesSource(smi_file).records()]
    assert ids[:3] == ["mol0", "mol1", "mol2"] and ids[3] is None


def test_smi_gz_without_header(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("# a comment\n" + "\n".join(SMILES[:3]) + "\n")
    assert [s for _, s in SmilesSource(path)] == SMILES[:3]


def test_csv_column_detection_quotes_blank_and_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        handle.write('id,SMILES,note\r\n\r\n1,C,"a, b"\r\n\r\n2,,x\r\n3, CC ,y\r\n')
    assert list(SmilesSource(path)) == [(0, ""), (1, "C"), (2, ""), (3, ""), (4, "CC")]
    assert [s for _, s in SmilesSource(path, smiles_column="id")] == ["", "1", "", "2", "3"]
    with pytest.raises(DataFormatError, match="'structure' not found"):
        list(SmilesSource(path, smiles_column="structure"))


def test_unknown_suffix_and_bad_shard(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        SmilesSource(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="shard"):
        SmilesSource(tmp_path / "x.smi", num_shards=2, shard_id=2)


@pytest.mark.parametrize("num_shards", [1, 3, 4])
def test_shards_partition_rows(smi_file: Path, num_shards: int) -> None:
    source = SmilesSource(smi_file)
    seen = [item for k in range(num_shards) for item in source.shard(num_shards, k)]
    assert sorted(seen) == list(enumerate(ROWS))
    last = num_shards - 1
    assert all(i % num_shards == last for i, _ in source.shard(num_shards, last))


def test_rank_and_worker_shards_partition(smi_file: Path) -> None:
    source = SmilesSource(smi_file)
    seen = [
        item
        for rank in range(2)
        for worker in range(3)
        for item in source.shard_for(rank, 2, worker, 3)
    ]
    assert sorted(seen) == list(enumerate(ROWS))


def test_dataloader_two_workers_see_each_row_once(smi_file: Path) -> None:
    loader = DataLoader(SmilesIterableDataset(SmilesSource(smi_file)), batch_size=3, num_workers=2)
    seen = [(int(i), s) for indices, smiles in loader for i, s in zip(indices, smiles, strict=True)]
    assert sorted(seen) == list(enumerate(ROWS))


def test_ranks_times_workers(smi_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    dataset = SmilesIterableDataset(SmilesSource(smi_file))
    seen = []
    for rank in range(2):
        monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None, r=rank: r)
        seen += list(dataset)  # no worker: 1 worker per rank
    assert sorted(seen) == list(enumerate(ROWS))
    with pytest.raises(ValueError, match="unsharded"):
        SmilesIterableDataset(SmilesSource(smi_file).shard(2, 0))


def test_embedded_rdkit_files() -> None:
    smi = list(SmilesSource(embedded_smiles_path()))
    assert len(smi) == 4999 and smi[0] == (0, "CC1=CC(=O)C=CC1=O")
    tpsa = list(SmilesSource(embedded_tpsa_path(), smiles_column=0))
    assert len(tpsa) == 4999 and tpsa[0] == (0, "CC1=CC(=O)C=CC1=O")
    assert [s for _, s in smi[:50]] == [s for _, s in tpsa[:50]]


def test_tpsa_table_keeps_every_row_of_rdkit_file_and_nitriles() -> None:
    lines = embedded_tpsa_path().read_text().splitlines()
    data = [line for line in lines if line and not line.startswith("#")]
    table = read_tpsa_table()
    assert len(table) == len(data) == 4999
    assert table["smiles"].tolist() == [line.split(",")[0] for line in data]
    assert table["tpsa"].tolist() == [float(line.split(",")[1]) for line in data]
    nitriles = table[table["smiles"].str.contains("#")]
    assert len(nitriles) > 100  # a '#' comment character would have cut these rows short
    row = table[table["smiles"] == "C[CH](C#N)N(C)C"]
    assert row["tpsa"].tolist() == [27.03]
    parse_smiles("C[CH](C#N)N(C)C")  # the whole nitrile, not "C[CH](C"


def test_tpsa_reader_names_a_bad_line(tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("# header\nCC#N,23.79\nCCO\n")
    with pytest.raises(DataFormatError, match="line 3"):
        read_tpsa_table(path)
    path.write_text("# header\nCC#N,23.79\n")
    assert read_tpsa_table(path)["smiles"].tolist() == ["CC#N"]


def test_column_index_on_a_file_with_a_header(tmp_path: Path) -> None:
    """`--smiles-col 1` on a headered CSV: the header is not row 0 (a failed molecule)."""
    headered = tmp_path / "h.csv"
    headered.write_text("name,structure\nethanol,CCO\nphenol,c1ccccc1O\n")
    assert list(SmilesSource(headered, smiles_column=1)) == [(0, "CCO"), (1, "c1ccccc1O")]
    plain = tmp_path / "p.csv"  # no header: the first line is a molecule, kept as row 0
    plain.write_text("ethanol,CCO\nchloride,Cl\n")
    assert list(SmilesSource(plain, smiles_column=1)) == [(0, "CCO"), (1, "Cl")]
    chlorine = tmp_path / "c.csv"  # "Cl" is a molecule even where a header could be
    chlorine.write_text("x,Cl\ny,CCO\n")
    assert [s for _, s in SmilesSource(chlorine, smiles_column=1)] == ["Cl", "CCO"]
    assert list(SmilesSource(headered, smiles_column=1, header=False))[0] == (0, "structure")
