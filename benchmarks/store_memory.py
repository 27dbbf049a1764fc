"""Time and peak memory of building a graph store, and of pretraining from stores of growing size.

Each measurement runs in a fresh Python process, so its peak RSS is its own: the process's
``VmHWM`` (``ru_maxrss``) and the largest of its featurization workers (``RUSAGE_CHILDREN``).

Usage::

    # build a store from the first N SMILES of a file (N omitted: the whole file) and time it
    python benchmarks/store_memory.py build ../shared/data/pretrain/moses_train.smi.gz \\
        --n 100000 --workers 2 --store ~/.cache/molssl/bench/store_moses100000
    # peak RSS of a few default-GIN pretraining steps from each store
    python benchmarks/store_memory.py train ~/.cache/molssl/bench/store_moses20000 \\
        ~/.cache/molssl/bench/store_moses100000 --steps 3 --batch-size 512

The full 1.58M-molecule MOSES store (tens of minutes on 2 cores)::

    python benchmarks/store_memory.py build ../shared/data/pretrain/moses_train.smi.gz \\
        --workers 2 --store ~/.cache/molssl/bench/store_moses_full
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path


def peak_rss_mib() -> dict[str, float]:
    """Peak RSS of this process and of its largest waited-for child, in MiB (Linux units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mib": round(own, 1), "largest_child_mib": round(children, 1)}


def _first_n(source: Path, n: int, directory: Path) -> Path:
    out = directory / f"{source.name.split('.')[0]}_first{n}.smi"
    if not out.is_file():
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rt") as fh:
            out.write_text("".join(islice((line for line in fh if line.strip()), n)))
    return out


def _child_build(args: argparse.Namespace) -> dict:
    from molssl.store import build_graph_store

    start = time.perf_counter()
    store = build_graph_store(
        args.input, args.store, workers=args.workers, shard_size=args.shard_size, progress=False
    )
    return {
        "molecules": len(store),
        "failures": store.meta["failures"],
        "seconds": round(time.perf_counter() - start, 1),
        "store_mib": round(sum(f.stat().st_size for f in store.path.rglob("*")) / 2**20, 1),
        **peak_rss_mib(),
    }


def _run_child(mode: str, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, f"_{mode}", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    build = sub.add_parser("build", help="time and peak RSS of building a store")
    build.add_argument("input", type=Path)
    build.add_argument("--store", type=Path, required=True, help="store directory (new)")
    build.add_argument("--n", type=int, default=None, help="use only the first N SMILES")
    build.add_argument("--workers", type=int, default=2)
    build.add_argument("--shard-size", type=int, default=100_000, help="molecules per shard")
    train = sub.add_parser("train", help="peak RSS of a few pretraining steps per store")
    train.add_argument("stores", nargs="+", type=Path)
    train.add_argument("--steps", type=int, default=3)
    train.add_argument("--batch-size", type=int, default=512)
    train.add_argument("--threads", type=int, default=2)
    train.add_argument(
        "--system-malloc",
        action="store_true",
        help="trainer.keep_cpu_memory=false (glibc returns freed memory)",
    )
    for name in ("_build", "_train"):
        child = sub.add_parser(name)
        child.add_argument("payload")
    args = parser.parse_args()

    if args.mode == "_build":
        print(json.dumps(_child_build(argparse.Namespace(**json.loads(args.payload)))))
    elif args.mode == "_train":
        print(json.dumps(_child_train_impl(**json.loads(args.payload))))
    elif args.mode == "build":
        source = args.input
        if args.n is not None:
            args.store.parent.mkdir(parents=True, exist_ok=True)
            source = _first_n(args.input, args.n, args.store.parent)
        payload = {
            "input": str(source),
            "store": str(args.store),
            "workers": args.workers,
            "shard_size": args.shard_size,
        }
        result = _run_child("build", [json.dumps(payload)])
        print(
            f"build {source} -> {args.store} with {args.workers} workers, shards of "
            f"{args.shard_size}: {json.dumps(result)}"
        )
    else:
        print(
            f"{'store':<48} {'molecules':>10} {'steps':>5} {'s/step':>7} {'peak RSS MiB':>12}"
            f" {'anon MiB':>9} {'file MiB':>9}"
        )
        for store in args.stores:
            payload = {
                "store": str(store),
                "steps": args.steps,
                "batch_size": args.batch_size,
                "threads": args.threads,
                "keep_cpu_memory": not args.system_malloc,
            }
            r = _run_child("train", [json.dumps(payload)])
            print(
                f"{str(store):<48} {r['molecules']:>10} {r['steps']:>5} "
                f"{r['seconds_per_step']:>7.2f} {r['self_mib']:>12.0f}"
                f" {r['anon_mib']:>9.0f} {r['file_mib']:>9.0f}",
                flush=True,
            )


def _child_train_impl(
    store: str, steps: int, batch_size: int, threads: int, keep_cpu_memory: bool = True
) -> dict:
    """Pretrain the default GIN (molclr) for ``steps`` steps from ``store``; report peak RSS."""
    import torch

    from molssl.contrastive.config import apply_overrides
    from molssl.pretrain import PretrainConfig, pretrain
    from molssl.store import GraphStore

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        overrides = {
            "data.path": store,
            "trainer.out_dir": out,
            "trainer.max_steps": steps,
            "trainer.batch_size": batch_size,
            "trainer.device": "cpu",
            "trainer.progress": False,
            "trainer.keep_cpu_memory": keep_cpu_memory,
        }
        cfg = apply_overrides(PretrainConfig(), overrides)
        start = time.perf_counter()
        pretrain(cfg)
        seconds = time.perf_counter() - start
    return {
        "molecules": len(GraphStore(store)),
        "steps": steps,
        "seconds_per_step": seconds / steps,
        **peak_rss_mib(),
        **_resident_split_mib(),
    }


def _resident_split_mib() -> dict:
    """Resident memory at the end: anonymous (heap, tensors) vs file-backed (mapped store)."""
    status = Path("/proc/self/status")
    if not status.exists():
        return {"anon_mib": float("nan"), "file_mib": float("nan")}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    kib = {k: int(fields[k].split()[0]) for k in ("RssAnon", "RssFile") if k in fields}
    return {"anon_mib": kib.get("RssAnon", 0) / 1024, "file_mib": kib.get("RssFile", 0) / 1024}


if __name__ == "__main__":
    main()
