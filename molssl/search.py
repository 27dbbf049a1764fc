"""Hyperparameter search on the validation split with Optuna (``--search N``).

MolCLR's published numbers come from per-dataset settings that were never released. Ours are
searched: :func:`search_finetune` runs ``N`` Optuna trials (TPE, seeded) over the fine-tuning
settings in :data:`FINETUNE_SPACE`, each trial a full fine-tuning run scored by its best
validation metric, never the test split; :func:`search_ecfp_rf` gives the ECFP + random-forest
baseline the same number of trials over :data:`RF_SPACE`. The best settings are then retrained
on every run seed by the caller (``molssl finetune --search N`` / ``molssl benchmark --search
N``) and recorded with :func:`record_search` in ``search.json``.

Every study lives in the SQLite file ``study.db`` of the output folder, named after the task,
the method and a hash of everything else that determines a trial, so an interrupted search
resumes (``load_if_exists``) and a changed setting starts a new study. Trial ``k`` samples with
a sampler seeded ``seed + k``, so a resumed search proposes exactly what an uninterrupted one
would have. Only finished trials count towards ``N``: one cut short by Ctrl-C or a kill is run
again, one that failed on its own (its error kept as a user attribute) is not. One process per
study at a time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STUDY_FILE = "study.db"
"""SQLite file of every study in an output folder."""

SPACE_VERSION = 1
"""Bumped when a search space changes, so old studies are not resumed with a new space."""

PARAM_NAMES_FINETUNE = (
    "encoder_lr", "head_lr", "weight_decay", "dropout", "batch_size", "epochs", "pooling",
)  # fmt: skip
"""Settings :func:`search_finetune` tunes (``pooling`` only for a random encoder)."""


class SearchError(RuntimeError):
    """A search could not produce a best setting (every trial failed)."""


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one study.

    Attributes:
        task, method: What was searched (``method`` as the benchmark labels it).
        metric, direction: Validation metric and ``"maximize"`` / ``"minimize"``.
        best_params: Best trial's settings (names of :data:`FINETUNE_SPACE` or
            :data:`RF_SPACE`).
        best_value: Its validation metric.
        best_trial: Its trial number.
        n_trials: Finished trials in the study (complete or failed on their own).
        search_seconds: Summed wall time of those trials (across resumed calls).
        seconds: Wall time of this call.
        study_name, storage: Where the study lives.
        sampler_seed, trial_seed: Seed of trial 0's sampler; seed every trial trains with.
    """

    task: str
    method: str
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    n_trials: int
    search_seconds: float
    seconds: float
    study_name: str
    storage: str
    sampler_seed: int
    trial_seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


Space = Callable[[Any, dict[str, Any]], dict[str, Any]]


def finetune_space(trial: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Sample fine-tuning settings (MolCLR's defaults are inside every range).

    ``info["max_epochs"]`` bounds the epochs (the profile's or the config's, e.g. 15 quick,
    100 full); early stopping (``info["patience"]``) ends a trial that stops improving.
    ``pooling`` is searched only when ``info["pooling"]`` is true (a random encoder: a
    pretrained encoder keeps its own readout).
    """
    top = int(info["max_epochs"])
    params = {
        "encoder_lr": trial.suggest_float("encoder_lr", 1e-5, 1e-3, log=True),
        "head_lr": trial.suggest_float("head_lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-7, 1e-3, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.05),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
        "epochs": trial.suggest_int("epochs", max(1, math.ceil(top / 3)), top),
    }
    if info.get("pooling"):
        params["pooling"] = trial.suggest_categorical("pooling", ["mean", "sum", "max"])
    return params


def rf_space(trial: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Sample random-forest settings: trees, features per split, samples per leaf."""
    del info
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 0.2, 0.5, 1.0]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 10),
    }


FINETUNE_SPACE: Space = finetune_space
RF_SPACE: Space = rf_space


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        from molssl.config import ConfigError

        raise ConfigError(
            "hyperparameter search needs Optuna, which is not installed: "
            "pip install 'molssl[search]'"
        ) from None
    return optuna


def study_name(task: str, method: str, identity: dict[str, Any]) -> str:
    """``TASK/METHOD/HASH``: HASH covers everything besides the sampled settings."""
    blob = json.dumps({**identity, "space_version": SPACE_VERSION}, sort_keys=True, default=str)
    return f"{task}/{method}/{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _counted(trial: Any) -> bool:
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs
    )


def run_study(
    objective: Callable[[dict[str, Any]], tuple[float, dict[str, Any]]],
    space: Space,
    space_info: dict[str, Any],
    *,
    task: str,
    method: str,
    metric: str,
    higher_is_better: bool,
    n_trials: int,
    out_dir: str | Path,
    identity: dict[str, Any],
    sampler_seed: int = 0,
    trial_seed: int = 0,
) -> SearchResult:
    """Run (or resume) a study until it holds ``n_trials`` finished trials.

    Args:
        objective: ``params -> (validation value, attributes to keep)``; may raise.
        space: Sampler of the settings (e.g. :func:`finetune_space`).
        space_info: Passed to ``space`` (epoch bound, whether pooling is searched).
        task, method, metric: Names recorded in the result.
        higher_is_better: Direction of ``metric``.
        n_trials: Total finished trials wanted in the study (not trials of this call).
        out_dir: Folder of ``study.db``.
        identity: Everything that determines a trial besides its sampled settings.
        sampler_seed: Trial ``k`` samples with ``TPESampler(seed=sampler_seed + k)``.
        trial_seed: Recorded; the seed the objective trains with.

    Returns:
        :class:`SearchResult`.

    Raises:
        ValueError: If ``n_trials < 1``.
        SearchError: If every trial failed.
        KeyboardInterrupt: Passed on; the study keeps its finished trials.
    """
    optuna = _import_optuna()
    from optuna.samplers import TPESampler

    if n_trials < 1:
        raise ValueError(f"--search needs at least 1 trial, got {n_trials}")
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / STUDY_FILE).resolve()}"
    name = study_name(task, method, {**identity, "trial_seed": trial_seed, "metric": metric})
    direction = "maximize" if higher_is_better else "minimize"
    study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                load_if_exists=True)  # fmt: skip

    def wrapped(trial: Any) -> float:
        params = space(trial, space_info)
        try:
            value, attrs = objective(params)
        except Exception as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            raise
        for key, item in attrs.items():
            trial.set_user_attr(key, item)
        if math.isnan(value):
            trial.set_user_attr("error", f"validation {metric} is NaN")
        return value

    done = sum(_counted(t) for t in study.get_trials(deepcopy=False))
    if done:
        logger.info("resuming study %s: %d of %d trials done", name, done, n_trials)
    while done < n_trials:
        study.sampler = TPESampler(seed=sampler_seed + done)
        study.optimize(wrapped, n_trials=1, catch=(Exception,))
        done = sum(_counted(t) for t in study.get_trials(deepcopy=False))
    trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        first = trials[0].user_attrs.get("error", "unknown error") if trials else "no trials"
        raise SearchError(f"{task} / {method}: all {len(trials)} search trials failed ({first})")
    best = study.best_trial
    result = SearchResult(
        task=task,
        method=method,
        metric=metric,
        direction=direction,
        best_params=dict(best.params),
        best_value=float(best.value),
        best_trial=best.number,
        n_trials=len(trials),
        search_seconds=sum(t.duration.total_seconds() for t in trials if t.duration),
        seconds=time.perf_counter() - start,
        study_name=name,
        storage=STUDY_FILE,
        sampler_seed=sampler_seed,
        trial_seed=trial_seed,
        extra={"best_attrs": dict(best.user_attrs)},
    )
    logger.info("search %s / %s: best validation %s %.4f at trial %d of %d (%.0f s)", task,
                method, metric, result.best_value, best.number, len(trials),
                result.search_seconds)  # fmt: skip
    return result


def default_patience(max_epochs: int) -> int:
    """Early-stopping patience of search trials: a fifth of the epochs, at least 3."""
    return max(3, max_epochs // 5)


def apply_params(cfg: Any, params: dict[str, Any]) -> Any:
    """``cfg`` (a :class:`~molssl.finetune.FinetuneConfig`) with searched settings applied.

    ``pooling`` goes into ``cfg.encoder``; the other names are config fields.
    """
    fields = {k: v for k, v in params.items() if k != "pooling"}
    if "pooling" in params:
        fields["encoder"] = {**cfg.encoder, "pooling": params["pooling"]}
    return dataclasses.replace(cfg, **fields)


def _identity(cfg: Any, exclude: tuple[str, ...]) -> dict[str, Any]:
    from molssl.config import to_dict

    return {k: v for k, v in to_dict(cfg).items() if k not in exclude}


def search_finetune(
    cfg: Any, n_trials: int, out_dir: str | Path, *, method: str | None = None,
    sampler_seed: int = 0,
) -> SearchResult:  # fmt: skip
    """Search fine-tuning settings for ``cfg``'s task and init on the validation split.

    Every trial is ``finetune(cfg)`` with sampled settings (see :func:`finetune_space`), trained
    at ``cfg.seed``, with early stopping (``cfg.patience``, else :func:`default_patience`) and
    scored by its best validation metric. Nothing is written but ``study.db``.

    Args:
        cfg: :class:`~molssl.finetune.FinetuneConfig` of the runs; the searched fields are
            overwritten per trial.
        n_trials: Finished trials wanted in the study.
        out_dir: Folder of ``study.db``.
        method: Name in the study and record (default: ``cfg.init``).
        sampler_seed: Seed of trial 0's TPE sampler.

    Returns:
        :class:`SearchResult`; ``best_params`` plus ``extra["fixed"]`` (the patience) give the
        settings to retrain with (:func:`best_settings`).

    Raises:
        SearchError: Every trial failed. Errors of the task or init (unknown task, missing
            checkpoint, bad CSV) are raised before the first trial.
    """
    from molssl.benchmark.inits import load_init
    from molssl.benchmark.profiles import get_profile
    from molssl.finetune import finetune, load_task
    from molssl.metrics import get_metric

    loaded = load_init(cfg.init, cfg.dropout, cfg.encoder)  # fails early on a bad init
    task = load_task(cfg, loaded.featurizer)
    metric = get_metric(task.spec.metric)
    max_epochs = cfg.epochs or get_profile(cfg.profile).epochs
    patience = cfg.patience if cfg.patience is not None else default_patience(max_epochs)
    fixed = {"patience": patience}
    base = dataclasses.replace(cfg, out_dir=None, save_model=False, progress=False, **fixed)

    def objective(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        res = finetune(apply_params(base, params))
        return res.valid_value, {"epochs_run": res.epochs, "best_epoch": res.best_epoch}

    exclude = (*PARAM_NAMES_FINETUNE, "out_dir", "device", "progress", "save_model", "seed")
    info = {"max_epochs": max_epochs, "pooling": cfg.init.partition(":")[0] == "random"}
    result = run_study(objective, FINETUNE_SPACE, info, task=task.name,
                       method=method or cfg.init, metric=metric.name,
                       higher_is_better=metric.higher_is_better, n_trials=n_trials,
                       out_dir=out_dir, identity={**_identity(base, exclude), **info},
                       sampler_seed=sampler_seed, trial_seed=cfg.seed)  # fmt: skip
    return dataclasses.replace(result, extra={**result.extra, "fixed": fixed})


def best_settings(result: SearchResult) -> dict[str, Any]:
    """The settings to retrain with: the best trial's sampled ones plus the fixed ones."""
    return {**result.best_params, **result.extra.get("fixed", {})}


def search_ecfp_rf(
    cfg: Any, n_trials: int, out_dir: str | Path, *, method: str = "ecfp-rf",
    sampler_seed: int = 0, n_jobs: int = 1,
) -> SearchResult:  # fmt: skip
    """Search the ECFP + random-forest baseline's settings (:func:`rf_space`) on validation.

    Args:
        cfg: :class:`~molssl.finetune.FinetuneConfig` naming the task, split and subsample
            (its init and training settings are not used); forests are seeded ``cfg.seed``.
        n_trials, out_dir, method, sampler_seed: As :func:`search_finetune`.
        n_jobs: Processes per forest.

    Returns:
        :class:`SearchResult` with ``best_params`` = ``n_estimators``, ``max_features``,
        ``min_samples_leaf`` (keyword arguments of :func:`~molssl.benchmark.baselines.ecfp_rf`).
    """
    from molssl.benchmark.baselines import ecfp_rf
    from molssl.benchmark.tasks import task_split
    from molssl.featurize import MolGraphFeaturizer
    from molssl.finetune import load_task
    from molssl.metrics import get_metric

    task = load_task(cfg, MolGraphFeaturizer())
    split = task_split(task, cfg.split, cfg.split_sizes, cfg.split_seed)
    metric = get_metric(task.spec.metric)

    def objective(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        res = ecfp_rf(task, split, seed=cfg.seed, n_jobs=n_jobs, **params)
        return res.valid_value, {}

    keep = ("task", "csv", "smiles_col", "targets", "task_type", "data_dir", "profile", "split",
            "split_sizes", "split_seed", "max_molecules")  # fmt: skip
    identity = {k: v for k, v in _identity(cfg, ()).items() if k in keep}
    return run_study(objective, RF_SPACE, {}, task=task.name, method=method,
                     metric=metric.name, higher_is_better=metric.higher_is_better,
                     n_trials=n_trials, out_dir=out_dir, identity=identity,
                     sampler_seed=sampler_seed, trial_seed=cfg.seed)  # fmt: skip


RECORD_FILE = "search.json"
"""The search record of an output folder: best settings per task and method."""

RECORD_VERSION = 1


def load_search_record(out_dir: str | Path) -> dict[str, Any]:
    """``search.json`` of ``out_dir`` (an empty record when absent).

    The record is ``{"format_version": 1, "tasks": {TASK: {METHOD: entry}}}`` where an entry
    holds the :class:`SearchResult` fields (``best_params``, ``best_value``, ``metric``,
    ``direction``, ``n_trials``, ``search_seconds``, ``study_name``, seeds, ``extra``) and,
    once the best settings were retrained, ``retrained``: one ``{seed, value, valid_value}`` per
    run seed (``value`` is the test metric). The benchmark's protocol record reads it.
    """
    path = Path(out_dir) / RECORD_FILE
    if not path.is_file():
        return {"format_version": RECORD_VERSION, "tasks": {}}
    return json.loads(path.read_text())


def record_search(
    out_dir: str | Path, result: SearchResult, retrained: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Merge ``result`` (and its retrained runs) into ``out_dir/search.json``, atomically.

    Args:
        out_dir: The output folder (the one holding ``study.db``).
        result: A finished search.
        retrained: ``{seed, value, valid_value}`` per run seed of the best settings.

    Returns:
        The whole record after the merge.
    """
    from molssl.benchmark.ledger import _locked

    path = Path(out_dir) / RECORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        record = load_search_record(out_dir)
        entry = {k: v for k, v in result.to_dict().items() if k not in ("task", "method")}
        if retrained is not None:
            entry["retrained"] = retrained
        record.setdefault("tasks", {}).setdefault(result.task, {})[result.method] = entry
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        tmp.replace(path)
    return record
