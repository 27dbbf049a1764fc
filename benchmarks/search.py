"""Default settings against searched ones, quick profile, 3 seeds.

For every task and method, two benchmark suites share the split and the seeds:

- ``defaults/``: the method's default settings (MolCLR's fine-tuning recipe; 100 trees for the
  random forest with scikit-learn's other defaults);
- ``searched/``: ``molssl benchmark --search N``: N Optuna trials (TPE, seeded) per task and
  method on the validation split, the best settings retrained on every seed.

Methods: ``random-init`` (MolCLR's GIN from random weights), ``ecfp-rf`` (ECFP4 + random
forest; its search covers trees, max features and min samples per leaf) and a pretrained
checkpoint (MolCLR's released GCN from the shared data, ``--pretrained`` to change it). Both
suites resume through their ``results.csv`` ledgers and the search through ``study.db``, so an
interrupted run continues where it stopped. The table (``search_table.md``) gives the mean and
standard deviation of the test metric over the seeds, the difference, and the summed wall time
of each search.

Usage::

    python benchmarks/search.py [--tasks bbbp,bace,esol,freesolv] [--trials 20] [--seeds 0,1,2]
        [--methods random-init,ecfp-rf,pretrained] [--pretrained molclr-gcn:PATH]
        [--out runs/search] [--epochs N] [--max-molecules N] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import pandas as pd
import torch

from molssl.benchmark.ledger import latest_ok, read_ledger
from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.finetune.study import load_search_record

try:
    from benchmarks._shared import checkpoints_dir, moleculenet_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/search.py
    from _shared import checkpoints_dir, moleculenet_dir, run

TASKS = ["bbbp", "bace", "esol", "freesolv"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default="random-init,ecfp-rf,pretrained")
    parser.add_argument(
        "--pretrained",
        default=None,
        help="weights of 'pretrained' (default molclr-gcn:<shared>/...)",
    )
    parser.add_argument("--trials", type=int, default=20, help="search trials per task/method")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    parser.add_argument(
        "--max-molecules",
        type=int,
        default=None,
        help="subsample every task to this many molecules (smoke runs)",
    )
    parser.add_argument(
        "--encoder", default=None, help="JSON EncoderConfig fields of random-init (smoke runs)"
    )
    parser.add_argument("--out", default="runs/search")
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return parser.parse_args()


def _methods(args: argparse.Namespace) -> list[str]:
    pretrained = args.pretrained or (f"molclr-gcn:{checkpoints_dir() / 'molclr_gcn.pth'}")
    named = {
        "random-init": "random-init",
        "ecfp-rf": "ecfp-rf",
        "pretrained": f"pretrained={pretrained}",
    }
    return [named.get(m.strip(), m.strip()) for m in args.methods.split(",") if m.strip()]


def _summary(out: Path) -> pd.DataFrame:
    rows = []
    for kind in ("defaults", "searched"):
        frame = latest_ok(read_ledger(out / kind / "results.csv"))
        for (task, method), group in frame.groupby(["task", "method"]):
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "settings": kind,
                    "metric": group["metric"].iloc[0],
                    "mean": group["value"].mean(),
                    "std": group["value"].std(ddof=1),
                    "seeds": len(group),
                }
            )
    return pd.DataFrame(rows)


def write_table(out: Path) -> Path:
    """``search_table.md``: defaults vs searched per task and method, with search wall time."""
    summary = _summary(out)
    record = load_search_record(out / "searched")["tasks"]
    lines = [
        "| task | method | metric | defaults | searched | searched - defaults | trials | search time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if summary.empty:
        path = out / "search_table.md"
        path.write_text("\n".join(lines) + "\n")
        return path
    for (task, method), group in summary.groupby(["task", "method"], sort=False):
        by = {r.settings: r for r in group.itertuples()}
        cells = []
        for kind in ("defaults", "searched"):
            r = by.get(kind)
            cells.append("" if r is None else f"{r.mean:.3f} ± {r.std:.3f} (n={r.seeds})")
        change = (
            f"{by['searched'].mean - by['defaults'].mean:+.3f}"
            if {"defaults", "searched"} <= set(by)
            else ""
        )
        entry = record.get(task, {}).get(method, {})
        trials = entry.get("n_trials", "")
        seconds = entry.get("search_seconds")
        wall = (
            ""
            if seconds is None
            else f"{seconds:.0f} s"
            if seconds < 120
            else f"{seconds / 60:.1f} min"
        )
        lines.append(
            f"| {task} | {method} | {group['metric'].iloc[0]} | {cells[0]} | "
            f"{cells[1]} | {change} | {trials} | {wall} |"
        )
    lines += [
        "",
        "Test metric, mean ± standard deviation over the seeds (ROC-AUC: higher is better; "
        "RMSE/MAE: lower is better). Search time: summed wall time of the trials.",
    ]
    path = out / "search_table.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    overrides: dict = {}
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.max_molecules:
        overrides["max_molecules"] = args.max_molecules
    if args.encoder:
        overrides["encoder"] = json.loads(args.encoder)
    common = dict(
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()],
        methods=_methods(args),
        seeds=[int(s) for s in args.seeds.split(",")],
        profile=args.profile,
        data_dir=args.data_dir or str(moleculenet_dir()),
        device=args.device,
        finetune=overrides,
    )
    start = time.perf_counter()
    for kind, trials in (("defaults", 0), ("searched", args.trials)):
        result = benchmark(BenchmarkConfig(**common, out_dir=str(out / kind), search=trials))
        print(f"{kind}: {result.ran} cells run, {result.skipped} skipped, {result.failed} failed")
    minutes = (time.perf_counter() - start) / 60
    table = write_table(out)
    print(table.read_text())
    print(
        f"wall time of this call: {minutes:.1f} min ({args.threads} torch thread(s)); table {table}"
    )


if __name__ == "__main__":
    run(main)
