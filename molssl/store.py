"""On-disk graph store: a SMILES corpus featurized once into memory-mapped shards.

Layout of a store directory::

    STORE/
      meta.json              format version, featurizer config, source fingerprint, shard list
      failures.csv           row, smiles, reason of every SMILES that could not be featurized
      shard-00000/           one folder per shard, written to a temporary name and renamed
        x.npy                int16  [atoms, F_atom]
        edge_index.npy       int32  [2, edges]        node indices local to each molecule
        edge_attr.npy        int8   [edges, F_bond]
        node_ptr.npy         int64  [n + 1]
        edge_ptr.npy         int64  [n + 1]
        row.npy              int64  [n]               source row of each molecule
        fp.npy               uint8  [n, n_bits / 8]   packed ECFP bits       (when fingerprints)
        fp_count.npy         int64  [keys]            iMolCLR count-fingerprint keys (fingerprint_kind
        fp_count_ptr.npy     int64  [n + 1]           "imolclr"), see molssl.fingerprints
        frag.npy             int16  [atoms]           BRICS fragment per atom (when fragments)
        num_frags.npy        int32  [n]

Building streams the source in chunks, so peak memory depends on the shard size, not on the corpus.
A build that is interrupted resumes after its last complete shard; a store whose key (featurizer
config + source path, size and modification time) matches is reused as it is.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import mmap
import multiprocessing as mp
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

logger = logging.getLogger(__name__)

STORE_FORMAT_VERSION = 1
_CHUNK = 512


class StoreError(RuntimeError):
    """A graph store is missing, incomplete or was built with another featurizer."""


def _source_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def store_key(featurizer_config: dict, source: dict) -> str:
    """Hash of what determines a store's content: the featurizer config and the source file."""
    blob = json.dumps({"featurizer": featurizer_config, "source": source}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- featurization workers
_WORKER_FEATURIZER = None


def _init_worker(featurizer_config: dict) -> None:
    global _WORKER_FEATURIZER
    from molssl.featurize import featurizer_from_dict

    torch.set_num_threads(1)
    _WORKER_FEATURIZER = featurizer_from_dict(featurizer_config)


def _featurize_chunk(rows: list[tuple[int, str]]) -> tuple[dict, list[tuple[int, str, str]]]:
    """Featurize ``(row, smiles)`` pairs into packed arrays; failures are returned, never raised."""
    from molssl.featurize import InvalidSmilesError, quiet_rdkit_log

    graphs, kept, failures = [], [], []
    with quiet_rdkit_log():  # the reasons go to failures.csv, not raw onto stderr
        for row, smiles in rows:
            try:
                graphs.append(_WORKER_FEATURIZER(smiles))
                kept.append(row)
            except InvalidSmilesError as err:
                failures.append((row, smiles, err.reason if hasattr(err, "reason") else str(err)))
    return _pack(graphs, kept), failures


def _pack(graphs: list[Data], rows: list[int]) -> dict:
    n_nodes = np.array([g.num_nodes for g in graphs], dtype=np.int64)
    n_edges = np.array([g.edge_index.shape[1] for g in graphs], dtype=np.int64)
    packed = {
        "x": np.concatenate([g.x.numpy() for g in graphs]).astype(np.int16)
        if graphs
        else np.zeros((0, 0), np.int16),
        "edge_index": np.concatenate([g.edge_index.numpy() for g in graphs], axis=1).astype(
            np.int32
        )
        if graphs
        else np.zeros((2, 0), np.int32),
        "edge_attr": np.concatenate([g.edge_attr.numpy() for g in graphs]).astype(np.int8)
        if graphs
        else np.zeros((0, 0), np.int8),
        "n_nodes": n_nodes,
        "n_edges": n_edges,
        "row": np.asarray(rows, dtype=np.int64),
    }
    if graphs and "fp" in graphs[0]:
        packed["fp"] = np.packbits(np.concatenate([g.fp.numpy() for g in graphs]), axis=1)
    if graphs and "fp_count" in graphs[0]:
        packed["fp_count"] = np.concatenate([g.fp_count.numpy() for g in graphs])
        packed["n_fp_count"] = np.concatenate([g.fp_count_num.numpy() for g in graphs])
    if graphs and "frag" in graphs[0]:
        packed["frag"] = np.concatenate([g.frag.numpy() for g in graphs]).astype(np.int16)
        packed["num_frags"] = np.concatenate([g.num_frags.numpy() for g in graphs]).astype(np.int32)
    return packed


def _concat_packed(parts: list[dict]) -> dict:
    parts = [p for p in parts if len(p["row"])]
    out = {}
    for key in parts[0]:
        axis = 1 if key == "edge_index" else 0
        out[key] = np.concatenate([p[key] for p in parts], axis=axis)
    return out


_PTR_NAMES = {
    "n_nodes": "node_ptr.npy",
    "n_edges": "edge_ptr.npy",
    "n_fp_count": "fp_count_ptr.npy",
}


def _write_shard(directory: Path, packed: dict) -> None:
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for key, value in packed.items():
        if key in _PTR_NAMES:
            ptr = np.zeros(len(value) + 1, dtype=np.int64)
            np.cumsum(value, out=ptr[1:])
            np.save(tmp / _PTR_NAMES[key], ptr)
        else:
            np.save(tmp / f"{key}.npy", value)
    shutil.rmtree(directory, ignore_errors=True)  # left by a build killed before meta.json named it
    os.replace(tmp, directory)


def _write_meta(path: Path, meta: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- building
def build_graph_store(
    source: str | Path,
    out_dir: str | Path,
    *,
    featurizer=None,
    smiles_column: str | None = None,
    workers: int = 1,
    shard_size: int = 100_000,
    progress: bool = True,
) -> GraphStore:
    """Featurize a SMILES corpus once into a graph store (or reuse/resume an existing one).

    Args:
        source: ``.smi``/``.txt``/``.csv`` file, optionally gzipped, of any size.
        out_dir: store directory (created).
        featurizer: a featurizer with ``to_dict()``; default ``MolGraphFeaturizer(fingerprint=True,
            fragments=True)`` so that one store serves both the MolCLR and iMolCLR objectives.
        smiles_column: column name for CSV sources (auto-detected by default).
        workers: featurization processes.
        shard_size: molecules per shard; bounds peak memory.
        progress: show a progress bar.

    Returns:
        The opened :class:`GraphStore`.

    Raises:
        StoreError: ``out_dir`` holds a store built from another source or featurizer.
    """
    from tqdm.auto import tqdm

    from molssl.data import SmilesSource
    from molssl.featurize import MolGraphFeaturizer

    if featurizer is None:
        featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True)
    source = Path(source)
    out = Path(out_dir)
    fconfig = featurizer.to_dict()
    src = _source_fingerprint(source)
    key = store_key(fconfig, src)
    meta_path = out / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            old_featurizer, old_source = meta.get("featurizer"), meta.get("source", {})
            what = []
            if old_source != src:
                what.append(f"source {old_source} (now {src})")
            if old_featurizer != fconfig:
                changed = sorted(
                    k
                    for k in set(fconfig) | set(old_featurizer or {})
                    if (old_featurizer or {}).get(k) != fconfig.get(k)
                )
                what.append(f"featurizer options {changed} differ")
            raise StoreError(
                f"{out} holds a graph store built differently: {'; '.join(what)}. Use another "
                "output directory, or delete this one to rebuild it."
            )
        if meta.get("complete"):
            logger.info("reusing the complete graph store in %s", out)
            return GraphStore(out)
        logger.info("resuming the graph store in %s after %d shards", out, len(meta["shards"]))
        _truncate_failures(out / "failures.csv", meta["rows_done"])
    else:
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": STORE_FORMAT_VERSION,
            "key": key,
            "featurizer": fconfig,
            "atom_feature_sizes": list(featurizer.atom_feature_sizes),
            "bond_feature_sizes": list(featurizer.bond_feature_sizes),
            "source": src,
            "shards": [],
            "rows_done": 0,
            "failures": 0,
            "complete": False,
        }
        (out / "failures.csv").write_text("row,smiles,reason\n")
        _write_meta(meta_path, meta)

    rows_done = meta["rows_done"]
    stream = iter(SmilesSource(source, smiles_column=smiles_column))
    stream = _skip_rows(stream, rows_done)
    bar = tqdm(desc=f"featurize {source.name}", unit="mol", disable=not progress, initial=rows_done)
    pool = (
        mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(fconfig,))
        if workers > 1
        else None
    )
    if pool is None:
        _init_worker(fconfig)
    try:
        while True:
            chunks = list(_chunks(stream, _CHUNK, shard_size))
            if not chunks:
                break
            results = (
                pool.imap(_featurize_chunk, chunks)
                if pool
                else (_featurize_chunk(c) for c in chunks)
            )
            parts, failures = [], []
            for packed, failed in results:
                parts.append(packed)
                failures.extend(failed)
                bar.update(len(packed["row"]) + len(failed))
            last_row = chunks[-1][-1][0]
            name = f"shard-{len(meta['shards']):05d}"
            kept = [p for p in parts if len(p["row"])]
            n = 0
            if kept:
                packed = _concat_packed(kept)
                n = len(packed["row"])
                _write_shard(out / name, packed)
            with open(out / "failures.csv", "a", newline="") as fh:
                csv.writer(fh).writerows(failures)
            if failures:
                logger.warning(
                    "%d SMILES could not be featurized (see failures.csv)", len(failures)
                )
            if n:
                meta["shards"].append({"name": name, "size": n})
            meta["rows_done"] = last_row + 1
            meta["failures"] += len(failures)
            _write_meta(meta_path, meta)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    meta["complete"] = True
    _write_meta(meta_path, meta)
    return GraphStore(out)


def _truncate_failures(path: Path, rows_done: int) -> None:
    """Drop failures of rows a killed build wrote after its last recorded shard."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    kept = rows[:1] + [r for r in rows[1:] if int(r[0]) < rows_done]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows(kept)


def _skip_rows(stream: Iterator[tuple[int, str]], rows_done: int) -> Iterator[tuple[int, str]]:
    for row, smiles in stream:
        if row >= rows_done:
            yield row, smiles


def _chunks(stream: Iterator, chunk: int, total: int) -> Iterator[list]:
    taken = 0
    while taken < total:
        block = list(islice(stream, min(chunk, total - taken)))
        if not block:
            return
        taken += len(block)
        yield block


# --------------------------------------------------------------------------- reading
@dataclass
class _Shard:
    path: Path
    size: int
    arrays: dict | None = None

    def load(self) -> dict:
        if self.arrays is None:
            self.arrays = {f.stem: _open_random(f) for f in sorted(self.path.glob("*.npy"))}
        return self.arrays


def _open_random(path: Path) -> np.ndarray:
    """Memory-map an array for random access.

    Without ``MADV_RANDOM`` every page fault reads ahead around the faulting page, so sampling
    molecules at random pulls in megabytes per batch and resident memory climbs towards the
    store's size (reclaimable page cache, but it looks like a leak and evicts useful pages).
    """
    array = np.load(path, mmap_mode="r")
    handle = getattr(array, "_mmap", None)
    if handle is not None and hasattr(mmap, "MADV_RANDOM"):
        handle.madvise(mmap.MADV_RANDOM)
    return array


class GraphStore(torch.utils.data.Dataset):
    """Read graphs from a store by index, with no SMILES parsing.

    Shards are memory-mapped lazily in each process (the object pickles without its maps, so it
    can go to DataLoader workers and ranks). ``store[i]`` is a ``Data`` in the featurizer's format,
    with ``fp`` (bool [1, n_bits]), ``frag`` and ``num_frags`` when the store has them, and ``row``
    (the source row).

    Args:
        path: the store directory.

    Raises:
        StoreError: the directory holds no complete store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.exists():
            raise StoreError(
                f"{self.path} is not a graph store (no meta.json); build one with "
                "`molssl featurize INPUT -o STORE`."
            )
        self.meta = json.loads(meta_path.read_text())
        if not self.meta.get("complete"):
            raise StoreError(
                f"the graph store in {self.path} is incomplete; rerun `molssl featurize` on the "
                "same input with the same -o to finish it."
            )
        if self.meta.get("format_version", 0) > STORE_FORMAT_VERSION:
            raise StoreError(f"{self.path} was written by a newer molssl; upgrade molssl.")
        self._shards = [_Shard(self.path / s["name"], s["size"]) for s in self.meta["shards"]]
        self._offsets = np.cumsum([0] + [s.size for s in self._shards])

    @property
    def featurizer_config(self) -> dict:
        """The featurizer config the store was built with."""
        return self.meta["featurizer"]

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_shards"] = [_Shard(s.path, s.size) for s in self._shards]
        return state

    def __getitem__(self, index: int) -> Data:
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a store of {len(self)} graphs")
        shard_id = int(np.searchsorted(self._offsets, index, side="right") - 1)
        i = index - int(self._offsets[shard_id])
        a = self._shards[shard_id].load()
        n0, n1 = int(a["node_ptr"][i]), int(a["node_ptr"][i + 1])
        e0, e1 = int(a["edge_ptr"][i]), int(a["edge_ptr"][i + 1])
        data = Data(
            x=torch.from_numpy(a["x"][n0:n1].astype(np.int64)),
            edge_index=torch.from_numpy(a["edge_index"][:, e0:e1].astype(np.int64)),
            edge_attr=torch.from_numpy(a["edge_attr"][e0:e1].astype(np.int64)),
            row=int(a["row"][i]),
        )
        if "fp" in a:
            data.fp = torch.from_numpy(np.unpackbits(a["fp"][i : i + 1], axis=1).astype(bool))
        if "fp_count" in a:
            k0, k1 = int(a["fp_count_ptr"][i]), int(a["fp_count_ptr"][i + 1])
            data.fp_count = torch.from_numpy(np.array(a["fp_count"][k0:k1]))
            data.fp_count_num = torch.tensor([k1 - k0])
        if "frag" in a:
            data.frag = torch.from_numpy(a["frag"][n0:n1].astype(np.int64))
            data.num_frags = torch.tensor([int(a["num_frags"][i])])
        return data
