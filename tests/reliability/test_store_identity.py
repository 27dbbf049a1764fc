"""A graph store is reused only for the same input, reader and featurizer settings.

Today's attack: building the ``smiles`` column of a file into a store, then its ``alt`` column
into the same store, reported success and returned the graphs of ``smiles``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_helpers import head_smiles

from molssl.cli import main
from molssl.featurize import MolGraphFeaturizer
from molssl.pretrain import DataConfig, open_store
from molssl.store import GraphStore, StoreError, build_graph_store


@pytest.fixture
def twocol(tmp_path: Path) -> Path:
    smiles = head_smiles(40)
    path = tmp_path / "twocol.csv"
    rows = [f"{a},{b}" for a, b in zip(smiles[:20], smiles[20:], strict=True)]
    path.write_text("smiles,alt\n" + "\n".join(rows) + "\n")
    return path


def test_featurize_other_column_into_same_store_is_refused(
    twocol: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "S"
    assert main(["featurize", str(twocol), "-o", str(store)]) == 0
    first = [GraphStore(store)[i].x.tolist() for i in range(3)]
    capsys.readouterr()
    assert main(["featurize", str(twocol), "--smiles-col", "alt", "-o", str(store)]) == 2
    err = capsys.readouterr().err
    assert "smiles_column" in err and "'alt'" in err and "another output directory" in err
    assert len(err.strip().splitlines()) == 1
    assert [GraphStore(store)[i].x.tolist() for i in range(3)] == first  # nothing overwritten
    other = tmp_path / "S_alt"
    assert main(["featurize", str(twocol), "--smiles-col", "alt", "-o", str(other)]) == 0
    assert GraphStore(other)[0].x.tolist() != first[0]


def test_pretrain_smiles_column_into_existing_store_is_refused(
    twocol: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    open_store(DataConfig(path=str(twocol)), out, progress=False)
    with pytest.raises(StoreError, match="smiles_column"):
        open_store(DataConfig(path=str(twocol), smiles_column="alt"), out, progress=False)


@pytest.mark.parametrize(
    ("featurizer", "changed"),
    [
        (MolGraphFeaturizer(), "fingerprint"),  # --no-extras against a store with extras
        (MolGraphFeaturizer(fingerprint=True, fragments=True, hydrogens="explicit"), "hydrogens"),
    ],
)
def test_other_featurizer_options_are_refused(
    twocol: Path, tmp_path: Path, featurizer: MolGraphFeaturizer, changed: str
) -> None:
    build_graph_store(twocol, tmp_path / "S", progress=False)
    with pytest.raises(StoreError, match=changed):
        build_graph_store(twocol, tmp_path / "S", featurizer=featurizer, progress=False)


def test_format_is_part_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"  # read as .smi: first token; read as tsv: needs a column
    path.write_text("".join(f"{s}\t{i}\n" for i, s in enumerate(head_smiles(10))))
    build_graph_store(path, tmp_path / "S", progress=False)
    with pytest.raises(StoreError, match="format"):
        build_graph_store(path, tmp_path / "S", fmt="tsv", smiles_column=0, progress=False)


def test_pretrain_featurizer_setting_is_not_ignored_for_a_given_store(
    twocol: Path, tmp_path: Path
) -> None:
    store = tmp_path / "S"
    build_graph_store(twocol, store, progress=False)  # molclr, implicit hydrogens
    with pytest.raises(StoreError, match="data.featurizer='rich'"):
        open_store(DataConfig(path=str(store), featurizer="rich"), tmp_path / "run")
    with pytest.raises(StoreError, match="data.hydrogens='explicit'"):
        open_store(DataConfig(path=str(store), hydrogens="explicit"), tmp_path / "run")
    same = open_store(DataConfig(path=str(store), featurizer="molclr"), tmp_path / "run")
    assert len(same) == 20 and len(open_store(DataConfig(path=str(store)), tmp_path)) == 20
