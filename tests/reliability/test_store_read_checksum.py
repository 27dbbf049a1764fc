"""Opening a graph store rehashes its shards: zeroed bytes of the right length never train."""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_helpers import head_smiles

import molssl.store_check as store_check
from molssl.cli import main
from molssl.store import DamagedStoreError, GraphStore, build_graph_store


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.smi"
    path.write_text("\n".join(head_smiles(150)) + "\n")
    return path


@pytest.fixture
def store(corpus: Path, tmp_path: Path) -> Path:
    out = tmp_path / "S"
    build_graph_store(corpus, out, shard_size=50, progress=False)  # three shards
    return out


def _zero_inside(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\0" * (size - size // 2 - 1))


def test_zeroed_bytes_are_found_on_open(store: Path) -> None:
    _zero_inside(store / "shard-00001" / "edge_index.npy")
    with pytest.raises(DamagedStoreError, match="checksum") as info:
        GraphStore(store)
    assert info.value.shards == ["shard-00001"]
    assert "--verify" in str(info.value)  # the rebuild command that rehashes


def test_pretrain_on_zeroed_shard_bytes_is_one_line(store, tmp_path, capsys) -> None:
    _zero_inside(store / "shard-00002" / "x.npy")
    argv = ["pretrain", "--data", str(store), "--out", str(tmp_path / "run"), "--max-steps", "1"]
    assert main([*argv, "--batch-size", "8", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shard-00002" in err and "checksum" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_the_repair_command_it_names_repairs(corpus: Path, store: Path) -> None:
    _zero_inside(store / "shard-00000" / "x.npy")
    with pytest.raises(DamagedStoreError):
        GraphStore(store)
    assert main(["featurize", str(corpus), "-o", str(store), "--verify"]) == 0
    assert len(GraphStore(store)) == 150


def test_an_unchanged_store_is_hashed_once_per_process(store: Path, monkeypatch) -> None:
    GraphStore(store)
    calls = []
    real = store_check.file_sha256
    monkeypatch.setattr(store_check, "file_sha256", lambda p: calls.append(p) or real(p))
    GraphStore(store)
    assert calls == []
    (store / "shard-00001" / "row.npy").touch()  # a changed file is hashed again
    GraphStore(store)
    assert [Path(p).name for p in calls] == ["row.npy"]
