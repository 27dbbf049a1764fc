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
        desc.npy             float32 [n, D]           RDKit 2D descriptors (when descriptors)

Building streams the source in chunks, so peak memory depends on the shard size, not on the corpus.
A build that is interrupted resumes after its last complete shard; a store whose key (featurizer
config + source path, size and modification time) matches is reused as it is.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import mmap
import os
import shutil
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from molssl.contrastive.io.digest import file_sha256
from molssl.store_check import (
    DamagedStoreError,
    StoreError,
    damage_error,
    damaged_shards,
    is_locked,
    read_store_meta,
    record_files,
    store_lock,
)

logger = logging.getLogger(__name__)

STORE_FORMAT_VERSION = 2  # 2: reader settings in the key, per-file sizes and SHA-256, row ranges
_CHUNK = 512

__all__ = [
    "DamagedStoreError",
    "GraphStore",
    "StoreError",
    "build_graph_store",
    "store_key",
    "verify_store",
]


def _source_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def store_key(featurizer_config: dict, source: dict, reader: dict) -> str:
    """Hash of what determines a store's content: featurizer config, source file, row reader."""
    blob = json.dumps(
        {"featurizer": featurizer_config, "source": source, "reader": reader}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- featurization
def _featurized_records(
    records: Iterator[tuple[int, str, str | None]],
    featurizer,
    *,
    workers: int,
    align: int | None = None,
) -> Iterator[tuple[list[tuple], dict, list[tuple[int, str, str, str]]]]:
    """``(records, packed, failures)`` per chunk of ``(row, smiles, id)`` records, in order.

    Featurized by the engine of :mod:`molssl.featurize` (its failure policy: a bad row is a
    ``(row, smiles, reason, id)`` failure, never an error), packed into arrays where featurized.
    """
    from molssl.featurize.engine import featurize_chunks

    read: deque[tuple] = deque()  # records given to the engine, not yet in a chunk

    def smiles() -> Iterator[str]:
        for record in records:
            read.append(record)
            yield record[1]

    chunks = featurize_chunks(
        smiles(),
        featurizer,
        workers=workers if workers > 1 else 0,
        chunk_size=_CHUNK,
        pack=_pack,
        align=align,
        serial="workers=1 (--workers 1)",
    )
    with contextlib.closing(chunks):
        for chunk in chunks:
            block = [read.popleft() for _ in range(chunk.stop - chunk.start)]
            packed = chunk.graphs
            packed["row"] = np.asarray(
                [block[i - chunk.start][0] for i in chunk.indices], dtype=np.int64
            )
            failures = []
            for failure in chunk.failures:
                row, _, row_id = block[failure.index - chunk.start]
                failures.append((row, failure.smiles, failure.reason, row_id or ""))
            yield block, packed, failures


def _pack(graphs: list[Data]) -> dict:
    """Concatenated arrays of a chunk's graphs; ``row`` is added by the caller."""
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
    }
    if graphs and "fp" in graphs[0]:
        packed["fp"] = np.packbits(np.concatenate([g.fp.numpy() for g in graphs]), axis=1)
    if graphs and "fp_count" in graphs[0]:
        packed["fp_count"] = np.concatenate([g.fp_count.numpy() for g in graphs])
        packed["n_fp_count"] = np.concatenate([g.fp_count_num.numpy() for g in graphs])
    if graphs and "frag" in graphs[0]:
        packed["frag"] = np.concatenate([g.frag.numpy() for g in graphs]).astype(np.int16)
        packed["num_frags"] = np.concatenate([g.num_frags.numpy() for g in graphs]).astype(np.int32)
    if graphs and "desc" in graphs[0]:
        packed["desc"] = np.concatenate([g.desc.numpy() for g in graphs]).astype(np.float32)
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


def _write_shard(directory: Path, packed: dict) -> dict[str, dict]:
    """Write a shard to a temporary folder, rename it into place; returns its file records."""
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
    files = record_files(tmp)
    shutil.rmtree(directory, ignore_errors=True)  # left by a build killed before meta.json named it
    os.replace(tmp, directory)
    return files


def _write_meta(path: Path, meta: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- building
FAILURES_HEADER = ["row", "smiles", "reason", "id"]


def build_graph_store(
    source: str | Path,
    out_dir: str | Path,
    *,
    featurizer=None,
    smiles_column: str | int | None = None,
    fmt: str | None = None,
    workers: int = 1,
    shard_size: int = 100_000,
    verify: bool = False,
    progress: bool = True,
) -> GraphStore:
    """Featurize a SMILES corpus once into a graph store (or reuse, resume or repair one).

    The store's key covers everything that changes its content: the source file (path, size,
    modification time), how its rows are read (format, SMILES column, header, delimiter) and the
    featurizer with its options (extras included). A store in ``out_dir`` with another key is an
    error naming the difference. A complete store with the same key is reused after a check of
    its shards; damaged shards are rebuilt. The build holds a lock on ``out_dir``: a second
    build of the same store waits for the first, then reuses its result.

    Args:
        source: ``.smi``/``.txt``/``.csv``/``.tsv`` file, optionally gzipped, of any size, or
            PubChem's ``CID-SMILES(.gz)``.
        out_dir: store directory (created).
        featurizer: a featurizer with ``to_dict()``; default ``MolGraphFeaturizer(fingerprint=True,
            fragments=True)`` so that one store serves both the MolCLR and iMolCLR objectives.
        smiles_column: CSV column name or 0-based index (``--smiles-col``; auto-detected from a
            header cell named like ``smiles``).
        fmt: ``"smi"``, ``"csv"`` or ``"tsv"`` (``--format``); default: from the file name.
        workers: featurization processes.
        shard_size: molecules per shard; bounds peak memory.
        verify: check an existing store's checksums (reads it whole), not only its file sizes.
        progress: show a progress bar.

    Returns:
        The opened :class:`GraphStore`.

    Raises:
        StoreError: ``out_dir`` holds a store built from another source, reader or featurizer;
            or every row failed (the message gives the first reasons).
        molssl.data.DataFormatError: the file's format or SMILES column cannot be determined.
    """
    from molssl.data import SmilesSource
    from molssl.featurize import MolGraphFeaturizer

    if featurizer is None:
        featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True)
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"input {source} does not exist")
    reader = SmilesSource(source, smiles_column=smiles_column, fmt=fmt)
    reader.check()
    out = Path(out_dir)
    fconfig = featurizer.to_dict()
    src = _source_fingerprint(source)
    identity = {"featurizer": fconfig, "source": src, "reader": reader.describe()}
    key = store_key(fconfig, src, reader.describe())
    with store_lock(out):
        meta_path = out / "meta.json"
        if meta_path.exists():
            meta = read_store_meta(meta_path)
            if verify and meta.get("key") == key:
                _check_source_bytes(out, meta, source)
            if meta.get("key") != key and _same_bytes_new_mtime(meta, identity, source):
                logger.info(
                    "%s: the source %s has a new modification time but the same bytes "
                    "(SHA-256); reusing the store",
                    out,
                    source,
                )
                meta.update(key=key, source=src)
                _write_meta(meta_path, meta)
            _check_identity(out, meta, key, identity)
            if meta.get("complete"):
                _repair(out, meta, reader, fconfig, full=verify, progress=progress)
                return GraphStore(out)
            logger.info("resuming the graph store in %s after %d shards", out, len(meta["shards"]))
            _truncate_failures(out / "failures.csv", meta["rows_done"])
        else:
            meta = {
                "format_version": STORE_FORMAT_VERSION,
                "key": key,
                **identity,
                "source_sha256": file_sha256(source),  # a copied or touched file is still ours
                "request": {"format": fmt, "smiles_column": smiles_column},
                "atom_feature_sizes": list(featurizer.atom_feature_sizes),
                "bond_feature_sizes": list(featurizer.bond_feature_sizes),
                "shards": [],
                "rows_done": 0,
                "failures": 0,
                "complete": False,
            }
            _write_csv(out / "failures.csv", [FAILURES_HEADER])
            _write_meta(meta_path, meta)
        _featurize_rows(out, meta, reader, featurizer, workers, shard_size, progress)
        meta["complete"] = True
        _write_meta(meta_path, meta)
    store = GraphStore(out)
    if len(store) == 0 and meta["failures"]:
        raise StoreError(_all_failed_message(source, out, meta["failures"]))
    return store


def _featurize_rows(
    out: Path, meta: dict, reader, featurizer, workers: int, shard_size: int, progress: bool
) -> None:
    """Featurize the rows after ``meta["rows_done"]`` into new shards, updating ``meta``.

    A shard closes every ``shard_size`` rows (and at the end of the input); the failures of its
    rows are appended to ``failures.csv`` with it, and logged once at the end.
    """
    from tqdm.auto import tqdm

    from molssl.featurize.engine import describe_failure, log_failures

    rows_done = meta["rows_done"]
    stream = _skip_rows(reader.records(), rows_done)
    bar = tqdm(
        desc=f"featurize {reader.path.name}", unit="mol", disable=not progress, initial=rows_done
    )
    parts: list[dict] = []
    failures: list[tuple] = []
    first_failure = None
    in_shard = 0

    def close_shard(end: int) -> None:
        nonlocal rows_done, parts, failures, in_shard
        name = f"shard-{len(meta['shards']):05d}"
        kept = [p for p in parts if len(p["row"])]
        if kept:
            packed = _concat_packed(kept)
            files = _write_shard(out / name, packed)
            meta["shards"].append(
                {"name": name, "size": len(packed["row"]), "rows": [rows_done, end], "files": files}
            )
        _append_csv(out / "failures.csv", failures)
        rows_done = meta["rows_done"] = end
        meta["failures"] += len(failures)
        _write_meta(out / "meta.json", meta)
        parts, failures, in_shard = [], [], 0

    chunks = _featurized_records(stream, featurizer, workers=workers, align=shard_size)
    with bar, contextlib.closing(chunks):
        for block, packed, failed in chunks:
            parts.append(packed)
            failures += failed
            first_failure = first_failure or (failed[0] if failed else None)
            in_shard += len(block)
            bar.update(len(block))
            if in_shard >= shard_size:
                close_shard(block[-1][0] + 1)
        if in_shard:
            close_shard(block[-1][0] + 1)
    if first_failure is not None:
        row, smiles, reason, _ = first_failure
        where = out / "failures.csv"
        first = describe_failure(row, smiles, reason)
        log_failures(logger, meta["failures"], meta["rows_done"], first, str(where))


def _same_bytes_new_mtime(meta: dict, identity: dict, source: Path) -> bool:
    """Whether only the source's modification time changed and its SHA-256 is the recorded one
    (a re-provisioned, copied or touched file: the store stays valid)."""
    recorded = meta.get("source_sha256")
    return _only_mtime_changed(meta, identity) and recorded == file_sha256(source)


def _check_source_bytes(out: Path, meta: dict, source: Path) -> None:
    """``--verify``: the source's SHA-256 must still be the recorded one (an edit that keeps
    the size and the modification time leaves the key unchanged)."""
    recorded = meta.get("source_sha256")
    if recorded is not None and recorded != file_sha256(source):
        raise StoreError(
            f"{source} is not the file {out} was built from: its SHA-256 differs from the one "
            "recorded (the size and modification time are the same); delete the store to rebuild "
            "it from the file as it is now, or write to another output directory (-o)"
        )


def _only_mtime_changed(meta: dict, identity: dict) -> bool:
    """Whether ``meta`` records ``identity`` except for the source's modification time."""

    def without_mtime(source: dict) -> dict:
        return {k: v for k, v in source.items() if k != "mtime_ns"}

    same_rest = all(meta.get(part) == identity[part] for part in identity if part != "source")
    return same_rest and without_mtime(meta.get("source") or {}) == without_mtime(
        identity["source"]
    )


def _check_identity(out: Path, meta: dict, key: str, identity: dict) -> None:
    if meta.get("key") == key:
        return
    if "source_sha256" not in meta and _only_mtime_changed(meta, identity):
        raise StoreError(
            f"{out}: only the modification time of its source {identity['source'].get('path')} changed, "
            "and this store predates the content hash that would show the bytes are the same; "
            "delete the store to rebuild it, or write to another output directory (-o)"
        )
    what = []
    for part, now in identity.items():
        old = meta.get(part)
        if old is None:
            what.append(f"it records no {part} settings (written by an older molssl)")
        elif old != now:
            changed = sorted(k for k in set(now) | set(old) if old.get(k) != now.get(k))
            shown = ", ".join(f"{k} {old.get(k)!r} (now {now.get(k)!r})" for k in changed)
            what.append(f"{part}: {shown}")
    raise StoreError(
        f"{out} holds a graph store built differently ({'; '.join(what) or 'another key'}). "
        "Write to another output directory (-o), or delete this one to rebuild it."
    )


def _repair(out: Path, meta: dict, reader, fconfig: dict, *, full: bool, progress: bool) -> None:
    """Rebuild the damaged shards of a complete store from their recorded source rows."""
    from molssl.featurize import featurizer_from_dict

    problems = damaged_shards(out, meta, full=full)
    if not problems:
        logger.info("reusing the complete graph store in %s", out)
        return
    for shard in meta["shards"]:
        if shard["name"] not in problems:
            continue
        if "rows" not in shard:
            raise damage_error(out, meta, problems)  # older store: no row range to rebuild from
        logger.warning("rebuilding %s of %s: %s", shard["name"], out, problems[shard["name"]])
        first, end = shard["rows"]
        records = islice(_skip_rows(reader.records(), first), end - first)
        featurizer = featurizer_from_dict(fconfig)
        parts = [p for _, p, _ in _featurized_records(records, featurizer, workers=0)]
        packed = _concat_packed(parts)
        if len(packed["row"]) != shard["size"]:
            raise StoreError(
                f"rebuilding {shard['name']} of {out} gave {len(packed['row'])} molecules, not "
                f"{shard['size']}; the input changed: delete {out} and rebuild the store."
            )
        shard["files"] = _write_shard(out / shard["name"], packed)
        _write_meta(out / "meta.json", meta)


def _all_failed_message(source: Path, out: Path, failures: int) -> str:
    with open(out / "failures.csv", newline="") as fh:
        first = list(islice(csv.reader(fh), 1, 4))
    shown = "; ".join(f"row {r[0]} {r[1][:40]!r}: {r[2][:80]}" for r in first)
    return (
        f"every one of the {failures} rows of {source} failed to featurize ({shown}); is it a "
        "SMILES file and the right column (--smiles-col, --format)? All failures are in "
        f"{out / 'failures.csv'}."
    )


def _write_csv(path: Path, rows: list[list]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    os.replace(tmp, path)


def _append_csv(path: Path, rows: list) -> None:
    if rows:
        with open(path, "a", newline="") as fh:
            csv.writer(fh).writerows(rows)


def _truncate_failures(path: Path, rows_done: int) -> None:
    """Drop failures of rows a killed build wrote after its last recorded shard."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    kept = rows[:1] + [r for r in rows[1:] if int(r[0]) < rows_done]
    if len(kept) != len(rows):
        _write_csv(path, kept)


def _skip_rows(stream: Iterator[tuple], rows_done: int) -> Iterator[tuple]:
    for record in stream:
        if record[0] >= rows_done:
            yield record


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

    Opening checks every shard file's size against ``meta.json`` and rehashes it against the
    SHA-256 recorded at build time, so altered bytes of the right length (a zeroed block) are
    found before training on them. That reads the whole store once per process (SHA-256 runs
    at about 0.4 GB/s on one core: some 3.5 s for MOSES's 1.58M molecules, 1.4 GB, from the page
    cache); a file unchanged since it matched in this process is not read again. Stores without file records: every array's length against the molecule count.

    Args:
        path: the store directory.
        verify: rehash every file (default ``True``); ``False`` checks sizes only.

    Raises:
        StoreError: the directory holds no complete store.
        DamagedStoreError: a shard is missing, truncated or (``verify``) altered; the message
            names the shard and the command that rebuilds it.
    """

    def __init__(self, path: str | Path, *, verify: bool = True) -> None:
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.exists():
            raise StoreError(
                f"{self.path} is not a graph store (no meta.json); build one with "
                "`molssl featurize INPUT -o STORE`."
            )
        self.meta = read_store_meta(meta_path)
        if not self.meta.get("complete"):
            if is_locked(self.path):
                raise StoreError(
                    f"the graph store in {self.path} is being built by another process; wait "
                    "for that `molssl featurize` to finish."
                )
            raise StoreError(
                f"the graph store in {self.path} is incomplete; rerun `molssl featurize` on the "
                "same input with the same -o to finish it."
            )
        if self.meta.get("format_version", 0) > STORE_FORMAT_VERSION:
            raise StoreError(f"{self.path} was written by a newer molssl; upgrade molssl.")
        problems = damaged_shards(self.path, self.meta, full=verify)
        if problems:
            raise damage_error(self.path, self.meta, problems)
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
        if "desc" in a:
            data.desc = torch.from_numpy(np.array(a["desc"][i : i + 1]))
        return data

    def per_molecule(self, name: str) -> np.ndarray:
        """A per-molecule array of every shard, concatenated (``"desc"``: ``float32[n, D]``).

        Raises:
            StoreError: The store has no such array (built without that extra).
        """
        parts = []
        for shard in self._shards:
            arrays = shard.load()
            if name not in arrays:
                raise StoreError(
                    f"{self.path} has no per-molecule {name!r}; rebuild it with that extra "
                    "(e.g. descriptors=True for 'desc')"
                )
            parts.append(np.asarray(arrays[name]))
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def verify_store(path: str | Path) -> GraphStore:
    """Open a store after checking every byte of it against its build-time checksums.

    Raises:
        StoreError: no complete store in ``path``.
        DamagedStoreError: the damaged shards and the command that rebuilds them.
    """
    return GraphStore(path, verify=True)
