"""Featurization speed: molssl's featurizer against a bare RDKit parse and DeepChem.

Reads the first ``--n`` (10,000) SMILES of ``pretrain/moses_test.smi.gz`` under the shared data
folder (``$MOLSSL_SHARED_DATA``, default ``../shared/data`` beside the checkout) or ``--smiles``,
and prints molecules per second for:

- ``Chem.MolFromSmiles`` alone (the floor: every featurizer parses first),
- ``molssl`` ``MolGraphFeaturizer`` through ``featurize_many`` with 1 and 2 workers,
- DeepChem's ``MolGraphConvFeaturizer(use_edges=True)`` (skipped when deepchem is missing).

Each timing is the best of ``--repeats`` runs. Wall time is what a user waits; CPU time of this
process (workers excluded) is also shown because on a shared machine it is far less noisy.

Usage::

    python benchmarks/featurize.py [--smiles FILE] [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from collections.abc import Callable
from pathlib import Path

from rdkit import Chem, rdBase

from molssl.featurize import MolGraphFeaturizer, featurize_many

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SMILES = Path("pretrain") / "moses_test.smi.gz"


def default_smiles_path() -> Path:
    """``$MOLSSL_SHARED_DATA/pretrain/moses_test.smi.gz`` or the same under ``../shared/data``."""
    root = os.environ.get("MOLSSL_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data"
    return Path(root) / DEFAULT_SMILES


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smiles", type=Path, default=None, help="SMILES file (.smi[.gz])")
    parser.add_argument("--n", type=int, default=10_000, help="number of SMILES (10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; best is kept")
    parser.add_argument("--deepchem-repeats", type=int, default=1, help="runs for DeepChem")
    parser.add_argument("--skip-deepchem", action="store_true", help="leave DeepChem out")
    args = parser.parse_args(argv)

    path = args.smiles or default_smiles_path()
    smiles = read_smiles(path, args.n)
    n = len(smiles)
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
    print(f"| {'method':<32} | {'wall s':>7} | {'mol/s (wall)':>12} | {'CPU s':>7} |")
    print(f"|{'-' * 34}|{'-' * 9}|{'-' * 14}|{'-' * 9}|")
    for name, (wall, cpu) in rows.items():
        print(f"| {name:<32} | {wall:7.2f} | {n / wall:12,.0f} | {cpu:7.2f} |")
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
    main()
