"""PubChem's ``CID-SMILES.gz`` as it is downloaded, and MolCLR's one-SMILES-per-line file.

Today's attack: ``molssl featurize CID-SMILES.gz`` ended in a traceback ("Cannot tell the format
... from its suffix"); there was no ``--format`` flag and no way to pass a column index.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest
from _store_helpers import head_smiles, tiny_checkpoint

from molssl.cli import main
from molssl.data import SmilesSource
from molssl.store import GraphStore

CIDS = [1, 2, 3, 4, 5, 11, 12, 13]


def _pubchem_lines() -> list[str]:
    smiles = head_smiles(len(CIDS))
    smiles[3] = "C1CC"  # unclosed ring: a failure that must carry its CID
    return [f"{cid}\t{smi}\n" for cid, smi in zip(CIDS, smiles, strict=True)]


@pytest.fixture
def cid_smiles(tmp_path: Path) -> Path:
    path = tmp_path / "CID-SMILES.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(_pubchem_lines())
    return path


def test_recognised_by_name(cid_smiles: Path) -> None:
    rows = list(SmilesSource(cid_smiles).records())
    assert [r[2] for r in rows] == [str(c) for c in CIDS]
    assert [r[1] for r in rows][:2] == head_smiles(2) and [r[0] for r in rows] == list(range(8))


def test_recognised_by_content(tmp_path: Path) -> None:
    for name in ("pubchem_head", "pubchem_head.txt"):
        path = tmp_path / name
        path.write_text("".join(_pubchem_lines()))
        assert [r[2] for r in SmilesSource(path).records()] == [str(c) for c in CIDS], name


def test_featurize_keeps_the_cid_in_failures(
    cid_smiles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "S"
    assert main(["featurize", str(cid_smiles), "-o", str(store)]) == 0
    assert "7 graphs from 8 rows, 1 failures" in capsys.readouterr().out
    with open(store / "failures.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert [(f["row"], f["id"], f["smiles"]) for f in failures] == [("3", "4", "C1CC")]
    assert [GraphStore(store)[i].row for i in range(7)] == [0, 1, 2, 4, 5, 6, 7]


def test_format_flag_and_column_index(tmp_path: Path) -> None:
    path = tmp_path / "download.dat"  # a name that says nothing
    path.write_text("".join(f"{smi}|{cid}\n" for cid, smi in enumerate(head_smiles(5))))
    store = tmp_path / "S"
    with pytest.raises(ValueError, match="--format"):
        SmilesSource(path)
    argv = ["featurize", str(path), "-o", str(store), "--format", "csv", "--smiles-col", "0"]
    assert main(argv) == 2  # comma-separated: the whole line is one (invalid) cell
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{cid}\t{smi}\n" for cid, smi in enumerate(head_smiles(5))))
    assert main(["featurize", str(tsv), "-o", str(tmp_path / "T"), "--smiles-col", "1"]) == 0
    assert len(GraphStore(tmp_path / "T")) == 5


def test_embed_keeps_the_cid_as_row_id(cid_smiles: Path, tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path)
    out = tmp_path / "emb.csv"
    argv = ["embed", "--checkpoint", str(checkpoint), "--input", str(cid_smiles), "-o", str(out)]
    assert main(argv) == 0
    frame = pd.read_csv(out)
    assert frame["row"].tolist() == list(range(8)) and frame["id"].tolist() == CIDS
    assert frame.loc[3, [f"h_{i}" for i in range(16)]].isna().all()
    failures = pd.read_csv(out.with_name("emb.csv.failures.csv"))
    assert failures[["row", "id"]].values.tolist() == [[3, 4]]


def test_molclr_one_smiles_per_line_file_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "pubchem-10m-clean.txt"  # MolCLR's corpus: one SMILES per line
    path.write_text("\n".join(head_smiles(6)) + "\n")
    assert list(SmilesSource(path)) == list(enumerate(head_smiles(6)))
    assert main(["featurize", str(path), "-o", str(tmp_path / "S")]) == 0
    assert len(GraphStore(tmp_path / "S")) == 6
