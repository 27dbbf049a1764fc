"""Pretraining throughput on CPU: molecules/s end to end (store -> augment -> step) and its split.

Builds (once, in a cache outside the repository) a graph store of the first N MOSES training
SMILES, then times the default GIN (5 x 300, MolCLR preset) for the ``molclr`` and ``imolclr``
objectives at batch 128 and 512 with Adam, exactly as the trainer runs a step, and splits each
step's wall time into

- data: reading the store and collating (``DataLoader`` + ``Batch.from_data_list``),
- augment: building the two views,
- model: encoder forward for both views, loss, backward and the optimizer step.

and times the GIN's MLPs alone (the same five ``Linear(300, 600) -> ReLU -> Linear(600, 300)``
blocks, forward + backward on as many node rows as the two views of a batch have) as a ceiling
for this CPU: ``% of MLP cap`` is end-to-end mol/s over MLP-only mol/s. Like the trainer on CPU,
it keeps freed memory in the process (:func:`molssl.contrastive.training.allocator.keep_freed_memory`);
``--system-malloc`` measures without that.

``mol/s`` is wall-clock throughput; ``mol/CPU-s`` divides by the CPU time of the process (all
threads), which is less sensitive to other load on a shared machine (with 2 threads, an idle
machine would reach at most about twice it).

Usage::

    python benchmarks/pretrain_throughput.py [--n 20000] [--steps 8] [--threads 2]
        [--batch-sizes 128 512] [--objectives molclr imolclr] [--profile] [--system-malloc]

Data: ``pretrain/moses_train.smi.gz`` of the shared data (``benchmarks/_shared.py``); cache:
``$MOLSSL_BENCH_CACHE`` (default ``~/.cache/molssl/bench``). The machine's load average is
printed with the table: on a shared machine the figures are only as good as the idle CPU.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Batch

from molssl.contrastive.training.allocator import keep_freed_memory
from molssl.models import MolEncoder
from molssl.objectives import ObjectiveConfig, build_objective
from molssl.store import GraphStore, StoreError, build_graph_store

try:
    from benchmarks._shared import pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/pretrain_throughput.py
    from _shared import pretrain_dir, run


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "molssl" / "bench"
    return Path(os.environ.get("MOLSSL_BENCH_CACHE", default))


def moses_store(n: int, workers: int) -> GraphStore:
    """Graph store (ECFP bits + BRICS fragments) of the first ``n`` MOSES training SMILES."""
    source = pretrain_dir() / "moses_train.smi.gz"
    if not source.is_file():
        raise SystemExit(f"{source} not found; set MOLSSL_SHARED_DATA to the shared data folder")
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    smi = root / f"moses_train_first{n}.smi"
    if not smi.is_file():
        with gzip.open(source, "rt") as fh:
            lines = list(islice((line for line in fh if line.strip()), n + 1))
        if lines[0].split()[0].lower() == "smiles":
            lines = lines[1:]
        tmp = smi.with_suffix(".tmp")
        tmp.write_text("".join(lines[:n]))
        tmp.replace(smi)
    store = root / f"store_moses{n}"
    try:
        return build_graph_store(smi, store, workers=workers, progress=True)
    except StoreError:  # built by a molssl whose featurizer config differs: a cache, rebuild it
        shutil.rmtree(store)
        return build_graph_store(smi, store, workers=workers, progress=True)


class Timed:
    """Wrap a callable and accumulate its wall time."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func, self.seconds = func, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.func(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out


def measure(
    store: GraphStore, objective_name: str, batch_size: int, steps: int, warmup: int
) -> dict[str, float]:
    """Run ``warmup + steps`` training steps; return molecules/s and the time split."""
    torch.manual_seed(0)
    model = MolEncoder()
    model.train()
    objective = build_objective(ObjectiveConfig(name=objective_name))
    objective.augment = Timed(objective.augment)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-5)
    generator = torch.Generator().manual_seed(0)
    order = np.random.default_rng(0).permutation(len(store))
    batches = [
        order[i : i + batch_size].tolist()
        for i in range(0, (warmup + steps) * batch_size, batch_size)
    ]
    loader = iter(DataLoader(store, batch_sampler=batches, collate_fn=Batch.from_data_list))
    data_s = step_s = 0.0
    augment_before = cpu_start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            data_s = step_s = 0.0
            augment_before = objective.augment.seconds
            cpu_start = time.process_time()
        t0 = time.perf_counter()
        batch = next(loader)
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(model, batch, generator)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        data_s += t1 - t0
        step_s += t2 - t1
    augment_s = objective.augment.seconds - augment_before
    total = data_s + step_s
    cpu = time.process_time() - cpu_start
    return {
        "mol_s": steps * batch_size / total,
        "mol_cpu_s": steps * batch_size / cpu,
        "data": data_s / total,
        "augment": augment_s / total,
        "model": (step_s - augment_s) / total,
        "step_ms": 1000 * total / steps,
    }


def mlp_ceiling(store: GraphStore, batch_size: int, steps: int, warmup: int) -> float:
    """Molecules/s of the encoder's MLPs alone (forward + backward, both views) on this CPU."""
    torch.manual_seed(0)
    encoder = MolEncoder()
    mlps = [conv.mlp for conv in encoder.gnns]
    params = [p for mlp in mlps for p in mlp.parameters()]
    atoms = sum(store[i].num_nodes for i in range(batch_size))
    x = torch.randn(2 * atoms, mlps[0][0].in_features)
    total = 0.0
    for i in range(warmup + steps):
        for p in params:
            p.grad = None
        start = time.perf_counter()
        h = x
        for mlp in mlps:
            h = mlp(h)
        h.sum().backward()
        if i >= warmup:
            total += time.perf_counter() - start
    return steps * batch_size / total


def profile(store: GraphStore, objective_name: str, batch_size: int) -> None:
    """Print the top operators of a few steps (torch.profiler, CPU)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    measure(store, objective_name, batch_size, steps=1, warmup=1)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        measure(store, objective_name, batch_size, steps=2, warmup=0)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="MOSES molecules in the store")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--objectives", nargs="+", default=["molclr", "imolclr"])
    parser.add_argument("--workers", type=int, default=2, help="featurization processes")
    parser.add_argument("--profile", action="store_true", help="torch.profiler table per config")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave glibc's malloc as is (the trainer keeps freed memory)",
    )
    args = parser.parse_args()
    kept = False if args.system_malloc else keep_freed_memory()

    torch.set_num_threads(args.threads)
    store = moses_store(args.n, args.workers)
    atoms = store[0].num_nodes  # touch the maps before timing
    print(
        f"store {store.path}: {len(store)} molecules; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs; first molecule {atoms} atoms; freed memory kept: {kept}"
    )
    header = (
        f"{'objective':<9} {'batch':>5} {'mol/s':>7} {'mol/CPU-s':>9} {'ms/step':>8} "
        f"{'data':>6} {'augment':>8} {'model':>6} {'% of MLP cap':>12}"
    )
    print(header)
    print("-" * len(header))
    ceilings: dict[int, float] = {}
    for name in args.objectives:
        for batch_size in args.batch_sizes:
            if args.profile:
                profile(store, name, batch_size)
            r = measure(store, name, batch_size, args.steps, args.warmup)
            if batch_size not in ceilings:
                ceilings[batch_size] = mlp_ceiling(store, batch_size, args.steps, args.warmup)
            print(
                f"{name:<9} {batch_size:>5} {r['mol_s']:>7.0f} {r['mol_cpu_s']:>9.0f} "
                f"{r['step_ms']:>8.0f} "
                f"{r['data']:>6.1%} {r['augment']:>8.1%} {r['model']:>6.1%} "
                f"{r['mol_s'] / ceilings[batch_size]:>12.0%}",
                flush=True,
            )
    for batch_size, cap in ceilings.items():
        print(f"MLP-only ceiling at batch {batch_size}: {cap:.0f} mol/s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    run(main)
