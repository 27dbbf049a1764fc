"""``molssl benchmark``: every (task, method, seed) cell, a resumable ledger, a report.

Methods are looked up in :data:`METHODS` by the part before the first colon of a method string:

- ``random-init``: the MolCLR GIN from random weights, fine-tuned with the same protocol;
- ``ecfp-rf``: ECFP4 + class-balanced random forest, ``ecfp-mlp``: ECFP4 + scikit-learn MLP
  (:mod:`molssl.benchmark.baselines`);
- ``chemprop``: chemprop v2's D-MPNN from scratch with its own defaults, on the same split and
  epoch budget (:mod:`molssl.benchmark.chemprop_baseline`; ``pip install 'molssl[chemprop]'``);
- ``ckpt:PATH`` (or an existing bare path): a molssl pretraining checkpoint; ``molclr-gcn:PATH`` / ``molclr-gin:PATH``:
  MolCLR's released weights.

A method string may carry a display label, ``LABEL=SPEC`` (``ours=ckpt:runs/x/best.pt``). Each
cell appends one row to ``results.csv`` (see :mod:`molssl.benchmark.ledger`); a failing cell is
recorded with its error and the suite goes on; a rerun skips finished cells. Several processes
may share one output folder: each re-reads the ledger under its lock before a cell and claims
the cell (:class:`~molssl.contrastive.io.claims.CellClaims`), so every cell runs once; a kept
cell of one model per target (``keep_cells``, ``protocol: molclr``) that another process holds
is shared out target by target (:func:`~molssl.finetune.join_finetune`). Before any
cell, ``protocol.json`` records how the folder's results are made
(:mod:`molssl.benchmark.protocol`). At the end ``summary.md`` and ``summary.png`` are written
(:mod:`molssl.benchmark.report`).

With ``search=N`` every (task, method) first gets ``N`` Optuna trials on the validation split
(:mod:`molssl.benchmark.tuning`; the study in ``study.db``, trials trained at the first seed), and its
cells run with the best settings; ``search.json`` records them with the retrained test values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from molssl.benchmark.baselines import BaselineResult, ecfp_mlp, ecfp_rf
from molssl.benchmark.ledger import (
    append_row,
    finished_cells,
    ledger_lock,
    read_ledger,
    relabel_cells,
)
from molssl.benchmark.methods import (
    BASELINES,
    METHOD_KINDS,
    NEEDS_PATH,
    Cell,
    Method,
    check_weights,
    csv_task_name,
    encoder_record,
    finetune_config,
    parse_method,
)
from molssl.benchmark.protocol import FORMAT_VERSION as PROTOCOL_VERSION
from molssl.benchmark.protocol import (
    SELECTION_RULES,
    SINGLE_CLASS_RULE,
    run_entry,
    task_protocol,
    write_protocol,
)
from molssl.benchmark.tuning import record_searches, searched_config
from molssl.contrastive.config import ConfigError, save_yaml, to_dict
from molssl.contrastive.io.atomic import atomic_open
from molssl.contrastive.io.claims import CellClaims, Claim
from molssl.data import dataset_names, get_dataset_spec
from molssl.finetune import (
    FinetuneConfig,
    config_hash,
    finetune,
    get_profile,
    join_finetune,
    load_task,
)
from molssl.finetune.config import data_settings, load_finetune_config, portable_settings

logger = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 500
_NOT_RECORDED = (
    "data_dir",
    "device",
    "progress",
    "save_model",
    "flush_denormal",
    "split",
    "split_sizes",
    "split_seed",
    "split_file",
    "valid_splitter",
    "max_molecules",
    "epochs",
    "out_dir",
    "resume",
)
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
        profile: ``"quick"``, ``"full"`` or ``"hu2020"`` (see :mod:`molssl.finetune.profiles`).
        out_dir: Where ``results.csv``, ``summary.md`` and ``summary.png`` go.
        data_dir: Directory searched first for MoleculeNet files.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        finetune: :class:`~molssl.finetune.FinetuneConfig` fields set for every fine-tuning
            cell, e.g. ``{"epochs": 2, "encoder": {"num_layers": 2}}``.
        rf_estimators: Trees of ``ecfp-rf``; ``None`` takes the profile's (quick 100, full 500).
        rf_jobs: Processes per forest.
        save_models: Keep every fine-tuned model under ``out_dir/cells/`` (implies
            ``keep_cells``).
        keep_cells: Write each fine-tuning cell's run folder (``config.yaml``, ``result.json``,
            history, predictions and, for ``protocol="molclr"``, one ``target-K.json`` per
            finished target; weights only with ``save_models``) to
            ``out_dir/cells/TASK__METHOD__SEED__SETTINGS`` and resume an interrupted cell
            there: a cell of many single-target models skips the targets it finished, also on
            another machine when the folder is committed with the ledger (``*.pt`` left out).
        progress: Show the progress bar over cells.
        search: Optuna trials per (task, method) on the validation split before its cells
            (``0``: default settings). Methods in :data:`molssl.benchmark.tuning.SEARCHABLE` only; others keep their
            defaults (logged).
        search_seed: Seed of the search's TPE sampler.
        rf_params: Extra settings of ``ecfp-rf`` (``max_features``, ``min_samples_leaf``); set
            by the search.
        split: Splitter of every task (``"scaffold"``, ``"random_scaffold"``, ``"random"``), or
            the CSV task's predefined split in one of its columns, ``"column:NAME"``
            (:mod:`molssl.predefined_splits`; the registered tasks keep their default split).
            ``None``: each dataset's default.
        split_file: The CSV task's predefined split as a JSON file of row indices.
        valid_splitter: Splitter carving validation rows out of the training rows of a
            predefined split without any (``None``: scaffold).
    """

    tasks: list[str] = field(default_factory=lambda: ["all"])
    csv: str | None = None
    smiles_col: str = "smiles"
    targets: list[str] = field(default_factory=list)
    task_type: Literal["classification", "regression"] | None = None
    methods: list[str] = field(default_factory=lambda: ["random-init", "ecfp-rf"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    profile: Literal["quick", "full", "hu2020"] = "quick"
    out_dir: str = "runs/benchmark"
    data_dir: str | None = None
    device: str = "auto"
    finetune: dict[str, Any] = field(default_factory=dict)
    rf_estimators: int | None = None
    rf_jobs: int = 1
    save_models: bool = False
    keep_cells: bool = False
    progress: bool = True
    search: int = 0
    search_seed: int = 0
    rf_params: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    split_file: str | None = None
    valid_splitter: Literal["scaffold", "random_scaffold", "random"] | None = None

    def __post_init__(self) -> None:
        if self.search < 0:
            raise ConfigError(f"search must be >= 0 trials, got {self.search}")
        if not self.methods or not self.seeds:
            raise ConfigError("give at least one method and one seed")
        if not self.tasks and self.csv is None:
            raise ConfigError("give tasks (e.g. ['bbbp'] or ['all']) or a csv task")
        for method in self.methods:
            parse_method(method)
        self._check_split()
        fixed = sorted(set(self.finetune) & _CELL_FIELDS)
        if fixed:
            raise ConfigError(
                f"finetune overrides {fixed} are set per cell by the suite; use tasks/csv, "
                "methods, seeds, profile, out_dir and device instead"
            )

    def _check_split(self) -> None:
        from molssl.predefined_splits import is_column_split
        from molssl.splits import SPLITTERS

        if (
            self.split is not None
            and not is_column_split(self.split)
            and self.split not in SPLITTERS
        ):
            raise ConfigError(
                f"split: unknown split {self.split!r}; choose "
                f"{', '.join(SPLITTERS)} or column:NAME (a column of the CSV)"
            )
        split_keys = sorted({"split", "split_file", "valid_splitter"} & set(self.finetune))
        if split_keys and (self.split or self.split_file or self.valid_splitter):
            raise ConfigError(
                f"finetune overrides {split_keys} and the suite's split settings "
                "both set the split; give it once (--split / --split-file)"
            )
        if self.finetune.get("split_file") or is_column_split(self.finetune.get("split")):
            raise ConfigError(
                "a predefined split belongs to the CSV task: give it as the "
                "suite's split (--split column:NAME) or split_file (--split-file), "
                "not as a fine-tuning override"
            )
        predefined = self.split_file is not None or is_column_split(self.split)
        if predefined and self.csv is None:
            raise ConfigError(
                "a predefined split (--split column:NAME / --split-file) needs the "
                "CSV task it splits: add --csv FILE"
            )
        if self.valid_splitter is not None and not predefined:
            raise ConfigError(
                f"valid_splitter {self.valid_splitter!r} needs a predefined split "
                "(--split column:NAME or --split-file)"
            )
        if predefined and self.tasks:
            logger.info(
                "the predefined split applies to the CSV task; %s keep their default splits",
                ", ".join(self.tasks),
            )


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
    helped: int = 0
    """Skipped cells held by another process whose targets this one trained some of."""


CellRunner = Callable[[Method, str, int, BenchmarkConfig], dict[str, Any]]


def _forget_moved_paths(ft: FinetuneConfig) -> None:
    """Drop a cell folder's ``config.yaml`` that differs from ``ft`` only in where files are.

    The folder's name holds the portable settings hash (data folder left out, checkpoints by
    content), so a folder committed on one machine and resumed on another with its data
    elsewhere has the same name but a ``config.yaml`` naming the old paths, which
    ``finetune``'s resume check would refuse; the new one is written in its place.
    """
    if ft.out_dir is None or not (path := Path(ft.out_dir) / "config.yaml").is_file():
        return
    previous = load_finetune_config(path)
    if config_hash(previous) != config_hash(ft):
        logger.info(
            "%s names other file locations (same settings, files by content); "
            "writing this machine's",
            path,
        )
        path.unlink()


def _run_finetune(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    ft = finetune_config(method, task, seed, cfg)
    _forget_moved_paths(ft)
    result = finetune(ft)
    if ft.out_dir is not None:
        _portable_cell_files(ft)
    record = {
        k: v
        for k, v in result.to_dict().items()
        if k not in ("init", "protocol", "out_dir", "conformal", "split_source", "split_sha256")
    }
    record["config_hash"] = result.config_hash
    return record


def _baseline_settings(kind: str, cfg: BenchmarkConfig) -> dict[str, Any]:
    """What determines a baseline cell's result besides the task, split and seed."""
    if kind == "ecfp-rf":
        trees = cfg.rf_estimators or get_profile(cfg.profile).rf_estimators
        settings: dict[str, Any] = {"rf_estimators": trees, "class_weight": "balanced"}
        if cfg.rf_params:
            settings["rf_params"] = cfg.rf_params
        return settings
    if kind == "ecfp-mlp":
        return {"mlp": "512 relu, adam, early stopping 10%"}
    return {"chemprop_epochs": _chemprop_epochs(cfg), "chemprop": "2.x defaults"}


def _baseline_hash(
    ft: FinetuneConfig, kind: str, cfg: BenchmarkConfig, *, portable: bool = True
) -> str:
    data = data_settings(ft)
    if portable:  # as config_hash(portable=True): the files are pinned by protocol.json
        data = portable_settings(data)
    data.update(_baseline_settings(kind, cfg))
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def _baseline_task(task: str, seed: int, cfg: BenchmarkConfig):
    from molssl.featurize import MolGraphFeaturizer

    ft = finetune_config(Method("random-init", "random-init", None), task, seed, cfg)
    data = load_task(ft, MolGraphFeaturizer())
    return ft, data, ft.split_of(data).parts


def _baseline_record(ft: FinetuneConfig, data, res: BaselineResult, epochs: int, key: str):
    return {
        **{k: v for k, v in vars(res).items()},
        "split": ft.split_of(data).name,
        "epochs": epochs,
        "n_invalid": len(data.failures),
        "config_hash": key,
    }


def _run_ecfp_rf(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    ft, data, split = _baseline_task(task, seed, cfg)
    estimators = cfg.rf_estimators or get_profile(cfg.profile).rf_estimators
    res = ecfp_rf(
        data, split, seed=seed, n_estimators=estimators, n_jobs=cfg.rf_jobs, **cfg.rf_params
    )
    return _baseline_record(ft, data, res, 0, _baseline_hash(ft, method.kind, cfg))


def _run_ecfp_mlp(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    ft, data, split = _baseline_task(task, seed, cfg)
    res = ecfp_mlp(data, split, seed=seed)
    return _baseline_record(ft, data, res, 0, _baseline_hash(ft, method.kind, cfg))


def _chemprop_epochs(cfg: BenchmarkConfig) -> int:
    return int(cfg.finetune.get("epochs") or get_profile(cfg.profile).epochs)


def _run_chemprop(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> dict[str, Any]:
    from molssl.benchmark.chemprop_baseline import chemprop_dmpnn

    ft, data, split = _baseline_task(task, seed, cfg)
    epochs = _chemprop_epochs(cfg)
    res = chemprop_dmpnn(data, split, seed=seed, epochs=epochs, device=cfg.device)
    return _baseline_record(ft, data, res, epochs, _baseline_hash(ft, method.kind, cfg))


_BASELINE_RUNNERS: dict[str, CellRunner] = {
    "ecfp-rf": _run_ecfp_rf,
    "ecfp-mlp": _run_ecfp_mlp,
    "chemprop": _run_chemprop,
}
METHODS: dict[str, CellRunner] = {
    kind: _BASELINE_RUNNERS.get(kind, _run_finetune) for kind in METHOD_KINDS
}
"""Cell runners by method kind."""


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
        names.append(csv_task_name(cfg))
    return names


def _versions() -> str:
    import rdkit
    import sklearn

    from molssl.contrastive.io.checkpoint import library_versions

    versions = {**library_versions(), "rdkit": rdkit.__version__, "sklearn": sklearn.__version__}
    return ";".join(f"{k}={v}" for k, v in versions.items())


def _cell_hash(cell: Cell, cfg: BenchmarkConfig, *, portable: bool = True) -> str:
    """A cell's ``config_hash``: its settings with files named by content, not by path
    (``portable=False``: the path-based hash of ledgers written before, to upgrade them)."""
    if cell.method.kind in BASELINES:
        ft = finetune_config(Method("random-init", "random-init", None), cell.task, 0, cfg)
        return _baseline_hash(ft, cell.method.kind, cfg, portable=portable)
    return config_hash(finetune_config(cell.method, cell.task, cell.seed, cfg), portable=portable)


def _upgrade_cell(
    results: Path, cell: Cell, cfg: BenchmarkConfig, key_hash: str, done: set
) -> bool:
    """Relabel ``cell``'s rows written under its old path-based hash with ``key_hash``; whether
    a finished row was relabeled (the cell is then done)."""
    old = (cell.task, cell.method.label, cell.seed, _cell_hash(cell, cfg, portable=False))
    if old[3] == key_hash or old not in done:
        return False
    relabel_cells(results, old, key_hash)
    logger.info(
        "%s / %s / seed %d: finished under the path-based identity of an older version; "
        "relabeled, not run again",
        *old[:3],
    )
    return True


def benchmark(cfg: BenchmarkConfig) -> BenchmarkResult:
    """Run every (task, method, seed) cell not already in ``results.csv``, then report.

    Args:
        cfg: The suite.

    Returns:
        :class:`BenchmarkResult` with the output paths and cell counts.

    Raises:
        UnknownDatasetError / ConfigError: Invalid task or method names (before any cell runs).
        DataFormatError / FileNotFoundError: A bad or missing CSV task (before any cell runs).
        FileNotFoundError / CheckpointError: A method's weights are missing or unreadable
            (before any cell runs, see :func:`~molssl.benchmark.methods.check_weights`).
    """
    from tqdm.auto import tqdm

    from molssl.benchmark.report import write_report

    methods = [parse_method(m) for m in cfg.methods]
    check_weights(methods)
    if cfg.csv is not None:  # reject a bad CSV before anything is written or run
        from molssl.featurize import MolGraphFeaturizer

        ft = finetune_config(Method("random-init", "random-init", None), csv_task_name(cfg), 0, cfg)
        ft.split_of(load_task(ft, MolGraphFeaturizer()))  # a malformed predefined split too
    tasks = resolve_tasks(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, out / "benchmark_config.yaml")
    results = out / "results.csv"
    write_protocol(out, build_protocol(cfg, tasks, methods))
    cells = [Cell(t, m, s) for t in tasks for m in methods for s in cfg.seeds]
    searches: dict[tuple[str, str], Any] = {}
    done = finished_cells(read_ledger(results))
    claims = CellClaims(out)
    versions = _versions()
    ran = skipped = failed = helped = 0
    bar = tqdm(cells, desc="benchmark", unit="cell", disable=not cfg.progress)
    for cell in bar:
        bar.set_postfix_str(f"{cell.task} {cell.method.label} seed {cell.seed}")
        try:
            cell_cfg = searched_config(cell, cfg, searches)
        except Exception as err:  # a failed search fails its cells, not the suite
            failed += 1
            append_row(
                results,
                {
                    "task": cell.task,
                    "method": cell.method.label,
                    "seed": cell.seed,
                    "versions": versions,
                    "status": "failed",
                    "error": f"search: {type(err).__name__}: {err}"[:_MAX_ERROR_CHARS],
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
            )
            continue
        key_hash = _cell_hash(cell, cell_cfg)
        key = (cell.task, cell.method.label, cell.seed, key_hash)
        if key not in done and _upgrade_cell(results, cell, cell_cfg, key_hash, done):
            done.add(key)
        if key in done:
            skipped += 1
            continue
        holder = _claim(results, claims, key)
        if holder is not None:
            if holder is not _FINISHED:
                helped += _join_cell(cell, cell_cfg, holder)
            skipped += 1
            continue
        try:
            cell_failed = _run_cell(cell, cell_cfg, results, versions, key_hash)
        finally:
            claims.release(repr(key))
        failed += cell_failed
        ran += 1 - cell_failed
    bar.close()
    if searches:
        record_searches(out, searches, read_ledger(results))
    md, png = write_report(read_ledger(results), out)
    logger.info(
        "benchmark: %d cells run, %d skipped (%d of them helped with), %d failed; %s",
        ran,
        skipped,
        helped,
        failed,
        md,
    )
    return BenchmarkResult(out, results, md, png, ran, skipped, failed, helped)


_FINISHED = Claim(0, "", 0.0)
"""What :func:`_claim` returns for a cell another process finished meanwhile."""


def _claim(results: Path, claims: CellClaims, key: tuple) -> Claim | None:
    """Under the ledger lock: claim ``key`` unless it is finished (:data:`_FINISHED`) or
    another live process holds it (that process's claim); ``None`` when it is now ours."""
    with ledger_lock(results):
        if key in finished_cells(read_ledger(results)):
            return _FINISHED
        return claims.claim(repr(key))


def _join_cell(cell: Cell, cfg: BenchmarkConfig, holder: Claim) -> bool:
    """A cell that ``holder`` is running: help with its targets where they are shared out.

    A kept fine-tuning cell of one model per target (``keep_cells`` or ``save_models`` and
    ``protocol: molclr``) lets this process train the targets nobody is training
    (:func:`~molssl.finetune.join_finetune`); the holder collects them and writes the row. Any
    other cell is left to its holder. A failure here is the holder's to meet: it is logged, no
    row is written. Returns whether this process trained any of the cell's targets.
    """
    what = f"cell {cell.task} / {cell.method.label} / seed {cell.seed}"
    ft = None
    if METHODS.get(cell.method.kind) is _run_finetune:
        ft = finetune_config(cell.method, cell.task, cell.seed, cfg)
    if ft is None or ft.out_dir is None or ft.protocol != "molclr":
        logger.info("%s is being run by %s; moving on", what, holder.describe())
        return False
    logger.info("%s is being run by %s; training its free targets", what, holder.describe())
    try:
        names = join_finetune(ft)
    except Exception as err:  # the holder runs the cell; this process goes on
        logger.warning("helping with %s failed: %s: %s", what, type(err).__name__, err)
        return False
    logger.info("%s: trained %d target(s) for %s", what, len(names), holder.describe())
    return bool(names)


def _run_cell(cell: Cell, cfg: BenchmarkConfig, results: Path, versions: str, key_hash: str) -> int:
    """Run one cell and append its row; returns 1 when it failed, else 0."""
    row: dict[str, Any] = {
        "task": cell.task,
        "method": cell.method.label,
        "seed": cell.seed,
        "versions": versions,
        "config_hash": key_hash,
    }
    start = time.perf_counter()
    failed = 0
    try:
        record = METHODS[cell.method.kind](cell.method, cell.task, cell.seed, cfg)
    except Exception as err:  # a failing cell is recorded and must not stop the suite
        logger.warning(
            "cell %s / %s / seed %d failed: %s: %s",
            cell.task,
            cell.method.label,
            cell.seed,
            type(err).__name__,
            err,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        row.update(
            status="failed",
            error=f"{type(err).__name__}: {err}"[:_MAX_ERROR_CHARS],
            seconds=time.perf_counter() - start,
        )
        failed = 1
    else:
        record["per_target"] = json.dumps(record.get("per_target", {}))
        record["extra_metrics"] = json.dumps(record.get("extra_metrics") or {})
        row.update({k: v for k, v in record.items() if k != "task"}, status="ok", error="")
        row["config_hash"] = key_hash
    row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    append_row(results, row)
    return failed


def portable_path(path: str, data_dir: str | None) -> str:
    """``path`` as a ledger records it: relative to the data root (the parent of ``data_dir``,
    where the shared data keeps ``moleculenet/`` beside ``checkpoints/``) when it lies there,
    else relative to the working directory when it lies there, else as given."""
    where = Path(path)
    if not where.is_absolute():
        return where.as_posix()
    roots = [Path(data_dir).resolve().parent] if data_dir else []
    for root in [*roots, Path.cwd().resolve()]:
        try:
            return where.resolve().relative_to(root).as_posix()
        except ValueError:
            continue
    return where.as_posix()


def portable_spec(method: Method, data_dir: str | None) -> str:
    """The method's weights string as ``protocol.json`` records it, with no machine's paths
    (:func:`portable_path`; the cells name checkpoints by content, so the record is for
    people, not for resuming)."""
    if not method.arg or method.kind not in NEEDS_PATH:
        return f"{method.kind}:{method.arg}" if method.arg else method.kind
    return f"{method.kind}:{portable_path(method.arg, data_dir)}"


def _portable_cell_files(ft: FinetuneConfig) -> None:
    """Rewrite a kept cell folder's ``config.yaml`` and ``result.json`` with the paths of
    :func:`portable_path`, so a committed ledger names no machine's folders (a rerun elsewhere
    resumes: :func:`_forget_moved_paths` replaces a config that differs only in paths)."""
    folder = Path(ft.out_dir)
    init_kind, sep, init_arg = ft.init.partition(":")
    init = f"{init_kind}:{portable_path(init_arg, ft.data_dir)}" if sep and init_arg else ft.init
    paths = {
        "data_dir": Path(portable_path(ft.data_dir, ft.data_dir)).name if ft.data_dir else None,
        "init": init,
        "csv": portable_path(ft.csv, ft.data_dir) if ft.csv else None,
        "out_dir": portable_path(ft.out_dir, ft.data_dir),
    }
    if (folder / "config.yaml").is_file():
        save_yaml(dataclasses.replace(ft, **paths), folder / "config.yaml")
    result = folder / "result.json"
    if result.is_file():
        record = json.loads(result.read_text(encoding="utf-8"))
        record.update({k: v for k, v in paths.items() if k in record})
        with atomic_open(result, "w") as f:
            json.dump(record, f, indent=2)


def build_protocol(cfg: BenchmarkConfig, tasks: list[str], methods: list[Method]) -> dict:
    """The ``protocol.json`` record of a suite (see :mod:`molssl.benchmark.protocol`).

    A task whose file cannot be read is recorded with its ``error``; its cells then fail as
    before, each with the same message.
    """
    from molssl.data import locate_dataset_file

    records: dict[str, Any] = {}
    for task in tasks:
        ft = finetune_config(Method("random-init", "random-init", None), task, 0, cfg)
        try:
            path = Path(ft.csv) if ft.csv else locate_dataset_file(ft.task, ft.data_dir)
            records[task] = task_protocol(ft, list(cfg.seeds), path)
        except (OSError, ValueError) as err:
            records[task] = {"error": f"{type(err).__name__}: {err}"[:_MAX_ERROR_CHARS]}
    ft_fields = {
        k: v
        for k, v in to_dict(
            finetune_config(Method("random-init", "random-init", None), tasks[0], 0, cfg)
        ).items()
        if k not in _CELL_FIELDS and k not in _NOT_RECORDED
    }
    selection = {
        m.label: {
            "spec": portable_spec(m, cfg.data_dir),
            "selection": SELECTION_RULES.get(m.kind, SELECTION_RULES["finetune"]),
            **(
                _baseline_settings(m.kind, cfg)
                if m.kind in BASELINES
                else {"encoder": encoder_record(m, tasks[0], cfg)}
            ),
        }
        for m in methods
    }
    return {
        "format_version": PROTOCOL_VERSION,
        "profile": cfg.profile,
        "search_budget": cfg.search,
        "search_seed": cfg.search_seed if cfg.search else None,
        "finetune": ft_fields,
        "single_class_targets": SINGLE_CLASS_RULE,
        "tasks": records,
        "methods": selection,
        "runs": [run_entry()],
    }
