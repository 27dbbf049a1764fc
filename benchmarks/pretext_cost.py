"""What the pretext terms cost: extra time per GIN step and descriptor-extras throughput.

Usage::

    python benchmarks/pretext_cost.py [--batch-size 512] [--repeats 3] [--molecules 1000]

Prints one table: the time of a MolCLR training step of MolCLR's GIN (5 layers, 300 wide) on
``--batch-size`` MOSES molecules (forward of the two views, backward, Adam), the same step with
each pretext term added (``molclr+attrmask``, ``molclr+descriptors``, both) and the extra time as
a fraction of the plain step; then the descriptor extras' throughput (SMILES parsing and the
RDKit descriptors of :mod:`molssl.featurize.descriptors`, one process, times the cores given by
``--cores``) and the time it extrapolates to for the 1.58M molecules of MOSES' training set.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import platform
import time

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


def _step_time(name: str, batch: Batch, featurizer: MolGraphFeaturizer, repeats: int) -> float:
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
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(model, batch, generator)
        loss.backward()
        optimizer.step()
        if i:  # the first step warms allocator and caches up
            times.append(time.perf_counter() - start)
    return min(times)


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
    base = _step_time("molclr", batch, featurizer, args.repeats)
    print(f"| molclr | {base:.3f} | - |")
    for name in ("molclr+attrmask", "molclr+descriptors", "molclr+attrmask+descriptors"):
        t = _step_time(name, batch, featurizer, args.repeats)
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
