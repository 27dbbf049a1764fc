"""``molssl benchmark``: every (task, method, seed) cell, a resumable ledger, a report.

Methods are looked up in :data:`METHODS` by the part before the first colon of a method string:

- ``random-init``: the MolCLR GIN from random weights, fine-tuned with the same protocol;
- ``ecfp-rf``: ECFP4 + random forest (:mod:`molssl.benchmark.baselines`);
- ``ckpt:PATH`` (or an existing bare path): a molssl pretraining checkpoint; ``molclr-gcn:PATH`` / ``molclr-gin:PATH``:
  MolCLR's released weights.

A method string may carry a display label, ``LABEL=SPEC`` (``ours=ckpt:runs/x/best.pt``). Each
cell appends one row to ``results.csv`` (see :mod:`molssl.benchmark.ledger`); a failing cell is
recorded with its error and the suite goes on; a rerun skips finished cells. At the end
``summary.md`` and ``summary.png`` are written (:mod:`molssl.benchmark.report`).

With ``search=N`` every (task, method) first gets ``N`` Optuna trials on the validation split
(:mod:`molssl.benchmark.tuning`; the study in ``study.db``, trials trained at the first seed), and its
cells run with the best settings; ``search.json`` records them with the retrained test values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from molssl.benchmark.baselines import ecfp_rf
from molssl.benchmark.ledger import append_row, finished_cells, read_ledger
from molssl.benchmark.tuning import record_searches, searched_config
from molssl.config import ConfigError, apply_overrides, did_you_mean, save_yaml, to_dict
from molssl.data import dataset_names, get_dataset_spec
from molssl.finetune import (
    FinetuneConfig,
    config_hash,
    finetune,
    get_profile,
    load_task,
    task_split,
)

logger = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 500
_CELL_FIELDS = frozenset(
    {"task", "csv", "smiles_col", "targets", "task_type", "init", "seed", "profile", "out_dir"}
)


@dataclass
class BenchmarkConfig:
    """A benchmark suite.

    Attributes:
        tasks: Registered dataset names, or ``["all"]`` for the 14 MoleculeNet tasks.
        csv, smiles_col, targets, task_type: A user's CSV task, run in addition to ``tasks``.
        methods: Method strings (see the module docstring).
        seeds: Run seeds; each (task, method) is run once per seed.
        profile: ``"quick"`` or ``"full"`` (see :mod:`molssl.finetune.profiles`).
        out_dir: Where ``results.csv``, ``summary.md`` and ``summary.png`` go.
        data_dir: Directory searched first for MoleculeNet files.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        finetune: :class:`~molssl.finetune.FinetuneConfig` fields set for every fine-tuning
            cell, e.g. ``{"epochs": 2, "encoder": {"num_layers": 2}}``.
        rf_estimators: Trees of ``ecfp-rf``; ``None`` takes the profile's (quick 100, full 500).
        rf_jobs: Processes per forest.
        save_models: Keep every fine-tuned model under ``out_dir/cells/``.
        progress: Show the progress bar over cells.
        search: Optuna trials per (task, method) on the validation split before its cells
            (``0``: default settings). Methods in :data:`molssl.benchmark.tuning.SEARCHABLE` only; others keep their
            defaults (logged).
        search_seed: Seed of the search's TPE sampler.
        rf_params: Extra settings of ``ecfp-rf`` (``max_features``, ``min_samples_leaf``); set
            by the search.
    """

    tasks: list[str] = field(default_factory=lambda: ["all"])
    csv: str | None = None
    smiles_col: str = "smiles"
    targets: list[str] = field(default_factory=list)
    task_type: Literal["classification", "regression"] | None = None
    methods: list[str] = field(default_factory=lambda: ["random-init", "ecfp-rf"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    profile: Literal["quick", "full"] = "quick"
    out_dir: str = "runs/benchmark"
    data_dir: str | None = None
    device: str = "auto"
    finetune: dict[str, Any] = field(default_factory=dict)
    rf_estimators: int | None = None
    rf_jobs: int = 1
    save_models: bool = False
    progress: bool = True
    search: int = 0
    search_seed: int = 0
    rf_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.search < 0:
            raise ConfigError(f"search must be >= 0 trials, got {self.search}")
        if not self.methods or not self.seeds:
            raise ConfigError("give at least one method and one seed")
        if not self.tasks and self.csv is None:
            raise ConfigError("give tasks (e.g. ['bbbp'] or ['all']) or a csv task")
        for method in self.methods:
            parse_method(method)
        fixed = sorted(set(self.finetune) & _CELL_FIELDS)
        if fixed:
            raise ConfigError(
                f"finetune overrides {fixed} are set per cell by the suite; use tasks/csv, "
                "methods, seeds, profile, out_dir and device instead"
            )


@dataclass(frozen=True)
class Method:
    """A parsed method string: display ``label``, registry ``kind`` and its ``arg``."""

    label: str
    kind: str
    arg: str | None


@dataclass(frozen=True)
class Cell:
    """One unit of work."""

    task: str
    method: Method
    seed: int


@dataclass
class BenchmarkResult:
    """Where the outputs are and what happened."""

    out_dir: Path
    results_csv: Path
    summary_md: Path
    summary_png: Path | None
    ran: int
    skipped: int
    failed: int


CellRunner = Callable[[Method, str, int, BenchmarkConfig], dict[str, Any]]


def _finetune_config(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> FinetuneConfig:
    init = {"random-init": "random"}.get(method.kind, f"{method.kind}:{method.arg}")
    is_csv = cfg.csv is not None and task == _csv_name(cfg)
    base = FinetuneConfig(
        task=None if is_csv else task,
        csv=cfg.csv if is_csv else None,
        smiles_col=cfg.smiles_col,
        targets=list(cfg.targets) if is_csv else [],
        task_type=cfg.task_type if is_csv else None,
        data_dir=cfg.data_dir,
        init=init,
        seed=seed,
        profile=cfg.profile,
        device=cfg.device,
        save_model=cfg.save_models,
    )
    cell = apply_overrides(base, cfg.finetune) if cfg.finetune else base
    if cfg.save_models:  # one folder per settings, so a rerun resumes and never overwrites
        name = f"{task}__{method.label}__{seed}__{config_hash(cell)}"
        cell.out_dir = str(Path(cfg.out_dir) / "cells" / name)
        cell.resume = True
    return cell


def _run_finetune(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    ft = _finetune_config(method, task, seed, cfg)
    result = finetune(ft)
    record = {
        k: v
        for k, v in result.to_dict().items()
        if k not in ("init", "protocol", "out_dir", "conformal")
    }
    record["config_hash"] = result.config_hash
    return record


def _rf_hash(ft: FinetuneConfig, estimators: int, params: dict[str, Any]) -> str:
    data = {k: v for k, v in to_dict(ft).items() if k in (
        "task", "csv", "smiles_col", "targets", "task_type", "data_dir", "profile", "split",
        "split_sizes", "split_seed", "max_molecules")}  # fmt: skip
    data["rf_estimators"] = estimators
    if params:  # absent for the defaults, so earlier ledgers keep their hashes
        data["rf_params"] = params
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def _run_ecfp_rf(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    from molssl.featurize import MolGraphFeaturizer

    ft = _finetune_config(Method("random-init", "random-init", None), task, seed, cfg)
    data = load_task(ft, MolGraphFeaturizer())
    split = task_split(data, ft.split, ft.split_sizes, ft.split_seed)
    estimators = cfg.rf_estimators or get_profile(cfg.profile).rf_estimators
    res = ecfp_rf(data, split, seed=seed, n_estimators=estimators, n_jobs=cfg.rf_jobs,
                  **cfg.rf_params)  # fmt: skip
    return {
        **{k: v for k, v in vars(res).items()},
        "split": ft.split or data.spec.default_split,
        "epochs": 0,
        "best_epoch": 0,
        "n_invalid": len(data.failures),
        "config_hash": _rf_hash(ft, estimators, cfg.rf_params),
    }


METHODS: dict[str, CellRunner] = {
    "random-init": _run_finetune,
    "ecfp-rf": _run_ecfp_rf,
    "ckpt": _run_finetune,
    "molclr-gcn": _run_finetune,
    "molclr-gin": _run_finetune,
}
"""Cell runners by method kind."""

_NEEDS_PATH = ("ckpt", "molclr-gcn", "molclr-gin")


def parse_method(text: str) -> Method:
    """Parse ``[LABEL=]KIND[:ARG]``.

    Raises:
        ConfigError: Unknown kind, or a checkpoint method without a path.
    """
    label, sep, spec = text.partition("=")
    if not sep or ":" in label:
        label, spec = text, text
    kind, _, arg = spec.partition(":")
    if kind not in METHODS and Path(spec).is_file():  # a bare path means ckpt:PATH
        kind, arg = "ckpt", spec
    if kind not in METHODS:
        raise ConfigError(
            f"unknown method {text!r}{did_you_mean(kind, METHODS)}; kinds: {sorted(METHODS)} "
            "(ckpt:PATH, ...)"
        )
    if kind in _NEEDS_PATH and not arg:
        raise ConfigError(f"method {text!r} needs a path: {kind}:PATH")
    return Method(label.strip(), kind, arg or None)


def _csv_name(cfg: BenchmarkConfig) -> str:
    return Path(cfg.csv).name.split(".")[0] if cfg.csv else ""


def resolve_tasks(cfg: BenchmarkConfig) -> list[str]:
    """Task display names in run order (``all`` expanded, the CSV task last).

    Raises:
        UnknownDatasetError: For a name that is not registered.
    """
    names: list[str] = []
    for task in cfg.tasks:
        for name in dataset_names() if task.lower() == "all" else [task]:
            spec_name = get_dataset_spec(name).name
            if spec_name not in names:
                names.append(spec_name)
    if cfg.csv is not None:
        names.append(_csv_name(cfg))
    return names


def _versions() -> str:
    import rdkit
    import sklearn

    from molssl.contrastive.checkpoint import library_versions

    versions = {**library_versions(), "rdkit": rdkit.__version__, "sklearn": sklearn.__version__}
    return ";".join(f"{k}={v}" for k, v in versions.items())


def _cell_hash(cell: Cell, cfg: BenchmarkConfig) -> str:
    if cell.method.kind == "ecfp-rf":
        ft = _finetune_config(Method("random-init", "random-init", None), cell.task, 0, cfg)
        estimators = cfg.rf_estimators or get_profile(cfg.profile).rf_estimators
        return _rf_hash(ft, estimators, cfg.rf_params)
    return config_hash(_finetune_config(cell.method, cell.task, cell.seed, cfg))


def benchmark(cfg: BenchmarkConfig) -> BenchmarkResult:
    """Run every (task, method, seed) cell not already in ``results.csv``, then report.

    Args:
        cfg: The suite.

    Returns:
        :class:`BenchmarkResult` with the output paths and cell counts.

    Raises:
        UnknownDatasetError / ConfigError: Invalid task or method names (before any cell runs).
        DataFormatError / FileNotFoundError: A bad or missing CSV task (before any cell runs).
    """
    from tqdm.auto import tqdm

    from molssl.benchmark.report import write_report

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, out / "benchmark_config.yaml")
    results = out / "results.csv"
    methods = [parse_method(m) for m in cfg.methods]
    if cfg.csv is not None:  # reject a bad CSV before any cell runs
        from molssl.featurize import MolGraphFeaturizer

        ft = _finetune_config(Method("random-init", "random-init", None), _csv_name(cfg), 0, cfg)
        load_task(ft, MolGraphFeaturizer())
    cells = [Cell(t, m, s) for t in resolve_tasks(cfg) for m in methods for s in cfg.seeds]
    searches: dict[tuple[str, str], Any] = {}
    done = finished_cells(read_ledger(results))
    versions = _versions()
    ran = skipped = failed = 0
    bar = tqdm(cells, desc="benchmark", unit="cell", disable=not cfg.progress)
    for cell in bar:
        bar.set_postfix_str(f"{cell.task} {cell.method.label} seed {cell.seed}")
        try:
            cell_cfg = searched_config(cell, cfg, searches)
        except Exception as err:  # a failed search fails its cells, not the suite
            failed += 1
            append_row(results, {"task": cell.task, "method": cell.method.label,
                                 "seed": cell.seed, "versions": versions, "status": "failed",
                                 "error": f"search: {type(err).__name__}: {err}"[:_MAX_ERROR_CHARS],
                                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")})  # fmt: skip
            continue
        key_hash = _cell_hash(cell, cell_cfg)
        if (cell.task, cell.method.label, cell.seed, key_hash) in done:
            skipped += 1
            continue
        row: dict[str, Any] = {"task": cell.task, "method": cell.method.label, "seed": cell.seed,
                               "versions": versions, "config_hash": key_hash}  # fmt: skip
        start = time.perf_counter()
        try:
            record = METHODS[cell.method.kind](cell.method, cell.task, cell.seed, cell_cfg)
        except Exception as err:  # a failing cell is recorded and must not stop the suite
            logger.warning("cell %s / %s / seed %d failed: %s: %s", cell.task, cell.method.label,
                           cell.seed, type(err).__name__, err, exc_info=logger.isEnabledFor(logging.DEBUG))  # fmt: skip
            row.update(status="failed", error=f"{type(err).__name__}: {err}"[:_MAX_ERROR_CHARS],
                       seconds=time.perf_counter() - start)  # fmt: skip
            failed += 1
        else:
            record["per_target"] = json.dumps(record.get("per_target", {}))
            row.update({k: v for k, v in record.items() if k != "task"}, status="ok", error="")
            row["config_hash"] = key_hash
            ran += 1
        row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        append_row(results, row)
    bar.close()
    if searches:
        record_searches(out, searches, read_ledger(results))
    md, png = write_report(read_ledger(results), out)
    logger.info("benchmark: %d cells run, %d skipped, %d failed; %s", ran, skipped, failed, md)
    return BenchmarkResult(out, results, md, png, ran, skipped, failed)
