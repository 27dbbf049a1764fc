"""The pretraining-budget curve: which pretext task pays downstream, at equal compute?

For each objective of ``--objectives``, pretrains the default GIN on MOSES with ``molssl
pretrain --max-steps`` up to each budget (molecule-passes = steps x batch size: by default 0,
10k, 100k and 1M, rounded up to whole batches) and fine-tunes every snapshot on BBBP, BACE,
SIDER, ESOL and Lipophilicity (quick profile, 3 seeds). Budget 0 is the random-init GIN.
Writes the table (``budget_curve.md``, ``budget_curve.csv``), per-task paired tests
(``budget_curve_tests.csv``) and the plot (``budget_curve.png``): average ROC-AUC over the
classification tasks and average RMSE over the regression tasks against the budget, one line
per objective, for every objective and budget in the ledger, with the paired t-test over seeds
of each average against random init and ECFP + random forest (``ecfp-rf``). The ECFP+RF cells
are this ledger's, else those of ``--reference`` (the MoleculeNet quick ledger) when its
``protocol.json`` equals this ledger's on these tasks, else they are run into this ledger.

Objectives. ``--objectives`` is a comma-separated list; each entry is a registered objective
(``molclr``, ``imolclr``, ``byol``, ``moco``, ``attrmask``, ``descriptors``) or a sum of them
joined by ``+`` (at most one two-view term), each term optionally weighted by ``@WEIGHT``
(default 1): ``imolclr+attrmask+descriptors@0.5`` trains ``objective.name=
imolclr+attrmask+descriptors`` with ``objective.weights=1,1,0.5``. Commas only separate
entries, so the grammar is unambiguous. Every entry uses the preset of its two-view term
(``configs/<term>_gin.yaml``; ``configs/molclr_gin.yaml`` for pretext terms alone), whose GIN,
batch, optimizer and schedule are those of ``configs/molclr_gin.yaml`` (the presets differ
only in the objective's own settings, such as MoCo's temperature); ``--set KEY=VALUE`` applies
to every run.

Labels. A snapshot's ledger label is ``STEM-PASSES`` with ``STEM = SPEC[_cosine][_nN][_oHASH]``:
the canonical entry (weights of 1 dropped, others as ``%g``), ``_cosine`` under ``--schedule
cosine``, ``_nN`` with ``--corpus-size N`` and ``_o`` + 6 hex digits of the ``--set`` overrides
when there are any, e.g. ``imolclr+descriptors@0.5_cosine-1000448``. Labels use only letters,
digits and ``+ @ . _ -`` (safe as file names on Linux, macOS and Windows); the committed labels
(``molclr-10240``: default schedule, full corpus, no overrides) are unchanged.

Schedules. ``--schedule molclr`` (default, as the committed ledger) is MolCLR's: constant for
10 warm-up epochs, then a cosine over 100 planned epochs; on full MOSES all budgets up to 15M
passes stay in the warm-up, at constant rate. The budgets of one objective are then one run,
continued with ``--resume`` from one budget to the next (resume is exact), each budget
costing only its increment. ``--schedule cosine`` (``trainer.schedule=cosine``: linear warm-up
over at most a tenth of the run, cosine to ``trainer.min_lr`` at the last step) decays within
each budget, so every budget is its own run from scratch in ``WORK/STEM/passes_N`` (a curve of
budgets costs their sum, not their maximum); no snapshot is taken on the way.

Corpus and store. The graph store is built once (resumably, under a lock) in ``--work``:
``store`` for full MOSES (about 15 min with 2 workers), ``store_desc`` with the RDKit
descriptors of every molecule when any objective of the call regresses them (every objective
of that call then trains on it: the same molecules, order, split and graphs). ``--corpus-size
N`` takes the first N SMILES of the corpus (``WORK/<corpus>_first<N>.smi``, store
``store_n<N>[_desc]``); 95% of them train, so a budget B is ``B / (0.95 N)`` epochs (1M passes
on N = 200,000: 5.3 epochs). With the ``molclr`` schedule a budget past its 100 planned epochs
is refused; ``cosine`` plans as many epochs as the budget needs.

Snapshots. At each budget the weights of ``last.pt`` are saved to ``STEM/snapshots/
passes_N.pt`` in the run folder and copied to ``benchmarks/snapshots/STEM_passes_N.pt``
(ignored by git; copy it to another machine to fine-tune there without pretraining again); a
snapshot found in either place is never recomputed. A budget whose cells the ledger has
finished on every task and seed needs no snapshot: it is not pretrained again
(``--force-snapshots`` does it anyway). Once all cells of a snapshot are in the ledger, both
copies (and a cosine budget's run checkpoints) are deleted unless ``--keep`` names it: labels
or stems, ``largest`` (each objective's largest budget in this call, the default), ``all`` or
``none``. The downstream cells go through ``molssl benchmark``'s ledger (``results.csv`` +
``protocol.json`` in ``--ledger``), which skips finished cells; checkpoints are named by paths
relative to the working directory, so run it from the repository root on every machine.

Usage (from the repository root)::

    python benchmarks/budget_curve.py                     # all budgets, molclr and imolclr
    python benchmarks/budget_curve.py --objectives molclr,attrmask,imolclr+descriptors@0.5 --budgets 0,1000000 --schedule cosine
    python benchmarks/budget_curve.py --smoke             # a tiny run (minutes) to check it

The MOSES corpus is ``$MOLSSL_SHARED_DATA/pretrain/moses_train.smi.gz`` (1.58M SMILES).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

try:
    from benchmarks._budget_report import (
        curve_table,
        markdown,
        plot,
        reference_rows,
        split_label,
        task_tests,
    )
    from benchmarks._shared import moleculenet_dir, pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/budget_curve.py
    from _budget_report import curve_table, markdown, plot, reference_rows, split_label, task_tests
    from _shared import moleculenet_dir, pretrain_dir, run

__all__ = ["curve_table", "markdown", "plot", "reference_rows", "split_label", "task_tests"]

CONFIGS = {
    "molclr": "configs/molclr_gin.yaml",
    "imolclr": "configs/imolclr_gin.yaml",
    "byol": "configs/byol_gin.yaml",
    "moco": "configs/moco_gin.yaml",
}
"""The preset of each two-view objective (one GIN, batch and schedule: molclr_gin's)."""
BASE_CONFIG = CONFIGS["molclr"]
"""The preset of pretext objectives trained alone."""
TASKS = ["bbbp", "bace", "sider", "esol", "lipophilicity"]
COMMITTED = Path("benchmarks/snapshots")
"""Where snapshots are copied (relative to the repository root, like every checkpoint path
here; ignored by git)."""
SCHEDULES = ("molclr", "cosine")
CONTROLLED = (
    "objective.name",
    "objective.weights",
    "trainer.schedule",
    "trainer.batch_size",
    "trainer.max_steps",
    "trainer.epochs",
    "data.",
)
"""``--set`` keys this script sets itself (flags choose them), refused in ``--set``."""
_TERM = re.compile(r"[a-z0-9]+")


class ObjectiveSpecError(ValueError):
    """An ``--objectives`` entry (or ``--set`` override) that cannot be trained."""


@dataclass(frozen=True)
class Recipe:
    """One entry of ``--objectives`` with the settings that make its label.

    Attributes:
        terms: Registered objective names, in the order given.
        weights: One weight per term.
        schedule: ``molclr`` or ``cosine``.
        corpus_size: The first N molecules of the corpus (None: all).
        overrides: The ``--set KEY=VALUE`` items, in order.
    """

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    schedule: str = "molclr"
    corpus_size: int | None = None
    overrides: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        """The canonical entry: ``imolclr+descriptors@0.5``."""
        return "+".join(
            t if w == 1 else f"{t}@{w:g}" for t, w in zip(self.terms, self.weights, strict=True)
        )

    @property
    def stem(self) -> str:
        """The label without its budget: ``SPEC[_cosine][_nN][_oHASH]``."""
        stem = self.spec + ("_cosine" if self.schedule == "cosine" else "")
        stem += f"_n{self.corpus_size}" if self.corpus_size else ""
        if self.overrides:
            stem += "_o" + hashlib.sha256("\n".join(self.overrides).encode()).hexdigest()[:6]
        return stem

    def label(self, passes: int) -> str:
        """The ledger label of the snapshot after ``passes`` molecule-passes."""
        return f"{self.stem}-{passes}"

    @property
    def needs_descriptors(self) -> bool:
        return "descriptors" in self.terms

    def pretrain_args(self) -> list[str]:
        """``--config`` and the ``--set`` items that select this objective."""
        from molssl.objectives import OBJECTIVES

        two_view = [t for t in self.terms if not OBJECTIVES[t].pretext]
        config = CONFIGS.get(two_view[0], BASE_CONFIG) if two_view else BASE_CONFIG
        out = ["--config", config]
        if self.terms != tuple(two_view) or two_view[0] not in CONFIGS:
            out += ["--set", f"objective.name={'+'.join(self.terms)}"]
        if any(w != 1 for w in self.weights):
            out += ["--set", f"objective.weights={','.join(f'{w:g}' for w in self.weights)}"]
        if self.schedule == "cosine":
            out += ["--set", "trainer.schedule=cosine"]
        for item in self.overrides:
            out += ["--set", item]
        return out


def parse_objective(
    text: str,
    *,
    schedule: str = "molclr",
    corpus_size: int | None = None,
    overrides: tuple[str, ...] = (),
) -> Recipe:
    """Parse one ``--objectives`` entry, ``TERM[@WEIGHT](+TERM[@WEIGHT])*``.

    Raises:
        ObjectiveSpecError: Unknown term, bad weight, a composition the objective config
            refuses (two two-view terms, a term twice), or a controlled ``--set`` key.
    """
    from molssl.contrastive.config import ConfigError
    from molssl.objectives import OBJECTIVES, ObjectiveConfig

    terms, weights = [], []
    for part in text.strip().split("+"):
        name, at, weight = part.strip().partition("@")
        if name not in OBJECTIVES or not _TERM.fullmatch(name):
            raise ObjectiveSpecError(
                f"unknown objective {name!r} in --objectives entry {text!r}; choose from "
                f"{', '.join(sorted(OBJECTIVES))}, joined by + (TERM[@WEIGHT]+...)"
            )
        try:
            value = float(weight) if at else 1.0
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ObjectiveSpecError(
                f"weight {weight!r} of {name!r} in --objectives entry {text!r} is not a "
                "positive number; write e.g. imolclr+descriptors@0.5"
            )
        terms.append(name)
        weights.append(value)
    for item in overrides:
        key = item.partition("=")[0].strip()
        if any(key == c or (c.endswith(".") and key.startswith(c)) for c in CONTROLLED):
            raise ObjectiveSpecError(
                f"--set {item!r}: {key} is set by this script (--objectives, --schedule, "
                "--batch-size, --budgets, --corpus, --corpus-size); use those flags"
            )
    try:
        ObjectiveConfig(name="+".join(terms), weights=list(weights))
    except ConfigError as err:
        raise ObjectiveSpecError(f"--objectives entry {text!r}: {err}") from None
    return Recipe(tuple(terms), tuple(weights), schedule, corpus_size, tuple(overrides))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--budgets",
        default="0,10000,100000,1000000",
        help="molecule-passes, comma-separated (0 = random init)",
    )
    parser.add_argument(
        "--objectives",
        default="molclr,imolclr",
        help="comma-separated entries TERM[@WEIGHT](+TERM[@WEIGHT])*, e.g. "
        "molclr,attrmask,imolclr+descriptors@0.5",
    )
    parser.add_argument(
        "--schedule",
        default="molclr",
        choices=SCHEDULES,
        help="molclr (constant over these budgets; one continued run per "
        "objective) or cosine (decays within each budget: one run each)",
    )
    parser.add_argument(
        "--corpus-size",
        type=int,
        default=None,
        help="pretrain on the first N molecules of the corpus (default: all)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pretraining setting for every run",
    )
    parser.add_argument(
        "--keep",
        default="largest",
        help="snapshots never deleted once their cells are done: labels, stems, "
        "largest (each objective's largest budget), all or none",
    )
    parser.add_argument(
        "--reference",
        default="benchmarks/ledgers/moleculenet_quick",
        help="ledger whose ecfp-rf cells are reused if its protocol matches",
    )
    parser.add_argument(
        "--pretrain-only",
        action="store_true",
        help="write the snapshots and stop (fine-tune later, other budgets)",
    )
    parser.add_argument(
        "--force-snapshots",
        action="store_true",
        help="pretrain a budget even when the ledger has all of its cells",
    )
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--corpus", default=None, help="default: MOSES train (shared data)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs override")
    parser.add_argument(
        "--max-molecules",
        type=int,
        default=None,
        help="subsample each task to this many molecules (smoke runs)",
    )
    parser.add_argument("--work", default="runs/budget_curve", help="pretraining runs")
    parser.add_argument(
        "--ledger",
        default="benchmarks/ledgers/budget_curve",
        help="results.csv + protocol.json + table + plot (committed)",
    )
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument("--workers", type=int, default=2, help="featurization processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: RDKit's 5k corpus, budgets 0,1024,4096 at batch 128, "
        "BBBP + ESOL, seed 0, 1 epoch, 300 molecules, into /tmp",
    )
    args = parser.parse_args()
    if args.smoke:
        args.budgets, args.batch_size, args.tasks, args.seeds = "0,1024,4096", 128, "bbbp,esol", "0"
        args.epochs, args.max_molecules = args.epochs or 1, args.max_molecules or 300
        args.work, args.ledger = "/tmp/budget_curve_smoke/work", "/tmp/budget_curve_smoke/ledger"
        args.corpus = args.corpus or "rdkit"
    if args.corpus_size is not None and args.corpus_size < 2:
        parser.error(f"--corpus-size must be >= 2 molecules, got {args.corpus_size}")
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
    return {
        m for m in {c[0] for c in cells} if all((m, task, seed) in cells for task, seed in wanted)
    }


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


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file (a killed copy leaves no half file)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def corpus_path(args) -> Path:
    """The SMILES file of ``--corpus`` (``rdkit``: RDKit's bundled 5k; None: MOSES train)."""
    if args.corpus == "rdkit":
        from molssl.data import embedded_smiles_path

        return Path(embedded_smiles_path())
    return Path(args.corpus) if args.corpus else pretrain_dir() / "moses_train.smi.gz"


def first_molecules(source: Path, n: int, work: Path) -> Path:
    """``WORK/<name>_first<n>.smi``: the first ``n`` lines of ``source`` (written once: the
    store's key holds the file's size and time, so it is never rewritten)."""
    import gzip

    name = source.name.removesuffix(".gz").split(".")[0]
    out = work / f"{name}_first{n}.smi"
    if out.is_file():
        return out
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt") as handle:
        lines = [line for _, line in zip(range(n), handle, strict=False)]
    if len(lines) < n:
        raise ObjectiveSpecError(f"--corpus-size {n}: {source} has only {len(lines)} lines")
    work.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    tmp.replace(out)
    return out


def prepare_store(args, descriptors: bool, log) -> tuple[Path, int]:
    """Build (or reuse, or resume) the graph store of this call: ``(folder, molecules)``.

    Built by :func:`molssl.pretrain.open_store`, as ``molssl pretrain`` builds one, so the
    store of an earlier call (``WORK/store``) is the same store.
    """
    from molssl.pretrain import DataConfig, open_store

    work = Path(args.work)
    source = corpus_path(args)
    name = "store"
    if args.corpus_size:
        source = first_molecules(source, args.corpus_size, work)
        name += f"_n{args.corpus_size}"
    name += "_desc" if descriptors else ""
    data = DataConfig(path=str(source), store=str(work / name), featurize_workers=args.workers)
    log(f"graph store {work / name} from {source}" + (" (with descriptors)" * descriptors))
    store = open_store(data, work, descriptors=descriptors)
    return Path(store.path), len(store)


def epochs_args(recipe: Recipe, steps: int, args, log) -> list[str]:
    """``--set trainer.epochs=E`` when a cosine budget needs more than the planned epochs of a
    small corpus; nothing otherwise. Refuses a ``molclr``-schedule budget past them.

    Raises:
        ObjectiveSpecError: The budget needs more epochs than the molclr schedule plans, or the
            corpus has fewer training molecules than a batch.
    """
    from molssl.pretrain import load_pretrain_config

    molecules = getattr(args, "store_size", None)
    if molecules is None:
        return []
    cfg = load_pretrain_config(recipe.pretrain_args()[1])
    train = molecules - int(cfg.data.valid_size * molecules)
    per_epoch = train // args.batch_size
    if per_epoch < 1:
        raise ObjectiveSpecError(
            f"--batch-size {args.batch_size} is larger than the {train} training molecules of "
            "the corpus; lower --batch-size or raise --corpus-size"
        )
    epochs = math.ceil(steps / per_epoch)
    log(
        f"{recipe.stem}: {steps * args.batch_size:,} passes = "
        f"{steps * args.batch_size / train:.2f} epochs of {train:,} training molecules"
    )
    if epochs <= cfg.trainer.epochs:
        return []
    if recipe.schedule == "molclr":
        raise ObjectiveSpecError(
            f"{steps * args.batch_size:,} passes need {epochs} epochs of the {train:,} training "
            f"molecules, past the {cfg.trainer.epochs} planned by the molclr schedule; use "
            "--schedule cosine or a larger --corpus-size"
        )
    return ["--set", f"trainer.epochs={epochs}"]


def snapshot_paths(recipe: Recipe, passes: int, args) -> tuple[Path, Path, Path]:
    """``(run folder, run-folder snapshot, kept copy)`` of one budget."""
    root = Path(args.work) / recipe.stem
    run = root / f"passes_{passes}" if recipe.schedule == "cosine" else root
    return (
        run,
        root / "snapshots" / f"passes_{passes}.pt",
        COMMITTED / f"{recipe.stem}_passes_{passes}.pt",
    )


def pretrain_snapshots(
    objective: Recipe | str, budgets: list[int], args, log, finished: frozenset[str] = frozenset()
) -> dict[int, Path]:
    """A snapshot per budget (existing ones kept); returns ``{budget: snapshot}``.

    With the ``molclr`` schedule one run is continued from budget to budget; with ``cosine``
    each budget is its own run from scratch. A budget without a snapshot in the run folder
    takes the kept copy (:data:`COMMITTED`) when there is one, and is left out (no pretraining,
    no entry in the result) when its label is in ``finished`` (the ledger holds all of its
    cells) unless ``args.force_snapshots``. A new snapshot is copied to :data:`COMMITTED`.
    When :func:`main` sets ``args.descriptors``, the store of the call is built (or reused)
    before the first pretraining (:func:`prepare_store`); without it ``molssl pretrain`` builds
    ``WORK/store`` from the corpus.
    """
    import torch

    recipe = parse_objective(objective) if isinstance(objective, str) else objective
    out: dict[int, Path] = {}
    for budget in sorted(b for b in budgets if b > 0):
        steps = steps_for(budget, args.batch_size)
        passes = steps * args.batch_size
        run, snap, committed = snapshot_paths(recipe, passes, args)
        if snap.is_file():
            log(f"{recipe.stem}: snapshot {snap} exists")
            out[budget] = snap
            continue
        if committed.is_file():
            log(f"{recipe.stem}: snapshot {committed} (kept copy)")
            out[budget] = committed
            continue
        if recipe.label(passes) in finished and not getattr(args, "force_snapshots", False):
            log(
                f"{recipe.stem}: every cell of {passes:,} passes is in the ledger; not pretrained "
                "again (--force-snapshots to write its snapshot anyway)"
            )
            continue
        out[budget] = snap
        if getattr(args, "descriptors", None) is not None and getattr(args, "store", None) is None:
            args.store, args.store_size = prepare_store(args, args.descriptors, log)
        store = getattr(args, "store", None)
        if store is not None:
            data = ["--data", str(store)]
        else:
            corpus = [] if args.corpus == "rdkit" else ["--data", str(corpus_path(args))]
            data = [
                *corpus,
                "--set",
                f"data.store={Path(args.work) / 'store'}",
                "--set",
                f"data.featurize_workers={args.workers}",
            ]
        cmd = [
            sys.executable,
            "-m",
            "molssl",
            "pretrain",
            *recipe.pretrain_args(),
            *data,
            "--out",
            str(run),
            "--batch-size",
            str(args.batch_size),
            "--max-steps",
            str(steps),
            "--resume",
            "--workers",
            "0",
            *epochs_args(recipe, steps, args, log),
            # last.pt every 50 steps: a run killed between epochs (an epoch is 2,940 steps)
            # loses minutes, not hours; resume is exact, so the weights do not change
            "--set",
            "trainer.checkpoint_every_steps=50",
        ]
        if args.device != "auto":
            cmd += ["--device", args.device]
        start = time.perf_counter()
        log(f"{recipe.stem}: pretraining to step {steps} ({passes:,} passes) in {run}")
        rc = subprocess.run(cmd).returncode
        if rc:  # 130 / 143: SIGINT / SIGTERM stopped it after a checkpoint
            sys.exit(
                f"budget_curve.py: `molssl pretrain` into {run} exited with status {rc} "
                "(130 or 143: interrupted); run the same command again to resume it"
            )
        reached = torch.load(run / "last.pt", map_location="cpu", weights_only=True)["step"]
        if reached != steps:  # a finished run short of its budget is no snapshot either
            sys.exit(
                f"budget_curve.py: {run / 'last.pt'} is at step {reached}, not {steps} "
                "(the run was interrupted); run the same command again to resume it"
            )
        save_snapshot(run / "last.pt", snap)
        copy_atomic(snap, committed)
        log(
            f"{recipe.stem}: {snap} (copy {committed}) after "
            f"{(time.perf_counter() - start) / 60:.1f} min"
        )
    return out


def keep_labels(keep: str, snapshots: dict[str, tuple[Recipe, int]]) -> set[str] | None:
    """The labels of ``snapshots`` that ``--keep`` protects (None: all of them)."""
    tokens = {t.strip() for t in keep.split(",") if t.strip()}
    if "all" in tokens:
        return None
    kept = {
        label
        for label, (recipe, _) in snapshots.items()
        if label in tokens or recipe.stem in tokens
    }
    if "largest" in tokens:
        largest: dict[str, tuple[int, str]] = {}
        for label, (recipe, passes) in snapshots.items():
            largest[recipe.stem] = max(largest.get(recipe.stem, (-1, "")), (passes, label))
        kept |= {label for _, label in largest.values()}
    return kept


def release_snapshots(
    snapshots: dict[str, tuple[Recipe, int]], finished: set[str], keep: str, args, log
) -> list[Path]:
    """Delete the snapshots of this call whose cells are all in the ledger (``finished``),
    except those ``--keep`` protects: the run-folder snapshot, the kept copy and, for a cosine
    budget, its run's checkpoints. A continued (molclr) run's ``last.pt`` stays: the next
    budget resumes from it. Returns the deleted files."""
    kept = keep_labels(keep, snapshots)
    if kept is None:
        return []
    deleted = []
    for label, (recipe, passes) in snapshots.items():
        if label not in finished or label in kept:
            continue
        run, snap, committed = snapshot_paths(recipe, passes, args)
        files = [snap, committed]
        if recipe.schedule == "cosine":
            files += sorted(run.glob("*.pt"))
        for path in files:
            if path.is_file():
                path.unlink()
                deleted.append(path)
        log(f"{label}: every cell is in the ledger; snapshot deleted (--keep {label} keeps it)")
    return deleted


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    from molssl.benchmark.runner import BenchmarkConfig, benchmark

    torch.set_num_threads(args.threads)
    log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    start = time.perf_counter()
    budgets = [int(b) for b in args.budgets.split(",")]
    try:
        recipes = [
            parse_objective(
                entry,
                schedule=args.schedule,
                corpus_size=args.corpus_size,
                overrides=tuple(args.overrides),
            )
            for entry in args.objectives.split(",")
            if entry.strip()
        ]
    except ObjectiveSpecError as err:
        sys.exit(f"budget_curve.py: {err}")
    methods = ["budget-0=random-init"] if 0 in budgets else []
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    ledger = Path(args.ledger)
    finished = frozenset(finished_labels(ledger, tasks, seeds))
    args.descriptors = any(r.needs_descriptors for r in recipes)  # one store for the call
    snapshots: dict[str, tuple[Recipe, int]] = {}
    try:
        for recipe in recipes:
            for budget, snap in pretrain_snapshots(recipe, budgets, args, log, finished).items():
                passes = steps_for(budget, args.batch_size) * args.batch_size
                methods.append(f"{recipe.label(passes)}=ckpt:{snap}")
                snapshots[recipe.label(passes)] = (recipe, passes)
    except ObjectiveSpecError as err:
        sys.exit(f"budget_curve.py: {err}")
    if args.pretrain_only:
        log(f"snapshots written; {(time.perf_counter() - start) / 60:.1f} min in all")
        return
    finetune = {
        k: v
        for k, v in (("epochs", args.epochs), ("max_molecules", args.max_molecules))
        if v is not None
    }
    suite = dict(
        tasks=tasks,
        seeds=seeds,
        profile="quick",
        out_dir=str(ledger),
        data_dir=args.data_dir or str(moleculenet_dir()),
        device=args.device,
        finetune=finetune,
    )
    result = benchmark(BenchmarkConfig(methods=methods, **suite))
    reference, why = reference_rows(
        ledger, Path(args.reference) if args.reference else None, tasks, seeds
    )
    log(why)
    if reference is None:
        extra = benchmark(BenchmarkConfig(methods=["ecfp-rf"], **suite))
        result.ran, result.failed = result.ran + extra.ran, result.failed + extra.failed
        reference, why = reference_rows(ledger, None, tasks, seeds)
    release_snapshots(snapshots, finished_labels(ledger, tasks, seeds), args.keep, args, log)
    table = curve_table(ledger, reference)
    table.to_csv(ledger / "budget_curve.csv", index=False)
    task_tests(ledger, reference).to_csv(ledger / "budget_curve_tests.csv", index=False)
    text = markdown(table)
    (ledger / "budget_curve.md").write_text(text)
    plot(table, ledger / "budget_curve.png")
    print(text, end="")
    print(
        f"{result.ran} cells run, {result.skipped} skipped, {result.failed} failed; "
        f"{(time.perf_counter() - start) / 60:.1f} min in all"
    )
    print(f"table: {ledger / 'budget_curve.md'}\nplot:  {ledger / 'budget_curve.png'}")


if __name__ == "__main__":
    run(main)
