"""What the pretext terms cost: extra time per GIN step and descriptor-extras throughput.

Usage::

    python benchmarks/pretext_cost.py [--batch-size 512] [--repeats 3] [--molecules 1000]

Method: one fixed batch of ``--batch-size`` MOSES molecules (the first of
``moses_train.smi.gz``), featurized once; MolCLR's GIN (5 layers, 300 wide, 512-wide ``h``), a
freshly seeded model per row. A training step is the objective's loss on the batch (the
augmentation of the two views included), its backward and one Adam step; each row reports the
fastest of ``--repeats`` steps after one warm-up round, in seconds on CPU with torch's default
threads. The rows take turns, one step each per round in an order rotated every round, and the
extra time of a row is the median over rounds of its step time over ``molclr``'s in the same
round, minus 1: pairing within a round cancels the drift of load on a shared machine. Rows:
``molclr`` alone, then with each pretext term added (``molclr+attrmask``,
``molclr+descriptors``, both); the pretext terms reuse the two views' encoder forward (see
:mod:`molssl.objectives.compose`), so their cost is the heads, their losses and their backward.
That cost is also timed on its own, below the noise of whole steps: each term's forward and
backward on the embeddings of one two-view forward (made leaf tensors, so the encoder does not
run; fastest of ``10 * --repeats``), as a fraction of the fastest ``molclr`` step.

Then the descriptor extras' throughput (SMILES parsing and the RDKit descriptors of
:mod:`molssl.featurize.descriptors`, one process, times the cores given by ``--cores``) and the
time it extrapolates to for the 1.58M molecules of MOSES' training set.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import platform
import statistics
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
) -> dict[str, list[float]]:
    """``repeats`` step times of each objective, after one warm-up step each.

    The rows take turns, one step each per round, in an order rotated every round, so a change
    of load on a shared machine or a position in the round favours no row.
    """
    steps = {name: _step(name, batch, featurizer) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats + 1):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            steps[name]()
            if i:  # the warm-up pass fills allocator and caches
                times[name].append(time.perf_counter() - start)
    return times


def _term_times(batch: Batch, featurizer: MolGraphFeaturizer, repeats: int) -> dict[str, float]:
    """Fastest forward + backward of each pretext term alone, on one two-view forward's
    embeddings (made leaves, so the encoder does not run again)."""
    objective = build_objective(
        ObjectiveConfig(name="molclr+attrmask+descriptors"),
        mask_atom=featurizer.mask_atom,
        mask_bond=featurizer.self_loop_bond,
    )
    for term in objective.terms:
        if hasattr(term, "prepare"):
            term.center, term.scale = map(torch.from_numpy, robust_scaler(batch.desc.numpy()))
    encoder = MolEncoder.from_config(EncoderConfig.from_featurizer(featurizer))
    model = objective.build_model(encoder).train()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        _, _, views = objective.primary.call_with_views(model, batch, generator)
    encoded = views.encoded._replace(
        h=views.encoded.h.clone().requires_grad_(),
        node=views.encoded.node.clone().requires_grad_(),
    )
    views = views._replace(encoded=encoded)
    out = {}
    for name, term in zip(objective.names, objective.terms, strict=True):
        if name == "molclr":
            continue
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            loss, _ = term(model, batch, generator, views=views)
            loss.backward()
            times.append(time.perf_counter() - start)
        out[name] = min(times[1:])
    return out


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
    print(f"\n| step (GIN, batch {args.batch_size}) | seconds (min) | extra vs molclr |")
    print("|---|---:|---:|")
    names = ["molclr", "molclr+attrmask", "molclr+descriptors", "molclr+attrmask+descriptors"]
    times = _step_times(names, batch, featurizer, args.repeats)
    base = times["molclr"]
    print(f"| molclr | {min(base):.3f} | - |")
    for name in names[1:]:
        extra = statistics.median(t / b - 1 for t, b in zip(times[name], base, strict=True))
        print(f"| {name} | {min(times[name]):.3f} | {100 * extra:+.1f}% |")

    print("\n| pretext term on the views' embeddings (forward + backward) | seconds | of molclr |")
    print("|---|---:|---:|")
    for name, t in _term_times(batch, featurizer, 10 * args.repeats).items():
        print(f"| {name} | {t:.4f} | {100 * t / min(base):.2f}% |")

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
