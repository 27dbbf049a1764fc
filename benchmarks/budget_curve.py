"""The pretraining-budget curve: does more pretraining compute pay downstream?

For the MolCLR and the iMolCLR objectives, pretrains the default GIN on MOSES with
``molssl pretrain --max-steps`` up to each budget (molecule-passes = steps x batch size: by
default 0, 10k, 100k and 1M, rounded up to whole batches) and fine-tunes every snapshot on BBBP,
BACE, SIDER, ESOL and Lipophilicity (quick profile, 3 seeds). Budget 0 is the random-init GIN.
Writes the table (``budget_curve.md``, ``budget_curve.csv``) and the plot (``budget_curve.png``):
average ROC-AUC over the classification tasks and average RMSE over the regression tasks
against the budget, one line per objective, for every objective and budget in the ledger; each
objective averages the same tasks at all of its budgets.

Everything resumes. The budgets of one objective are one pretraining run: it is continued with
``--resume`` from one budget to the next (resume is exact) and the weights of ``last.pt`` are
saved to ``snapshots/passes_N.pt`` at each budget (no optimizer state, a third of the size), so
each budget costs only its increment and a finished snapshot is never recomputed. A snapshot
copied into ``benchmarks/snapshots/OBJECTIVE_passes_N.pt`` (ignored by git) is used where the run folder has none
(the runs folder is not in git; a new machine would otherwise pretrain for hours again), and a
budget whose cells the ledger has already finished on every task and seed needs no snapshot at
all: it is not pretrained again (``--force-snapshots`` pretrains it anyway). All budgets stay inside MolCLR's 10 warm-up epochs at
constant learning rate, as MolCLR's own run does at these budgets. The downstream cells go
through ``molssl benchmark``'s ledger (``results.csv`` + ``protocol.json`` in ``--ledger``),
which skips finished cells; checkpoints are named by paths relative to the working directory,
so run it from the repository root on every machine.

The BYOL and MoCo objectives (``--objectives molclr,imolclr,byol,moco``) put the
comparison of the four objectives on the same corpus, budget and ledger.

Usage (full run, from the repository root)::

    python benchmarks/budget_curve.py                     # all budgets, both objectives
    python benchmarks/budget_curve.py --smoke             # a tiny run (minutes) to check it

The MOSES corpus is ``$MOLSSL_SHARED_DATA/pretrain/moses_train.smi.gz`` (1.58M SMILES; its
graph store is built once into ``--work``/store, about 15 min with 2 workers).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

try:
    from benchmarks._shared import moleculenet_dir, pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/budget_curve.py
    from _shared import moleculenet_dir, pretrain_dir, run

CONFIGS = {
    "molclr": "configs/molclr_gin.yaml",
    "imolclr": "configs/imolclr_gin.yaml",
    "byol": "configs/byol_gin.yaml",
    "moco": "configs/moco_gin.yaml",
}
TASKS = ["bbbp", "bace", "sider", "esol", "lipophilicity"]
COMMITTED = Path("benchmarks/snapshots")
"""Snapshots kept in git (relative to the repository root, like every checkpoint path here)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", default="0,10000,100000,1000000",
                        help="molecule-passes, comma-separated (0 = random init)")  # fmt: skip
    parser.add_argument("--objectives", default="molclr,imolclr",
                        help=f"comma-separated, of {','.join(CONFIGS)}")  # fmt: skip
    parser.add_argument("--pretrain-only", action="store_true",
                        help="write the snapshots and stop (fine-tune later, other budgets)")  # fmt: skip
    parser.add_argument("--force-snapshots", action="store_true",
                        help="pretrain a budget even when the ledger has all of its cells")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--corpus", default=None, help="default: MOSES train (shared data)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs override")
    parser.add_argument("--max-molecules", type=int, default=None,
                        help="subsample each task to this many molecules (smoke runs)")  # fmt: skip
    parser.add_argument("--work", default="runs/budget_curve", help="pretraining runs")
    parser.add_argument("--ledger", default="benchmarks/ledgers/budget_curve",
                        help="results.csv + protocol.json + table + plot (committed)")  # fmt: skip
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--workers", type=int, default=2, help="featurization processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes: RDKit's 5k corpus, budgets 0,1024,4096 at batch 128, "
                             "BBBP + ESOL, seed 0, 1 epoch, 300 molecules, into /tmp")  # fmt: skip
    args = parser.parse_args()
    if args.smoke:
        args.budgets, args.batch_size, args.tasks, args.seeds = "0,1024,4096", 128, "bbbp,esol", "0"
        args.epochs, args.max_molecules = args.epochs or 1, args.max_molecules or 300
        args.work, args.ledger = "/tmp/budget_curve_smoke/work", "/tmp/budget_curve_smoke/ledger"
        args.corpus = args.corpus or "rdkit"
    return args


def steps_for(passes: int, batch: int) -> int:
    return -(-passes // batch)


def finished_labels(ledger_dir: Path, tasks: list[str], seeds: list[int]) -> set[str]:
    """Methods of the ledger with an ``ok`` row for every one of ``tasks`` x ``seeds``."""
    from molssl.benchmark.ledger import latest_ok, read_ledger
    from molssl.data.registry import get_dataset_spec

    path = ledger_dir / "results.csv"
    if not path.is_file():
        return set()
    ok = latest_ok(read_ledger(path))
    wanted = {(get_dataset_spec(task).name, seed) for task in tasks for seed in seeds}
    cells = {(str(r.method), str(r.task), int(r.seed)) for r in ok.itertuples(index=False)}
    return {m for m in {c[0] for c in cells}
            if all((m, task, seed) in cells for task, seed in wanted)}  # fmt: skip


def save_snapshot(last: Path, snap: Path) -> None:
    """``snap``: the weights, config and metadata of the checkpoint ``last``, without the
    optimizer, scheduler, RNG and loop state that only resuming needs (about a third of the
    size; fine-tuning reads the same ``state_dict``)."""
    import torch

    from molssl.contrastive.io.atomic import atomic_open
    from molssl.contrastive.io.checkpoint import load_checkpoint

    ckpt = load_checkpoint(last)
    ckpt.update(optimizer=None, scheduler=None, rng=None, trainer=None)
    snap.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(snap, "wb") as handle:
        torch.save(ckpt, handle)


def pretrain_snapshots(objective: str, budgets: list[int], args, log,
                       finished: frozenset[str] = frozenset()) -> dict[int, Path]:  # fmt: skip
    """Continue one run from budget to budget; a snapshot per budget (existing ones kept).

    A budget without a snapshot in the run folder takes the committed one
    (:data:`COMMITTED`) when there is one, and is left out (no pretraining, no entry in the
    result) when its method label ``OBJECTIVE-PASSES`` is in ``finished`` (the ledger holds all
    of its cells) unless ``args.force_snapshots``.
    """
    import torch

    run = Path(args.work) / objective
    snaps = run / "snapshots"
    out: dict[int, Path] = {}
    for budget in sorted(b for b in budgets if b > 0):
        steps = steps_for(budget, args.batch_size)
        passes = steps * args.batch_size
        snap = snaps / f"passes_{passes}.pt"
        committed = COMMITTED / f"{objective}_passes_{passes}.pt"
        if snap.is_file():
            log(f"{objective}: snapshot {snap} exists")
            out[budget] = snap
            continue
        if committed.is_file():
            log(f"{objective}: snapshot {committed} (committed)")
            out[budget] = committed
            continue
        if f"{objective}-{passes}" in finished and not getattr(args, "force_snapshots", False):
            log(f"{objective}: every cell of {passes:,} passes is in the ledger; not pretrained "
                "again (--force-snapshots to write its snapshot anyway)")  # fmt: skip
            continue
        out[budget] = snap
        corpus = (
            []
            if args.corpus == "rdkit"
            else ["--data", str(args.corpus or pretrain_dir() / "moses_train.smi.gz")]
        )
        cmd = [sys.executable, "-m", "molssl", "pretrain", "--config", CONFIGS[objective],
               *corpus, "--out", str(run), "--batch-size", str(args.batch_size),
               "--max-steps", str(steps), "--resume", "--workers", "0",
               "--set", f"data.store={Path(args.work) / 'store'}",
               "--set", f"data.featurize_workers={args.workers}",
               # last.pt every 50 steps: a run killed between epochs (an epoch is 2,940 steps)
               # loses minutes, not hours; resume is exact, so the weights do not change
               "--set", "trainer.checkpoint_every_steps=50"]  # fmt: skip
        if args.device != "auto":
            cmd += ["--device", args.device]
        start = time.perf_counter()
        log(f"{objective}: pretraining to step {steps} ({steps * args.batch_size:,} passes)")
        rc = subprocess.run(cmd).returncode
        if rc:  # 130 / 143: SIGINT / SIGTERM stopped it after a checkpoint
            sys.exit(f"budget_curve.py: `molssl pretrain` into {run} exited with status {rc} "
                     "(130 or 143: interrupted); run the same command again to resume it")  # fmt: skip
        reached = torch.load(run / "last.pt", map_location="cpu", weights_only=True)["step"]
        if reached != steps:  # a finished run short of its budget is no snapshot either
            sys.exit(f"budget_curve.py: {run / 'last.pt'} is at step {reached}, not {steps} "
                     "(the run was interrupted); run the same command again to resume it")  # fmt: skip
        save_snapshot(run / "last.pt", snap)
        log(f"{objective}: {snap} after {(time.perf_counter() - start) / 60:.1f} min")
    return out


def curve_table(ledger_dir: Path):
    """Average ROC-AUC (classification) and RMSE (regression) per objective and budget, for
    every objective and budget in the ledger (not only this call's), so a partial call
    (``--objectives molclr``) never shrinks the table.

    Each objective averages the same tasks at every budget, budget 0 included: the tasks that
    all of its budgets have finished (BYOL and MoCo, run on four tasks, average those four at
    budget 0 too), so a curve never moves because a task joined it.
    """
    import pandas as pd

    from molssl.benchmark.ledger import latest_ok, read_ledger
    from molssl.benchmark.stats import summarize

    ledger = read_ledger(ledger_dir / "results.csv")
    summary, ok = summarize(ledger), latest_ok(ledger)
    budgets: dict[str, dict[int, str]] = {}
    for label in dict.fromkeys(summary["method"]):
        objective, _, passes = str(label).rpartition("-")
        if objective in CONFIGS and passes.isdigit():
            budgets.setdefault(objective, {})[int(passes)] = label
    rows = []
    for objective, labels in budgets.items():
        if "budget-0" in set(summary["method"]):
            labels = {0: "budget-0", **labels}
        for metric in ("roc_auc", "rmse"):
            part = summary[(summary["metric"] == metric) & summary["mean"].notna()]
            tasks = [set(part[part["method"] == label]["task"]) for label in labels.values()]
            shared = set.intersection(*tasks) if tasks else set()
            if not shared:
                continue
            for passes, label in sorted(labels.items()):
                mine = part[(part["method"] == label) & part["task"].isin(shared)]
                seeds = ok[(ok["method"] == label) & ok["task"].isin(shared)]["seed"].nunique()
                rows.append({"objective": objective, "passes": passes, "metric": metric,
                             "average": float(mine["mean"].mean()), "tasks": len(shared),
                             "seeds": int(seeds)})  # fmt: skip
    columns = ["objective", "passes", "metric", "average", "tasks", "seeds"]
    return pd.DataFrame(rows, columns=columns).sort_values(["metric", "objective", "passes"])


def markdown(table) -> str:
    header = "| objective | molecule-passes | metric | average | tasks | seeds |\n|---|---|---|---|---|---|\n"
    return header + "".join(
        f"| {r.objective} | {r.passes:,} | {r.metric} | {r.average:.3f} | {r.tasks} | {r.seeds} |\n"
        for r in table.itertuples()
    )


def plot(table, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(axes, ("roc_auc", "rmse"),
                                 ("average ROC-AUC, classification tasks ↑",
                                  "average RMSE, regression tasks ↓"), strict=True):  # fmt: skip
        part = table[table["metric"] == metric]
        for objective, rows in part.groupby("objective"):
            rows = rows.sort_values("passes")
            tasks = int(rows["tasks"].iloc[0])  # the same at every budget of an objective
            ax.plot(rows["passes"].clip(lower=1), rows["average"], "o-",
                    label=f"{objective} ({tasks} task{'s' * (tasks != 1)})")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("pretraining molecule-passes (budget 0 plotted at 1)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=120)


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    from molssl.benchmark.runner import BenchmarkConfig, benchmark

    torch.set_num_threads(args.threads)
    log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    start = time.perf_counter()
    budgets = [int(b) for b in args.budgets.split(",")]
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    unknown = sorted(set(objectives) - set(CONFIGS))
    if unknown:
        sys.exit(f"budget_curve.py: unknown objective(s) {unknown} in --objectives; "
                 f"choose from {sorted(CONFIGS)}")  # fmt: skip
    methods = ["budget-0=random-init"] if 0 in budgets else []
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    finished = frozenset(finished_labels(Path(args.ledger), tasks, seeds))
    for objective in objectives:
        for budget, snap in pretrain_snapshots(objective, budgets, args, log, finished).items():
            passes = steps_for(budget, args.batch_size) * args.batch_size
            methods.append(f"{objective}-{passes}=ckpt:{snap}")
    if args.pretrain_only:
        log(f"snapshots written; {(time.perf_counter() - start) / 60:.1f} min in all")
        return
    finetune = {k: v for k, v in (("epochs", args.epochs), ("max_molecules", args.max_molecules))
                if v is not None}  # fmt: skip
    ledger = Path(args.ledger)
    result = benchmark(BenchmarkConfig(
        tasks=tasks, methods=methods, seeds=seeds, profile="quick", out_dir=str(ledger),
        data_dir=args.data_dir or str(moleculenet_dir()), device=args.device,
        finetune=finetune))  # fmt: skip
    table = curve_table(ledger)
    table.to_csv(ledger / "budget_curve.csv", index=False)
    text = markdown(table)
    (ledger / "budget_curve.md").write_text(text)
    plot(table, ledger / "budget_curve.png")
    print(text, end="")
    print(f"{result.ran} cells run, {result.skipped} skipped, {result.failed} failed; "
          f"{(time.perf_counter() - start) / 60:.1f} min in all")  # fmt: skip
    print(f"table: {ledger / 'budget_curve.md'}\nplot:  {ledger / 'budget_curve.png'}")


if __name__ == "__main__":
    run(main)
