"""A damaged graph store is one clear error naming the shard and the fix, and can be repaired.

Today's attacks: 20 kB of zeros inside a shard's ``x.npy`` trained on garbage with exit 0; a
truncated or deleted shard ended in ``ValueError: mmap length is greater than file size`` or
``KeyError: 'node_ptr'`` in the middle of training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _store_helpers import head_smiles

from molssl.cli import main
from molssl.store import DamagedStoreError, GraphStore, StoreError, build_graph_store


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


def _graphs(store: Path) -> list[list]:
    opened = GraphStore(store)
    return [opened[i].x.tolist() + opened[i].edge_index.tolist() for i in range(len(opened))]


def _zero_inside(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\0" * min(20_000, size - size // 2 - 1))


def test_zeros_inside_x_npy_are_found_by_verify_and_repaired(
    corpus: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _graphs(store)
    _zero_inside(store / "shard-00001" / "x.npy")
    assert main(["featurize", "--verify", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "shard-00001" in err and "x.npy" in err and "checksum" in err
    assert f"molssl featurize {corpus}" in err  # the command that rebuilds it
    assert main(["featurize", str(corpus), "-o", str(store), "--verify"]) == 0
    assert main(["featurize", "--verify", str(store)]) == 0
    assert _graphs(store) == before


@pytest.mark.parametrize("damage", ["truncate", "delete_file", "delete_shard"])
def test_truncated_or_deleted_shard_is_found_on_open(store: Path, damage: str) -> None:
    shard = store / "shard-00002"
    if damage == "truncate":
        with open(shard / "x.npy", "r+b") as fh:
            fh.truncate(shard.joinpath("x.npy").stat().st_size // 2)
    elif damage == "delete_file":
        (shard / "node_ptr.npy").unlink()
    else:
        shutil.rmtree(shard)
    with pytest.raises(DamagedStoreError, match="shard-00002") as info:
        GraphStore(store)
    assert info.value.shards == ["shard-00002"] and "molssl featurize" in str(info.value)


def test_featurize_rebuilds_a_truncated_shard(corpus: Path, store: Path) -> None:
    before = _graphs(store)
    with open(store / "shard-00000" / "edge_attr.npy", "r+b") as fh:
        fh.truncate(100)
    rebuilt = build_graph_store(corpus, store, shard_size=50, progress=False)
    assert len(rebuilt) == len(before) and _graphs(store) == before


def test_pretrain_on_a_damaged_store_is_one_line(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (store / "shard-00001" / "row.npy").unlink()
    argv = ["pretrain", "--data", str(store), "--out", str(tmp_path / "run"), "--max-steps", "1"]
    assert main([*argv, "--batch-size", "8", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shard-00001" in err and "row.npy" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_store_without_file_records_is_checked_structurally(store: Path) -> None:
    """Stores written before checksums existed: array lengths against the molecule count."""
    meta = json.loads((store / "meta.json").read_text())
    for shard in meta["shards"]:
        del shard["files"]
    (store / "meta.json").write_text(json.dumps(meta))
    assert len(GraphStore(store)) == 150
    x = np.load(store / "shard-00001" / "x.npy")
    np.save(store / "shard-00001" / "x.npy", x[:-3])  # a valid .npy, three atoms short
    with pytest.raises(StoreError, match="shard-00001.*x.npy"):
        GraphStore(store)
