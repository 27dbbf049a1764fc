"""The measured MoleculeNet comparison: all 14 tasks, six methods, 3 seeds, a committed ledger.

Methods (``--methods``, default all six):

- ``random-init``: MolCLR's 5-layer GIN from random weights, same fine-tuning protocol;
- ``ecfp-rf``: ECFP4 (2048 bits) + class-balanced random forest (the profile's trees);
- ``chemprop``: chemprop v2's D-MPNN from scratch, its own defaults, same split and epochs;
- ``molclr-gcn``: MolCLR's released GCN weights (``checkpoints/molclr_gcn.pth`` of the shared
  data);
- ``ours-molclr`` / ``ours-imolclr``: our GIN pretrained with the MolCLR / iMolCLR objective on
  the same corpus and budget (``--ckpt-molclr`` / ``--ckpt-imolclr``; by default the 1M
  molecule-pass snapshots of ``benchmarks/budget_curve.py``, a copy placed in
  ``benchmarks/snapshots/`` where there is one). Skipped, with a message, when the checkpoint
  does not exist.

The ledger (``results.csv`` + ``protocol.json``, then ``summary.md`` / ``summary.png``) goes to a
folder committed under ``benchmarks/ledgers/`` (``--out``), so a later run on another machine
resumes it: finished cells are skipped, and several processes may share it (each cell is
claimed). Checkpoint paths are kept relative, so run from the repository root. A folder made
under another protocol (other files, split, epochs...) is refused, never mixed.

Modes:

- default: the quick profile (15 epochs, tasks above 4,000 molecules subsampled to 4,000) on all
  14 tasks, ledger ``benchmarks/ledgers/moleculenet_quick``;
- ``--full-protocol``: MolCLR's protocol (100 epochs, every molecule, best validation epoch,
  and one model per target as the authors' ``finetune.py`` trains ClinTox's 2 and SIDER's 27
  targets: ``protocol: molclr``) for MolCLR's released GCN on BBBP, BACE, ESOL, FreeSolv,
  Lipophilicity, ClinTox and SIDER, ledger ``benchmarks/ledgers/moleculenet_full_molclr_gcn``.
  Each cell's run folder is kept under its ``cells/`` (``keep_cells``; a few hundred kB of
  text, weights left out by ``.gitignore``): commit it with the ledger, and a SIDER cell (27
  models, hours on one thread) that was interrupted resumes after its last
  finished target on any machine;
- ``--smoke``: a tiny run (2 tasks, 1 seed, 1 epoch, 300 molecules, 5 trees) into /tmp, to
  check the script and its resume in minutes.

Usage::

    python benchmarks/moleculenet.py                       # quick, 14 tasks x 6 methods x 3 seeds
    python benchmarks/moleculenet.py --tasks hiv,muv --methods chemprop   # one part of it
    python benchmarks/moleculenet.py --full-protocol
    python benchmarks/moleculenet.py --smoke
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from molssl.benchmark.runner import BenchmarkConfig, benchmark

try:
    from benchmarks._shared import checkpoints_dir, moleculenet_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/moleculenet.py
    from _shared import checkpoints_dir, moleculenet_dir, run

ALL_TASKS = [
    "bbbp",
    "tox21",
    "toxcast",
    "sider",
    "clintox",
    "muv",
    "hiv",
    "bace",
    "freesolv",
    "esol",
    "lipophilicity",
    "qm7",
    "qm8",
    "qm9",
]
FULL_TASKS = ["bbbp", "bace", "esol", "freesolv", "lipophilicity", "clintox", "sider"]
"""In run order: the single-target tasks first; SIDER's 27 per-target models last."""
METHODS = ["random-init", "ecfp-rf", "chemprop", "molclr-gcn", "ours-molclr", "ours-imolclr"]
MOLCLR_PUBLISHED = {
    "BBBP": 73.6,
    "Tox21": 79.8,
    "SIDER": 68.0,
    "ClinTox": 93.2,
    "MUV": 88.6,
    "HIV": 80.6,
    "BACE": 89.0,
    "FreeSolv": 2.20,
    "ESOL": 1.11,
    "Lipophilicity": 0.65,
    "QM7": 87.2,
    "QM8": 0.0174,
    "QM9": 2.357,
}
"""MolCLR (Wang et al., 2022, Tables 1-2): ROC-AUC x 100 for classification, RMSE/MAE otherwise
(MolCLR reports no ToxCast figure)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=None, help="default: all 14 (7 with --full-protocol)")
    parser.add_argument("--methods", default=None, help=f"subset of {','.join(METHODS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=None, help="ledger folder (default: see Modes)")
    parser.add_argument(
        "--full-protocol",
        action="store_true",
        help="100 epochs, no subsampling, MolCLR's GCN on 7 tasks",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes into /tmp")
    parser.add_argument("--ckpt-molclr", default=None, help="default: the 1M-pass snapshot")
    parser.add_argument("--ckpt-imolclr", default=None, help="default: the 1M-pass snapshot")
    parser.add_argument("--molclr-gcn", default=None, help="default: <shared>/checkpoints/...")
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return parser.parse_args()


def snapshot(objective: str, passes: int = 1_000_448) -> str:
    """The budget curve's snapshot: the committed copy where there is one, else the run's."""
    committed = Path("benchmarks/snapshots") / f"{objective}_passes_{passes}.pt"
    if committed.is_file():
        return str(committed)
    return f"runs/budget_curve/{objective}/snapshots/passes_{passes}.pt"


def method_specs(args: argparse.Namespace) -> list[str]:
    default = ["molclr-gcn"] if args.full_protocol else METHODS
    chosen = [m.strip() for m in (args.methods or ",".join(default)).split(",") if m.strip()]
    gcn = args.molclr_gcn or (
        str(checkpoints_dir() / "molclr_gcn.pth") if "molclr-gcn" in chosen else ""
    )
    ours = {o: getattr(args, f"ckpt_{o}") or snapshot(o) for o in ("molclr", "imolclr")}
    specs = {
        "random-init": "random-init",
        "ecfp-rf": "ecfp-rf",
        "chemprop": "chemprop",
        "molclr-gcn": f"molclr-gcn=molclr-gcn:{gcn}",
        "ours-molclr": f"ours-molclr=ckpt:{ours['molclr']}",
        "ours-imolclr": f"ours-imolclr=ckpt:{ours['imolclr']}",
    }
    methods = []
    for name in chosen:
        if name not in specs:
            raise SystemExit(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
        path = specs[name].split(":", 1)[1] if ":" in specs[name] else None
        if path and not Path(path).is_file():
            print(
                f"skipping {name}: {path} does not exist (ours-* checkpoints come from "
                "`python benchmarks/budget_curve.py`; or pass --ckpt-molclr/--ckpt-imolclr)"
            )
            continue
        methods.append(specs[name])
    return methods


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    tasks = args.tasks or ",".join(FULL_TASKS if args.full_protocol else ALL_TASKS)
    finetune: dict = {}
    extra: dict = {}
    if args.full_protocol:
        out, profile = "benchmarks/ledgers/moleculenet_full_molclr_gcn", "full"
        finetune = {"protocol": "molclr"}
        extra = {"keep_cells": True}  # SIDER's 27 models resume target by target
    else:
        out, profile = "benchmarks/ledgers/moleculenet_quick", "quick"
    if args.smoke:
        out = "/tmp/moleculenet_smoke/" + ("full" if args.full_protocol else "quick")
        tasks = args.tasks or "bbbp,esol"
        args.seeds = "0"
        finetune = {**finetune, "epochs": 1, "max_molecules": 300}
        extra = {**extra, "rf_estimators": 5}
    methods = method_specs(args)
    if not methods:
        raise SystemExit(
            "moleculenet.py: no method left to run (see the lines above); pretrain "
            "the checkpoints first or choose other --methods"
        )
    cfg = BenchmarkConfig(
        tasks=[t.strip() for t in tasks.split(",") if t.strip()],
        methods=methods,
        seeds=[int(s) for s in args.seeds.split(",")],
        profile=profile,
        out_dir=args.out or out,
        data_dir=args.data_dir or str(moleculenet_dir()),
        device=args.device,
        finetune=finetune,
        **extra,
    )
    start = time.perf_counter()
    result = benchmark(cfg)
    minutes = (time.perf_counter() - start) / 60
    print(
        f"{result.ran} cells run, {result.skipped} skipped, {result.failed} failed "
        f"in {minutes:.1f} min ({args.threads} torch thread(s), device {args.device})"
    )
    print(f"table: {result.summary_md}\nplot:  {result.summary_png}\nrows:  {result.results_csv}")
    names = {t.lower() for t in cfg.tasks}
    print(
        "MolCLR published (ROC-AUC x100 / RMSE / MAE):",
        {k: v for k, v in MOLCLR_PUBLISHED.items() if k.lower() in names},
    )


if __name__ == "__main__":
    run(main)
