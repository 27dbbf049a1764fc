"""Hyperparameter search of fine-tuning on the validation split (``molssl finetune --search N``).

MolCLR's published numbers come from per-dataset settings that were never released. Ours are
searched: :func:`search_finetune` runs ``N`` Optuna trials (TPE, seeded; see
:func:`molssl.finetune.study.run_study`) over the settings of :func:`finetune_space`, each trial
a full fine-tuning run scored by its best validation metric, never the test split. The best
settings (:func:`~molssl.finetune.study.best_settings`) are then retrained on the run seeds and
recorded in ``search.json``. The benchmark gives the ECFP + random-forest baseline the same
number of trials (:mod:`molssl.benchmark.tuning`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from molssl.finetune.study import SearchResult, Space, run_study

PARAM_NAMES_FINETUNE = (
    "encoder_lr", "head_lr", "weight_decay", "dropout", "batch_size", "epochs", "pooling",
)  # fmt: skip
"""Settings :func:`search_finetune` tunes (``pooling`` only for a random encoder)."""


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


FINETUNE_SPACE: Space = finetune_space


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
    from molssl.contrastive.config import to_dict

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
    from molssl.finetune import run
    from molssl.finetune.config import portable_settings
    from molssl.finetune.profiles import get_profile
    from molssl.metrics import get_metric
    from molssl.models.pretrained import load_pretrained

    loaded = load_pretrained(cfg.init, cfg.dropout, cfg.encoder)  # fails early on a bad init
    task = run.load_task(cfg, loaded.featurizer)
    metric = get_metric(task.spec.metric)
    max_epochs = cfg.epochs or get_profile(cfg.profile).epochs
    patience = cfg.patience if cfg.patience is not None else default_patience(max_epochs)
    fixed = {"patience": patience}
    base = dataclasses.replace(cfg, out_dir=None, save_model=False, progress=False, resume=False,
                               conformal=None, **fixed)  # fmt: skip

    def objective(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        res = run.finetune(apply_params(base, params))
        return res.valid_value, {"epochs_run": res.epochs, "best_epoch": res.best_epoch}

    exclude = (*PARAM_NAMES_FINETUNE, "out_dir", "device", "progress", "save_model", "seed",
               "resume", "conformal", "flush_denormal")  # fmt: skip
    info = {"max_epochs": max_epochs, "pooling": cfg.init.partition(":")[0] == "random"}
    identity = {**_identity(base, exclude), **info}
    result = run_study(objective, FINETUNE_SPACE, info, task=task.name,
                       method=method or cfg.init, metric=metric.name,
                       higher_is_better=metric.higher_is_better, n_trials=n_trials,
                       out_dir=out_dir, identity=portable_settings(identity),
                       former_identities=[identity], sampler_seed=sampler_seed,
                       trial_seed=cfg.seed)  # fmt: skip
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
    record_search(cfg.out_dir, found, [{"seed": r.seed, "value": r.value,
                                        "valid_value": r.valid_value} for r in runs])  # fmt: skip
    return found, retrained
