"""Graph store: failures, reuse, resume after an interrupted build, content = featurization."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _pretrain_helpers import BAD_ROWS, small_smiles

import molssl.store
from molssl.featurize import MolGraphFeaturizer, featurize_many
from molssl.store import GraphStore, StoreError, build_graph_store


def _read_failures(store: Path) -> list[dict[str, str]]:
    with open(store / "failures.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_same_graphs(a: GraphStore, b: GraphStore) -> None:
    assert len(a) == len(b)
    for i in range(len(a)):
        ga, gb = a[i], b[i]
        assert ga.keys() == gb.keys()
        for key in ga.keys():  # noqa: SIM118 (Data is not a Mapping)
            va, vb = ga[key], gb[key]
            assert torch.equal(va, vb) if isinstance(va, torch.Tensor) else va == vb, key


def test_failures_listed_with_row_and_reason(store_dir: Path) -> None:
    failures = _read_failures(store_dir)
    assert [(int(f["row"]), f["smiles"]) for f in failures] == list(BAD_ROWS)
    assert all(f["reason"] for f in failures)
    meta = json.loads((store_dir / "meta.json").read_text())
    assert meta["complete"] and meta["failures"] == len(BAD_ROWS)
    assert meta["rows_done"] == len(small_smiles())


def test_store_equals_direct_featurization(store_dir: Path) -> None:
    store = GraphStore(store_dir)
    smiles = small_smiles()
    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True)
    result = featurize_many(smiles, featurizer)
    assert len(store) == len(result.graphs) == len(smiles) - len(BAD_ROWS)
    assert [f.index for f in result.failures] == [row for row, _ in BAD_ROWS]
    for i, (row, ref) in enumerate(zip(result.indices, result.graphs, strict=True)):
        got = store[i]
        assert got.row == row
        for key in ("x", "edge_index", "edge_attr", "fp", "frag", "num_frags"):
            assert torch.equal(got[key], ref[key].to(got[key].dtype)), (i, key)


def test_rerun_reuses_the_store(smiles_file: Path, store_dir: Path, caplog) -> None:
    before = {p: p.stat().st_mtime_ns for p in store_dir.rglob("*.npy")}
    with caplog.at_level("INFO", logger="molssl.store"):
        store = build_graph_store(smiles_file, store_dir, progress=False)
    assert "reusing the complete graph store" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in store_dir.rglob("*.npy")} == before
    assert len(store) == len(small_smiles()) - len(BAD_ROWS)


def test_other_featurizer_in_same_dir_is_refused(smiles_file: Path, store_dir: Path) -> None:
    with pytest.raises(StoreError, match="another output directory"):
        build_graph_store(smiles_file, store_dir, featurizer=MolGraphFeaturizer(), progress=False)


def test_interrupted_build_resumes(
    smiles_file: Path, store_dir: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    out = tmp_path / "store"
    real_write = molssl.store._write_shard
    calls = []

    def crash_after_first_shard(directory: Path, packed: dict) -> None:
        if calls:
            raise KeyboardInterrupt("simulated kill")
        calls.append(directory)
        real_write(directory, packed)

    monkeypatch.setattr(molssl.store, "_write_shard", crash_after_first_shard)
    with pytest.raises(KeyboardInterrupt):
        build_graph_store(smiles_file, out, shard_size=100, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert not meta["complete"] and meta["rows_done"] == 100 and len(meta["shards"]) == 1
    with pytest.raises(StoreError, match="incomplete"):
        GraphStore(out)

    monkeypatch.setattr(molssl.store, "_write_shard", real_write)
    with caplog.at_level("INFO", logger="molssl.store"):
        resumed = build_graph_store(smiles_file, out, shard_size=100, progress=False)
    assert "resuming the graph store" in caplog.text
    assert [s["name"] for s in resumed.meta["shards"]] == [
        "shard-00000",
        "shard-00001",
        "shard-00002",
    ]
    _assert_same_graphs(resumed, GraphStore(store_dir))
    rows = [int(f["row"]) for f in _read_failures(out)]
    assert rows == [row for row, _ in BAD_ROWS]


def test_store_pickles_without_maps(store_dir: Path) -> None:
    import pickle

    store = GraphStore(store_dir)
    first = store[0]
    clone = pickle.loads(pickle.dumps(store))
    assert all(s.arrays is None for s in clone._shards)
    assert torch.equal(clone[0].x, first.x)
    assert np.array_equal(clone[len(clone) - 1].x.numpy(), store[-1].x.numpy())


def test_kill_between_shard_and_meta_resumes(
    smiles_file: Path, store_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """A kill after a shard (and its failures) was written but before meta.json recorded it."""
    out = tmp_path / "store"
    real_meta = molssl.store._write_meta
    calls = []

    def crash_on_third_meta(path: Path, meta: dict) -> None:
        calls.append(path)
        if len(calls) == 3:  # 1: new store, 2: after shard 0, 3: after shard 1
            raise KeyboardInterrupt("simulated kill")
        real_meta(path, meta)

    monkeypatch.setattr(molssl.store, "_write_meta", crash_on_third_meta)
    with pytest.raises(KeyboardInterrupt):
        build_graph_store(smiles_file, out, shard_size=100, progress=False)
    assert (out / "shard-00001").is_dir()
    monkeypatch.setattr(molssl.store, "_write_meta", real_meta)
    resumed = build_graph_store(smiles_file, out, shard_size=100, progress=False)
    _assert_same_graphs(resumed, GraphStore(store_dir))
    assert [int(f["row"]) for f in _read_failures(out)] == [row for row, _ in BAD_ROWS]
    assert resumed.meta["failures"] == len(BAD_ROWS)


def test_a_touched_or_copied_source_keeps_its_store_a_changed_one_does_not(
    tmp_path: Path, caplog
) -> None:
    import os

    source = tmp_path / "corpus.smi"
    source.write_text("\n".join(small_smiles()[:40]) + "\n")
    out = tmp_path / "store"
    featurizer = MolGraphFeaturizer()
    built = len(build_graph_store(source, out, featurizer=featurizer, progress=False))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")}
    # the same bytes with a new modification time (re-provisioned data, cp without -p, touch)
    os.utime(source, ns=(1_000_000_000, 1_000_000_000))
    with caplog.at_level("INFO", logger="molssl.store"):
        store = build_graph_store(source, out, featurizer=featurizer, progress=False)
    assert "same bytes" in caplog.text and len(store) == built
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")} == before  # nothing rebuilt
    caplog.clear()
    with caplog.at_level("INFO", logger="molssl.store"):  # recorded: the next open is quiet
        build_graph_store(source, out, featurizer=featurizer, progress=False)
    assert "same bytes" not in caplog.text
    # other bytes of the same size are another source
    text = source.read_text()
    source.write_text(text.replace("C", "N", 1) if "C" in text else text[::-1])
    with pytest.raises(StoreError, match="built differently"):
        build_graph_store(source, out, featurizer=featurizer, progress=False)


def test_a_store_without_a_content_hash_names_the_mtime(tmp_path: Path) -> None:
    import os

    source = tmp_path / "corpus.smi"
    source.write_text("\n".join(small_smiles()[:20]) + "\n")
    out = tmp_path / "store"
    build_graph_store(source, out, featurizer=MolGraphFeaturizer(), progress=False)
    meta = json.loads((out / "meta.json").read_text())
    del meta["source_sha256"]  # as written by molssl before it recorded one
    (out / "meta.json").write_text(json.dumps(meta))
    os.utime(source, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(StoreError, match="only the modification time"):
        build_graph_store(source, out, featurizer=MolGraphFeaturizer(), progress=False)


class _RaisingFeaturizer(MolGraphFeaturizer):
    """Raises an RDKit-style ``RuntimeError`` on one molecule while computing its features."""

    def __call__(self, smiles: object):  # type: ignore[override]
        if smiles == small_smiles()[10]:
            raise RuntimeError("Pre-condition Violation: ring info not initialized")
        return super().__call__(smiles)


def test_a_row_error_while_featurizing_is_reported_not_fatal(tmp_path: Path, caplog) -> None:
    """The store follows the engine's policy, as embed and predict do: such a row is a failure."""
    source = tmp_path / "corpus.smi"
    source.write_text("\n".join(small_smiles()[:60]) + "\n")
    with caplog.at_level("WARNING", logger="molssl.store"):
        store = build_graph_store(
            source, tmp_path / "S", featurizer=_RaisingFeaturizer(), shard_size=20, progress=False
        )
    failures = {int(f["row"]): f for f in _read_failures(tmp_path / "S")}
    assert sorted(failures) == [3, 10, 57]
    assert (
        failures[10]["reason"] == "RuntimeError: Pre-condition Violation: ring info not initialized"
    )
    assert failures[10]["smiles"] == small_smiles()[10]
    assert len(store) == 57 and 10 not in [store[i].row for i in range(len(store))]
    assert len(store.meta["shards"]) == 3
    warnings = [
        r.getMessage() for r in caplog.records if "could not be featurized" in r.getMessage()
    ]
    assert len(warnings) == 1  # once per build, with a sample, not once per shard
    assert warnings[0].startswith("3 of 60 SMILES could not be featurized (first: row 3")
    assert "failures.csv" in warnings[0]
