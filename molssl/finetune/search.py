"""Hyperparameter search of fine-tuning on the validation split (``molssl finetune --search N``).

MolCLR's published numbers come from per-dataset settings that were never released. Ours are
searched: :func:`search_finetune` runs ``N`` Optuna trials (TPE, seeded; see
:func:`molssl.finetune.study.run_study`) over the settings of :func:`finetune_space`, each trial
a full fine-tuning run scored by its best validation metric, never the test split. Trial 0 runs
the config's own settings (:func:`default_params`), and every trial stops early exactly as a run
without search does (the config's or profile's patience), so the best trial is never worse on
validation than the defaults. The best settings (:func:`~molssl.finetune.study.best_settings`)
are then retrained on the run seeds and recorded in ``search.json`` beside the defaults' value. The benchmark gives the ECFP + random-forest baseline the same
number of trials (:mod:`molssl.benchmark.tuning`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

from molssl.finetune.study import SearchResult, Space, run_study

logger = logging.getLogger(__name__)

PARAM_NAMES_FINETUNE = (
    "encoder_lr",
    "head_lr",
    "weight_decay",
    "dropout",
    "batch_size",
    "epochs",
    "pooling",
)
"""Settings :func:`search_finetune` tunes (``pooling`` only for a random encoder)."""


def finetune_space(trial: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Sample fine-tuning settings around MolCLR's defaults.

    ``info["max_epochs"]`` bounds the epochs (the profile's or the config's, e.g. 15 quick,
    100 full). ``pooling`` is searched only when ``info["pooling"]`` is true (a random encoder:
    a pretrained encoder keeps its own readout). Every range is widened to hold
    ``info["defaults"]`` (:func:`default_params`), so the defaults can run as trial 0.
    """
    top = int(info["max_epochs"])
    d = info.get("defaults", {})

    def span(name: str, low: float, high: float, log: bool = False) -> tuple[float, float]:
        value = d.get(name)
        if value is None or (log and value <= 0):  # 0 cannot lie in a log range; still run
            return low, high
        return min(low, value), max(high, value)

    def choices(name: str, options: list[Any]) -> list[Any]:
        value = d.get(name)
        return options if value is None or value in options else [*options, value]

    dropout = d.get("dropout")
    on_grid = dropout is None or abs(dropout * 20 - round(dropout * 20)) < 1e-9
    step = 0.05 if on_grid else None  # a default off the 0.05 grid must stay reachable
    params = {
        "encoder_lr": trial.suggest_float(
            "encoder_lr", *span("encoder_lr", 1e-5, 1e-3, True), log=True
        ),
        "head_lr": trial.suggest_float("head_lr", *span("head_lr", 1e-4, 1e-2, True), log=True),
        "weight_decay": trial.suggest_float(
            "weight_decay", *span("weight_decay", 1e-7, 1e-3, True), log=True
        ),
        "dropout": trial.suggest_float("dropout", *span("dropout", 0.0, 0.5), step=step),
        "batch_size": trial.suggest_categorical(
            "batch_size", choices("batch_size", [16, 32, 64, 128])
        ),
        "epochs": trial.suggest_int("epochs", max(1, math.ceil(top / 3)), top),
    }
    if info.get("pooling"):
        params["pooling"] = trial.suggest_categorical(
            "pooling", choices("pooling", ["mean", "sum", "max"])
        )
    return params


FINETUNE_SPACE: Space = finetune_space


def default_params(cfg: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The settings of ``cfg`` in :func:`finetune_space`'s names: what a run without search uses.

    ``epochs`` is ``info["max_epochs"]``; ``pooling`` (only when ``info["pooling"]``) is the
    encoder's, else :class:`~molssl.models.EncoderConfig`'s default.
    """
    from molssl.models.config import EncoderConfig

    params = {name: getattr(cfg, name) for name in PARAM_NAMES_FINETUNE[:5]}
    params["epochs"] = int(info["max_epochs"])
    if info.get("pooling"):
        params["pooling"] = cfg.encoder.get("pooling", EncoderConfig.pooling)
    return params


def apply_params(cfg: Any, params: dict[str, Any]) -> Any:
    """``cfg`` (a :class:`~molssl.finetune.FinetuneConfig`) with searched settings applied.

    ``pooling`` goes into ``cfg.encoder``; the other names are config fields.
    """
    fields = {k: v for k, v in params.items() if k != "pooling"}
    if "pooling" in params:
        fields["encoder"] = {**cfg.encoder, "pooling": params["pooling"]}
    return dataclasses.replace(cfg, **fields)


def _identity(cfg: Any, exclude: tuple[str, ...]) -> dict[str, Any]:
    from molssl.contrastive.config import to_dict

    unset = {k for k in ("split_file", "valid_splitter") if getattr(cfg, k, None) is None}
    if not getattr(cfg, "standardize", False):
        unset.add("standardize")
    return {k: v for k, v in to_dict(cfg).items() if k not in exclude and k not in unset}


def search_finetune(
    cfg: Any,
    n_trials: int,
    out_dir: str | Path,
    *,
    method: str | None = None,
    sampler_seed: int = 0,
) -> SearchResult:
    """Search fine-tuning settings for ``cfg``'s task and init on the validation split.

    Every trial is ``finetune(cfg)`` with sampled settings (see :func:`finetune_space`), trained
    at ``cfg.seed`` with the early stopping of a run without search (``cfg.patience``, else the
    profile's: none, every epoch runs) and scored by its best validation metric. Trial 0 runs
    ``cfg``'s own settings (:func:`default_params`); ``extra["defaults"]`` of the result holds
    its value. Nothing is written but ``study.db``.

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
    from molssl.finetune import run
    from molssl.finetune.config import portable_settings
    from molssl.finetune.profiles import get_profile
    from molssl.metrics import get_metric

    loaded = run.load_init(cfg)  # fails early on a bad init
    task = run.load_task(cfg, loaded.featurizer)
    metric = get_metric(task.spec.metric)
    max_epochs = cfg.epochs or get_profile(cfg.profile).epochs
    patience = cfg.patience if cfg.patience is not None else get_profile(cfg.profile).patience
    fixed = {"patience": patience}
    base = dataclasses.replace(
        cfg, out_dir=None, save_model=False, progress=False, resume=False, conformal=None, **fixed
    )

    def objective(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        res = run.finetune(apply_params(base, params))
        return res.valid_value, {
            "epochs_run": res.epochs,
            "best_epoch": res.best_epoch,
            "best_rule": res.best_rule,
        }

    exclude = (
        *PARAM_NAMES_FINETUNE,
        "out_dir",
        "device",
        "progress",
        "save_model",
        "seed",
        "resume",
        "conformal",
        "flush_denormal",
    )
    info: dict[str, Any] = {
        "max_epochs": max_epochs,
        "pooling": cfg.init.partition(":")[0] == "random",
    }
    info["defaults"] = default_params(cfg, info)
    identity = {**_identity(base, exclude), **info}
    result = run_study(
        objective,
        FINETUNE_SPACE,
        info,
        task=task.name,
        method=method or cfg.init,
        metric=metric.name,
        higher_is_better=metric.higher_is_better,
        n_trials=n_trials,
        out_dir=out_dir,
        identity=portable_settings(identity),
        former_identities=[identity],
        sampler_seed=sampler_seed,
        trial_seed=cfg.seed,
        defaults=info["defaults"],
    )
    return dataclasses.replace(result, extra={**result.extra, "fixed": fixed})


def search_then_finetune(
    cfg: Any, n_trials: int, *, ensemble: int | None = None, sampler_seed: int = 0
) -> tuple[SearchResult, Any]:
    """``molssl finetune --search N``: search, retrain the best settings, record both.

    The study (``study.db``) and the record (``search.json``) go to ``cfg.out_dir``, beside the
    retrained run (or the ensemble's members, seeds ``cfg.seed``, ``cfg.seed + 1``, ...).

    Args:
        cfg: :class:`~molssl.finetune.FinetuneConfig` with ``out_dir`` set.
        n_trials: Finished trials wanted in the study (an interrupted search resumes).
        ensemble: Members to retrain (``None``: one run at ``cfg.seed``).
        sampler_seed: Seed of trial 0's TPE sampler.

    Returns:
        ``(search result, FinetuneResult or EnsembleResult of the retrained settings)``.

    Raises:
        ConfigError: ``cfg.out_dir`` is ``None``.
        FileExistsError: ``cfg.out_dir`` holds a finished run (or ensemble member) and
            ``cfg.resume`` is False; raised before the search.
    """
    from molssl.contrastive.config import ConfigError
    from molssl.finetune import run
    from molssl.finetune.ensemble import finetune_ensemble, member_dir
    from molssl.finetune.study import best_settings, record_search

    if cfg.out_dir is None:
        raise ConfigError("--search keeps its study in the output folder: give --out (out_dir)")
    if not cfg.resume:  # refuse a finished run now, not after a search of many trials
        for folder in (cfg.out_dir, member_dir(cfg.out_dir, 0)):
            run.check_out_dir(dataclasses.replace(cfg, out_dir=str(folder)))
    found = search_finetune(cfg, n_trials, cfg.out_dir, sampler_seed=sampler_seed)
    best = apply_params(cfg, best_settings(found))
    if ensemble is not None:
        retrained = finetune_ensemble(best, ensemble)
        runs = retrained.members
    else:
        retrained = run.finetune(best)
        runs = [retrained]
    rows = [{"seed": r.seed, "value": r.value, "valid_value": r.valid_value} for r in runs]
    record = record_search(cfg.out_dir, found, rows)
    if record["tasks"][found.task][found.method]["worse_than_defaults"]:
        logger.warning("%s", worse_note(found, rows))
    return found, retrained


def worse_note(found: SearchResult, retrained: list[dict[str, Any]]) -> str:
    """One line saying the retrained runs fell below the defaults' validation value."""
    values = [r["valid_value"] for r in retrained]
    mean = sum(values) / len(values)
    return (
        f"the retrained runs' mean validation {found.metric} {mean:.4f} is worse than the "
        f"default settings' {found.extra['defaults']['value']:.4f} (trial 0, seed "
        f"{found.trial_seed}); compare the runs, or train without --search"
    )


def search_summary(found: SearchResult) -> str:
    """``defaults (trial 0) V0, best (trial k) Vk`` of a search, as ``finetune --search`` prints.

    Example: ``validation rmse: defaults (trial 0) 0.5310, best (trial 7) 0.4982 of 10 trials``.
    """
    defaults = found.extra.get("defaults")
    if defaults is None:
        head = "defaults not run"
    elif defaults["value"] is None:
        head = f"defaults (trial {defaults['trial']}) failed"
    else:
        head = f"defaults (trial {defaults['trial']}) {defaults['value']:.4f}"
    same = defaults is not None and defaults["trial"] == found.best_trial
    return (
        f"validation {found.metric}: {head}, best (trial {found.best_trial}) "
        f"{found.best_value:.4f} of {found.n_trials} trials"
        + (" (the defaults were best)" if same else "")
    )
