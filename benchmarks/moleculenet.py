"""The measured MoleculeNet comparison of the benchmark issue (quick profile, 3 seeds).

Runs ``molssl.benchmark`` on BBBP, BACE, ClinTox, SIDER, Tox21, ESOL, FreeSolv and Lipophilicity
with the methods

- ``random-init``: MolCLR's 5-layer GIN from random weights, same fine-tuning protocol;
- ``ecfp-rf``: ECFP4 (2048 bits) + random forest;
- ``molclr-gcn``: MolCLR's released GCN weights (``checkpoints/molclr_gcn.pth`` of the shared
  data);
- ``ours``: a GIN pretrained with ``molssl pretrain`` (``--ckpt PATH``; skipped when not given).

Outputs (``results.csv``, ``summary.md``, ``summary.png``) go to ``--out``; a rerun resumes, and
the wall time is printed at the end so that the full run can be planned. The ``quick`` profile
trains 15 epochs and caps datasets above 4,000 molecules (Tox21 here) at 4,000; MolCLR's
published numbers use 100 epochs and far larger pretraining (10M PubChem molecules).

Usage::

    python benchmarks/moleculenet.py [--ckpt runs/pretrain/best.pt] [--tasks bbbp,esol]
        [--seeds 0,1,2] [--methods random-init,ecfp-rf,molclr-gcn] [--out runs/moleculenet]
        [--threads 1] [--profile quick] [--epochs N]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import torch

from molssl.benchmark.runner import BenchmarkConfig, benchmark

TASKS = ["bbbp", "bace", "clintox", "sider", "tox21", "esol", "freesolv", "lipophilicity"]
MOLCLR_PUBLISHED = {
    "BBBP": 73.6, "Tox21": 79.8, "ClinTox": 93.2, "HIV": 80.6, "BACE": 89.0, "SIDER": 68.0,
    "MUV": 88.6, "FreeSolv": 2.20, "ESOL": 1.11, "Lipophilicity": 0.65, "QM7": 87.2,
    "QM8": 0.0174, "QM9": 2.357,
}  # fmt: skip
"""MolCLR (Wang et al., 2022, Table 1/2): ROC-AUC x 100 for classification, RMSE/MAE otherwise."""


def shared_data_dir() -> Path:
    root = os.environ.get("MOLSSL_SHARED_DATA")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "data"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", default=None, help="molssl pretraining checkpoint ('ours')")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="random-init,ecfp-rf,molclr-gcn",
                        help="subset of random-init, ecfp-rf, molclr-gcn (ours added by --ckpt)")  # fmt: skip
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--out", default="runs/moleculenet")
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--molclr-gcn", default=None, help="default: <shared>/checkpoints/...")
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    shared = shared_data_dir()
    gcn = args.molclr_gcn or str(shared / "checkpoints" / "molclr_gcn.pth")
    specs = {
        "random-init": "random-init",
        "ecfp-rf": "ecfp-rf",
        "molclr-gcn": f"molclr-gcn=molclr-gcn:{gcn}",
    }
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    methods = [specs[m] if m in specs else m for m in chosen]
    if args.ckpt:
        methods.append(f"ours=ckpt:{args.ckpt}")
    cfg = BenchmarkConfig(
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()],
        methods=methods,
        seeds=[int(s) for s in args.seeds.split(",")],
        profile=args.profile,
        out_dir=args.out,
        data_dir=args.data_dir or str(shared / "moleculenet"),
        device=args.device,
        finetune={"epochs": args.epochs} if args.epochs else {},
    )
    start = time.perf_counter()
    result = benchmark(cfg)
    minutes = (time.perf_counter() - start) / 60
    print(f"{result.ran} cells run, {result.skipped} skipped, {result.failed} failed "
          f"in {minutes:.1f} min ({args.threads} torch thread(s), device {args.device})")  # fmt: skip
    print(f"table: {result.summary_md}\nplot:  {result.summary_png}\nrows:  {result.results_csv}")
    print("MolCLR published (ROC-AUC x100 / RMSE / MAE):",
          {k: v for k, v in MOLCLR_PUBLISHED.items() if k.lower() in cfg.tasks})  # fmt: skip


if __name__ == "__main__":
    main()
