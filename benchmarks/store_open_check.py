"""Cost of the graph store's integrity checks: the size check on open and the full verify.

1. A real store of ``--molecules`` bundled SMILES: time to open it with and without the size
   check, and the full checksum verify (MB/s), extrapolated to MOSES's 1.58M molecules from the
   bytes per molecule.
2. A synthetic store with the shard layout of 1.58M molecules (``--shards`` shards of 100k, the
   default shard size, each with the 12 files of a store with extras): time to open it, with
   file records (stores written since format 2) and with the structural check of older stores.
   The check's cost depends on the number of files, not their size, so the files are small.

    python benchmarks/store_open_check.py --molecules 2000 --shards 16 --repeats 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import molssl.store as store_module
from molssl.data import embedded_smiles_path
from molssl.store import GraphStore, build_graph_store, verify_store
from molssl.store_check import record_files

MOSES = 1_584_663
_FILES = {  # name: (dtype, shape for a shard of n molecules with a atoms and e edges)
    "x": (np.int16, lambda n, a, e: (a, 2)),
    "edge_index": (np.int32, lambda n, a, e: (2, e)),
    "edge_attr": (np.int8, lambda n, a, e: (e, 2)),
    "node_ptr": (np.int64, lambda n, a, e: (n + 1,)),
    "edge_ptr": (np.int64, lambda n, a, e: (n + 1,)),
    "row": (np.int64, lambda n, a, e: (n,)),
    "fp": (np.uint8, lambda n, a, e: (n, 256)),
    "fp_count": (np.int64, lambda n, a, e: (0,)),
    "fp_count_ptr": (np.int64, lambda n, a, e: (n + 1,)),
    "frag": (np.int16, lambda n, a, e: (a,)),
    "num_frags": (np.int32, lambda n, a, e: (n,)),
    "extra": (np.int8, lambda n, a, e: (0,)),
}


def _timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _synthetic_store(root: Path, shards: int, per_shard: int) -> Path:
    """Shards of ``per_shard`` molecules described in meta.json; arrays hold 10 molecules."""
    meta = {"format_version": 2, "complete": True, "featurizer": {}, "shards": []}
    n, atoms, edges = 10, 250, 500
    for k in range(shards):
        directory = root / f"shard-{k:05d}"
        directory.mkdir(parents=True)
        for name, (dtype, shape) in _FILES.items():
            array = np.zeros(shape(n, atoms, edges), dtype)
            if name in ("node_ptr", "edge_ptr"):
                array[:] = np.linspace(0, atoms if name == "node_ptr" else edges, n + 1)
            np.save(directory / f"{name}.npy", array)
        meta["shards"].append({"name": directory.name, "size": n, "files": record_files(directory)})
    (root / "meta.json").write_text(json.dumps(meta))
    del per_shard
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "corpus.smi"
        lines = embedded_smiles_path().read_text().splitlines()[: args.molecules]
        corpus.write_text("\n".join(lines) + "\n")
        real = root / "real"
        build_graph_store(corpus, real, shard_size=max(1, args.molecules // 8), progress=False)
        opened = GraphStore(real)
        nbytes = sum(f.stat().st_size for f in real.rglob("*.npy"))
        checked = _timed(lambda: GraphStore(real), args.repeats)
        real_check = store_module.damaged_shards
        store_module.damaged_shards = lambda *a, **k: {}
        unchecked = _timed(lambda: GraphStore(real), args.repeats)
        store_module.damaged_shards = real_check
        full = _timed(lambda: verify_store(real), 3)
        per_mol = nbytes / len(opened)
        print(
            f"| real store, {len(opened)} molecules, {len(opened.meta['shards'])} shards, "
            f"{nbytes / 1e6:.1f} MB | open with size check {checked * 1e3:.2f} ms, without "
            f"{unchecked * 1e3:.2f} ms | full verify {full:.3f} s = {nbytes / full / 1e6:.0f} "
            f"MB/s -> {MOSES} molecules ({per_mol * MOSES / 1e9:.2f} GB): "
            f"{per_mol * MOSES / (nbytes / full):.0f} s |"
        )
        synthetic = _synthetic_store(root / "synthetic", args.shards, 100_000)
        with_records = _timed(lambda: GraphStore(synthetic), args.repeats)
        meta = json.loads((synthetic / "meta.json").read_text())
        for shard in meta["shards"]:
            del shard["files"]
        (synthetic / "meta.json").write_text(json.dumps(meta))
        structural = _timed(lambda: GraphStore(synthetic), args.repeats)
        print(
            f"| synthetic layout of {MOSES} molecules: {args.shards} shards x "
            f"{len(_FILES)} files | open with file records {with_records * 1e3:.2f} ms | "
            f"structural check (older stores) {structural * 1e3:.2f} ms |"
        )


if __name__ == "__main__":
    main()
