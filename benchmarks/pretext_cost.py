"""What the pretext terms cost: extra time per GIN step and descriptor-extras throughput.

Usage::

    python benchmarks/pretext_cost.py [--batch-size 512] [--repeats 3] [--molecules 1000]

Method: one fixed batch of ``--batch-size`` MOSES molecules (the first of
``moses_train.smi.gz``), featurized once; MolCLR's GIN (5 layers, 300 wide, 512-wide ``h``), a
freshly seeded model per row. A training step is the objective's loss on the batch (the
augmentation of the two views included), its backward and one Adam step; each row reports the
fastest of ``--repeats`` steps after one warm-up step, in seconds on CPU with torch's default
threads. The rows take turns step by step, so a change of load on a shared machine hits every
row alike. Rows: ``molclr`` alone, then with each pretext term added (``molclr+attrmask``,
``molclr+descriptors``, both); the pretext terms reuse the two views' encoder forward (see
:mod:`molssl.objectives.compose`), so their cost is the heads, their losses and their backward.
The extra time is given as a fraction of the plain step.

Then the descriptor extras' throughput (SMILES parsing and the RDKit descriptors of
:mod:`molssl.featurize.descriptors`, one process, times the cores given by ``--cores``) and the
time it extrapolates to for the 1.58M molecules of MOSES' training set.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import platform
import time
from collections.abc import Callable

import torch
from torch_geometric.data import Batch

try:
    from _shared import pretrain_dir
except ImportError:  # imported as benchmarks.pretext_cost
    from benchmarks._shared import pretrain_dir

from molssl.featurize import MolGraphFeaturizer, parse_smiles
from molssl.featurize.descriptors import compute_descriptors
from molssl.models import EncoderConfig, MolEncoder
from molssl.objectives import ObjectiveConfig, build_objective
from molssl.objectives.pretext import robust_scaler

MOSES_TRAIN = 1_584_663


def _smiles(n: int) -> list[str]:
    path = pretrain_dir() / "moses_train.smi.gz"
    with gzip.open(path, "rt") as fh:
        return [line.split()[0] for line in itertools.islice(fh, n)]


def _step(name: str, batch: Batch, featurizer: MolGraphFeaturizer) -> Callable[[], None]:
    """One training step of objective ``name`` (loss, backward, Adam) on ``batch``."""
    torch.manual_seed(0)
    cfg = ObjectiveConfig(name=name)
    objective = build_objective(
        cfg, mask_atom=featurizer.mask_atom, mask_bond=featurizer.self_loop_bond
    )
    for term in getattr(objective, "terms", []):
        if hasattr(term, "prepare"):  # the descriptor scaler, fitted on the batch itself
            term.center, term.scale = map(torch.from_numpy, robust_scaler(batch.desc.numpy()))
    encoder = MolEncoder.from_config(EncoderConfig.from_featurizer(featurizer))
    model = objective.build_model(encoder).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(model, batch, generator)
        loss.backward()
        optimizer.step()

    return step


def _step_times(
    names: list[str], batch: Batch, featurizer: MolGraphFeaturizer, repeats: int
) -> dict[str, float]:
    """Fastest step of each objective; the rows take turns, so load changes hit all of them."""
    steps = {name: _step(name, batch, featurizer) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats + 1):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if i:  # the first step warms allocator and caches up
                times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--molecules", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    featurizer = MolGraphFeaturizer(fingerprint=True, descriptors=True)
    smiles = _smiles(max(args.batch_size, args.molecules))
    batch = Batch.from_data_list([featurizer(s) for s in smiles[: args.batch_size]])
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}")
    print(f"\n| step (GIN, batch {args.batch_size}) | seconds | extra vs molclr |")
    print("|---|---:|---:|")
    names = ["molclr", "molclr+attrmask", "molclr+descriptors", "molclr+attrmask+descriptors"]
    seconds = _step_times(names, batch, featurizer, args.repeats)
    base = seconds["molclr"]
    print(f"| molclr | {base:.3f} | - |")
    for name in names[1:]:
        t = seconds[name]
        print(f"| {name} | {t:.3f} | {100 * (t - base) / base:+.1f}% |")

    sample = smiles[: args.molecules]
    start = time.perf_counter()
    for s in sample:
        compute_descriptors(parse_smiles(s))
    per_s = len(sample) / (time.perf_counter() - start)
    total_h = MOSES_TRAIN / (per_s * args.cores) / 3600
    print("\n| descriptor extras | value |")
    print("|---|---:|")
    print(f"| molecules/s, 1 process ({len(sample)} MOSES molecules) | {per_s:.0f} |")
    print(f"| molecules/s, {args.cores} cores | {per_s * args.cores:.0f} |")
    print(f"| MOSES train ({MOSES_TRAIN:,} molecules), {args.cores} cores | {total_h:.2f} h |")


if __name__ == "__main__":
    main()
