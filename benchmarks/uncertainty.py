"""Uncertainty users can check: conformal coverage and ensemble spread.

For ESOL, FreeSolv and Lipophilicity (scaffold split, quick profile) and each of 3 seeds, an
ensemble of ``--members`` fine-tuning runs is trained with ``--conformal 0.9`` exactly as
``molssl finetune --ensemble M --conformal 0.9`` does (members seeded ``100 * seed + i``), and
on the test split we measure:

- the empirical coverage and mean width of the 90% split-conformal intervals of one model
  (member 0) and of the ensemble mean, both calibrated on the validation split;
- the Spearman rank correlation between the ensemble's standard deviation and the absolute
  error of its mean (does the spread rank the molecules by how wrong they are?);
- the ensemble mean's test RMSE.

The scaffold split puts unseen scaffolds in the test split, and the best epoch is chosen on the
same validation split that calibrates, so coverage below 0.90 measures how far exchangeability
fails. Each (task, seed) is one row of ``results.csv`` (a locked, resumable ledger); the models
stay under ``runs/`` in ``--out`` (an interrupted ensemble resumes its member). The table is
written to ``uncertainty_table.md``.

Usage::

    python benchmarks/uncertainty.py [--tasks esol,freesolv,lipophilicity] [--seeds 0,1,2]
        [--members 3] [--confidence 0.9] [--init random] [--profile quick] [--epochs N]
        [--max-molecules N] [--encoder JSON] [--out runs/uncertainty] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from molssl.contrastive.io.ledger import ResultsLedger
from molssl.finetune import FinetuneConfig, config_hash, load_task, task_split
from molssl.finetune.ensemble import finetune_ensemble, member_dir
from molssl.models.pretrained import load_pretrained

try:
    from benchmarks._shared import moleculenet_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/uncertainty.py
    from _shared import moleculenet_dir, run

TASKS = ["esol", "freesolv", "lipophilicity"]
COLUMNS = (
    "task",
    "seed",
    "members",
    "confidence",
    "coverage_single",
    "width_single",
    "coverage_ensemble",
    "width_ensemble",
    "spearman_std_error",
    "rmse_ensemble",
    "n_valid",
    "n_test",
    "seconds",
    "config_hash",
    "status",
    "error",
    "finished_at",
)
KEYS = ("task", "seed", "config_hash")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--members", type=int, default=3, help="ensemble members per seed")
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument("--init", default="random", help="weights: random, ckpt:PATH, ...")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    parser.add_argument(
        "--max-molecules",
        type=int,
        default=None,
        help="subsample every task to this many molecules (smoke runs)",
    )
    parser.add_argument("--encoder", default=None, help="JSON EncoderConfig fields (random)")
    parser.add_argument("--out", default="runs/uncertainty")
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    return parser.parse_args()


def _hash(cfg: FinetuneConfig, members: int, *, portable: bool = True) -> str:
    """A row's identity; files named by content (as benchmark cells), so the committed ledger
    resumes where the data lives elsewhere (``portable=False``: the older, path-based one)."""
    blob = json.dumps([config_hash(cfg, portable=portable), cfg.conformal, members], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def measure(cfg: FinetuneConfig, members: int) -> dict:
    """Train (or resume) one ensemble and measure its uncertainty on the test split."""
    ensemble = finetune_ensemble(cfg, members)
    task = load_task(cfg, load_pretrained(cfg.init, cfg.dropout, cfg.encoder).featurizer)
    _, valid_idx, test_idx = task_split(task, cfg.split, cfg.split_sizes, cfg.split_seed)
    names = list(task.target_names)
    preds = np.stack(
        [
            pd.read_csv(member_dir(cfg.out_dir, i) / "test_predictions.csv")[names].to_numpy(
                dtype=np.float64
            )
            for i in range(members)
        ]
    )
    y = task.targets[test_idx].astype(np.float64)
    mean, std = preds.mean(0), preds.std(0)
    known = ~np.isnan(y)
    error = np.abs(mean - y)
    single = ensemble.members[0].conformal
    both = ensemble.conformal
    first = names[0]
    return {
        "coverage_single": single["coverage"],
        "width_single": single["per_target"][first]["width"],
        "coverage_ensemble": both["coverage"],
        "width_ensemble": both["per_target"][first]["width"],
        "spearman_std_error": float(spearmanr(std[known], error[known]).statistic),
        "rmse_ensemble": float(np.sqrt(np.mean((mean - y)[known] ** 2))),
        "n_valid": len(valid_idx),
        "n_test": len(test_idx),
        # training time of the members, earlier interrupted calls included
        "seconds": sum(member.seconds for member in ensemble.members),
    }


def ok_rows(ledger: ResultsLedger) -> list[dict[str, str]]:
    """The ledger's finished rows (failed ones are tried again)."""
    return [r for r in ledger.rows() if r["status"] == "ok"]


def write_table(out: Path, ledger: ResultsLedger) -> Path:
    """``uncertainty_table.md``: mean ± sd over seeds per task."""
    frame = pd.DataFrame(ledger.rows(), columns=list(COLUMNS))
    lines = [
        "| task | seeds | members | coverage, 1 model | width, 1 model | coverage, ensemble "
        "| width, ensemble | Spearman(std, abs error) | ensemble RMSE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    done = frame[frame["status"] == "ok"]
    for task, group in done.groupby("task", sort=False):
        group = group.drop_duplicates(["seed"], keep="last")

        def cell(column: str, group: pd.DataFrame = group) -> str:
            values = pd.to_numeric(group[column]).to_numpy()
            spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
            return f"{values.mean():.3f}{spread}"

        lines.append(
            f"| {task} | {len(group)} | {group['members'].iloc[0]} | "
            f"{cell('coverage_single')} | {cell('width_single')} | "
            f"{cell('coverage_ensemble')} | {cell('width_ensemble')} | "
            f"{cell('spearman_std_error')} | {cell('rmse_ensemble')} |"
        )
    confidence = done["confidence"].iloc[0] if not done.empty else "?"
    lines += [
        "",
        f"Target coverage {confidence}; widths in the target's units (log mol/L, "
        "kcal/mol, logD); mean ± sd over seeds.",
    ]
    path = out / "uncertainty_table.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    ledger = ResultsLedger(out / "results.csv", COLUMNS, KEYS)
    data_dir = args.data_dir or str(moleculenet_dir())
    encoder = json.loads(args.encoder) if args.encoder else {}
    start = time.perf_counter()
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            cfg = FinetuneConfig(
                task=task,
                data_dir=data_dir,
                init=args.init,
                encoder=encoder,
                seed=100 * seed,
                profile=args.profile,
                epochs=args.epochs,
                max_molecules=args.max_molecules,
                device=args.device,
                conformal=args.confidence,
                resume=True,
                out_dir=str(out / "runs" / f"{task}-{seed}"),
            )
            key = _hash(cfg, args.members)
            former = _hash(cfg, args.members, portable=False)  # rows of older versions
            if former != key:
                ledger.relabel((task, seed, former), config_hash=key)
            if (task, str(seed), key) in ledger.keys(ok_rows(ledger)):
                print(f"{task} seed {seed}: done, skipped")
                continue
            row = {
                "task": task,
                "seed": seed,
                "members": args.members,
                "confidence": args.confidence,
                "config_hash": key,
            }
            try:
                row.update(measure(cfg, args.members), status="ok", error="")
            except Exception as err:  # one failing cell is recorded; the rest still run
                logging.exception("%s seed %d failed", task, seed)
                row.update(status="failed", error=f"{type(err).__name__}: {err}"[:500])
            row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            ledger.append(row)
            print({k: row.get(k) for k in COLUMNS if k not in ("error", "finished_at")})
    table = write_table(out, ledger)
    print(table.read_text())
    print(
        f"wall time of this call: {(time.perf_counter() - start) / 60:.1f} min "
        f"({args.threads} torch thread(s)); rows in {ledger.path}"
    )


if __name__ == "__main__":
    run(main)
