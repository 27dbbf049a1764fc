"""Featurization speed: molssl's featurizer against a bare RDKit parse and DeepChem.

Reads the first ``--n`` (10,000) SMILES of ``pretrain/moses_test.smi.gz`` under the shared data
folder (``$MOLSSL_SHARED_DATA``, default ``../shared/data`` beside the checkout) or ``--smiles``,
and prints molecules per second for:

- ``Chem.MolFromSmiles`` alone (the floor: every featurizer parses first),
- ``molssl`` ``MolGraphFeaturizer`` through ``featurize_many`` with 1 and 2 workers,
- DeepChem's ``MolGraphConvFeaturizer(use_edges=True)`` (skipped when deepchem is missing).

``--workers-table`` prints instead the throughput of the featurization engine by number of worker
processes (0: this process; 1 and 2 spawned workers, their start-up included), through both of
its public entry points: ``featurize_many`` (``workers=1`` is this process, ``2`` two workers)
and ``featurized_batches`` (inference: collated batches of 256, ``workers`` beside the consumer).
With ``--smiles`` it reads any file; RDKit's bundled ``NCI/first_5K.smi`` is the reference input.

Each timing is the best of ``--repeats`` runs. Wall time is what a user waits; CPU time of this
process (workers excluded) is also shown because on a shared machine it is far less noisy.

Usage::

    python benchmarks/featurize.py [--smiles FILE] [--n 10000] [--repeats 3]
    python benchmarks/featurize.py --workers-table --smiles $(python -c "import os, rdkit; \
        print(os.path.join(rdkit.RDConfig.RDDataDir, 'NCI', 'first_5K.smi'))") --n 5000
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from collections.abc import Callable
from pathlib import Path

from rdkit import Chem, rdBase

from molssl.featurize import MolGraphFeaturizer, featurize_many, featurized_batches

try:
    from benchmarks._shared import pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/featurize.py
    from _shared import pretrain_dir, run


def default_smiles_path() -> Path:
    """``moses_test.smi.gz`` of the shared data's ``pretrain/`` folder."""
    return pretrain_dir() / "moses_test.smi.gz"


def read_smiles(path: Path, n: int) -> list[str]:
    """First ``n`` SMILES (first column) of a ``.smi``/``.txt`` file, optionally gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[str] = []
    with opener(path, "rt") as handle:
        for line in handle:
            if line.strip():
                out.append(line.split()[0])
            if len(out) == n:
                break
    return out


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds of ``repeats`` calls."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def bare_parse(smiles: list[str]) -> list:
    with rdBase.BlockLogs():
        return [Chem.MolFromSmiles(s) for s in smiles]


def deepchem_featurize(smiles: list[str]) -> Callable[[], object] | None:
    try:
        from deepchem.feat import MolGraphConvFeaturizer
    except ImportError:
        return None
    featurizer = MolGraphConvFeaturizer(use_edges=True)
    return lambda: featurizer.featurize(smiles)


def workers_table(smiles: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall and CPU seconds of the engine by worker processes, through both entry points."""
    featurizer = MolGraphFeaturizer()

    def batches(workers: int) -> Callable[[], object]:
        return lambda: sum(1 for _ in featurized_batches(smiles, featurizer, workers=workers))

    rows: dict[str, tuple[float, float]] = {}
    for workers in (1, 2):
        label = "this process" if workers == 1 else "2 worker processes"
        rows[f"featurize_many workers={workers} ({label})"] = best_time(
            lambda w=workers: featurize_many(smiles, featurizer, workers=w), repeats
        )
    for workers in (0, 1, 2):
        rows[f"featurized_batches workers={workers}"] = best_time(batches(workers), repeats)
    return rows


def print_table(rows: dict[str, tuple[float, float]], n: int) -> None:
    """Markdown table of wall seconds, molecules per second and CPU seconds (this process)."""
    width = max(32, *(len(name) for name in rows))
    print(f"| {'method':<{width}} | {'wall s':>7} | {'mol/s (wall)':>12} | {'CPU s':>7} |")
    print(f"|{'-' * (width + 2)}|{'-' * 9}|{'-' * 14}|{'-' * 9}|")
    for name, (wall, cpu) in rows.items():
        print(f"| {name:<{width}} | {wall:7.2f} | {n / wall:12,.0f} | {cpu:7.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smiles", type=Path, default=None, help="SMILES file (.smi[.gz])")
    parser.add_argument("--n", type=int, default=10_000, help="number of SMILES (10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; best is kept")
    parser.add_argument("--deepchem-repeats", type=int, default=1, help="runs for DeepChem")
    parser.add_argument("--skip-deepchem", action="store_true", help="leave DeepChem out")
    parser.add_argument(
        "--workers-table", action="store_true", help="throughput by worker processes only"
    )
    args = parser.parse_args(argv)

    path = args.smiles or default_smiles_path()
    smiles = read_smiles(path, args.n)
    n = len(smiles)
    if args.workers_table:
        print(f"{n} SMILES from {path}; {os.cpu_count()} CPUs; best of {args.repeats} runs")
        print_table(workers_table(smiles, args.repeats), n)
        return
    featurizer = MolGraphFeaturizer()
    rows: dict[str, tuple[float, float]] = {}
    rows["bare Chem.MolFromSmiles"] = best_time(lambda: bare_parse(smiles), args.repeats)
    rows["molssl 1 worker"] = best_time(
        lambda: featurize_many(smiles, featurizer, workers=1), args.repeats
    )
    rows["molssl 2 workers"] = best_time(
        lambda: featurize_many(smiles, featurizer, workers=2), args.repeats
    )
    dc = None if args.skip_deepchem else deepchem_featurize(smiles)
    if dc is not None:
        rows["DeepChem MolGraphConvFeaturizer"] = best_time(dc, args.deepchem_repeats)

    print(f"{n} SMILES from {path}; {os.cpu_count()} CPUs; best of {args.repeats} runs")
    print_table(rows, n)
    bare_wall, bare_cpu = rows["bare Chem.MolFromSmiles"]
    ours_wall, ours_cpu = rows["molssl 1 worker"]
    print(
        f"\nmolssl 1 worker / bare parse time: {ours_wall / bare_wall:.2f}x wall, "
        f"{ours_cpu / bare_cpu:.2f}x CPU (target <= 1.5x)"
    )
    if dc is not None:
        dc_wall, _ = rows["DeepChem MolGraphConvFeaturizer"]
        print(f"molssl 1 worker speed / DeepChem speed: {dc_wall / ours_wall:.1f}x (target >= 3x)")
    else:
        print("DeepChem row skipped (--skip-deepchem, or deepchem is not installed)")


if __name__ == "__main__":
    run(main)
