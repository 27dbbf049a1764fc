"""Throughput of the graph augmentations and their share of one MolCLR training step.

Featurizes ``--n`` SMILES once (default 2,048 from ``pretrain/moses_test.smi.gz`` under
``$MOLSSL_SHARED_DATA`` or ``../shared/data``), collates batches of ``--batch-size`` (512), then
times producing two augmented views of every batch with each augmentation (molecules/s and ms
per batch). Finally it times forward + backward of the default ``MolEncoder`` (GIN) on both views
of one batch with NT-Xent and reports augmentation time as a share of (augmentation + step).

Usage::

    python benchmarks/augment.py [--n 2048] [--batch-size 512] [--repeats 5] [--threads 1]
        [--smiles FILE] [--no-model]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path

import torch
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform, build_augmentation
from molssl.featurize.molclr import MolGraphFeaturizer

try:
    from benchmarks._shared import pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/augment.py
    from _shared import pretrain_dir, run

AUGMENTATIONS = ["atom_mask", "bond_deletion", "molclr", "subgraph", "mix"]


def default_smiles_path() -> Path:
    """``moses_test.smi.gz`` of the shared data's ``pretrain/`` folder."""
    return pretrain_dir() / "moses_test.smi.gz"


def load_graphs(path: Path, n: int, featurizer: MolGraphFeaturizer) -> list:
    opener = gzip.open if path.suffix == ".gz" else open
    graphs = []
    with opener(path, "rt") as handle:
        for line in handle:
            fields = line.split()
            if not fields or fields[0].lower() == "smiles":
                continue
            try:
                graphs.append(featurizer(fields[0]))
            except ValueError:
                continue
            if len(graphs) == n:
                break
    return graphs


def time_views(views: TwoViewTransform, batches: list[Batch], repeats: int) -> float:
    """Median seconds to make two views of every batch once."""
    gen = torch.Generator().manual_seed(0)
    for batch in batches[:1]:
        views(batch, gen)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            views(batch, gen)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def time_step(batch: Batch, repeats: int) -> float:
    """Median seconds of forward + backward of the default encoder on two views + NT-Xent."""
    from molssl.contrastive.losses.ntxent import NTXentLoss
    from molssl.models import MolEncoder

    model, loss_fn = MolEncoder(), NTXentLoss(temperature=0.1)
    views = TwoViewTransform(build_augmentation("molclr"))
    view_a, view_b = views(batch, torch.Generator().manual_seed(0))
    runs = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model.forward_batch(view_a).z, model.forward_batch(view_b).z)
        loss.backward()
        if i:
            runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smiles", type=Path, default=None)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--step-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-model", action="store_true", help="skip the training-step timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    path = args.smiles or default_smiles_path()
    start = time.perf_counter()
    graphs = load_graphs(path, args.n, MolGraphFeaturizer())
    featurize_s = time.perf_counter() - start
    batches = [
        Batch.from_data_list(graphs[i : i + args.batch_size])
        for i in range(0, len(graphs), args.batch_size)
    ]
    num_mols = len(graphs)
    print(
        f"{num_mols} molecules from {path} featurized in {featurize_s:.1f} s; "
        f"{len(batches)} batches of <= {args.batch_size}; torch threads = {args.threads}"
    )

    step_s = None
    if not args.no_model:
        step_s = time_step(batches[0], args.step_repeats)
        print(
            f"train step (GIN fwd+bwd, 2 views, NT-Xent, batch {batches[0].num_graphs}): "
            f"{step_s * 1e3:.0f} ms"
        )

    header = f"{'augmentation':<14} {'mol/s (2 views)':>16} {'ms/batch (2 views)':>19}"
    header += f" {'share of step':>14}" if step_s else ""
    print(header)
    print("-" * len(header))
    for name in AUGMENTATIONS:
        seconds = time_views(TwoViewTransform(build_augmentation(name)), batches, args.repeats)
        per_batch = seconds / len(batches) * args.batch_size / (num_mols / len(batches))
        row = f"{name:<14} {num_mols / seconds:>16,.0f} {per_batch * 1e3:>19.1f}"
        if step_s:
            row += f" {per_batch / (per_batch + step_s):>13.1%}"
        print(row)


if __name__ == "__main__":
    run(main)
