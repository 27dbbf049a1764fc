"""``molssl benchmark --search N``: equal search budgets for every method, ECFP + RF included.

The fine-tuned methods are searched with :func:`molssl.finetune.search.search_finetune`; the
ECFP + random-forest baseline gets the same number of trials over :func:`rf_space` (trees,
features per split, samples per leaf) through :func:`search_ecfp_rf`. :func:`searched_config`
gives the runner a suite config with a (task, method)'s best settings; the search runs once per
(task, method), its trials trained at the suite's first seed, and :func:`record_searches` writes
``search.json`` with the test values of the retrained seeds.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from molssl.benchmark.methods import BASELINES, METHOD_KINDS, Method, finetune_config
from molssl.finetune.study import SearchResult, Space, best_settings, record_search, run_study

logger = logging.getLogger(__name__)

SEARCHABLE = tuple(k for k in METHOD_KINDS if k not in BASELINES or k == "ecfp-rf")
"""Method kinds that ``search=N`` tunes (the fine-tuned encoders and the random forest)."""


RF_DEFAULTS: dict[str, Any] = {"n_estimators": 500, "max_features": None, "min_samples_leaf": 1}
"""The forest of an unsearched ``ecfp-rf`` (``max_features=None``: scikit-learn's default)."""


def rf_space(trial: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Sample random-forest settings: trees, features per split, samples per leaf.

    The ranges hold ``info["defaults"]`` (:data:`RF_DEFAULTS` with the profile's trees), so the
    defaults can run as trial 0.
    """
    d = info.get("defaults", {})
    trees = d.get("n_estimators")
    low, high = (50, 500) if trees is None else (min(50, trees), max(500, trees))
    features: list[Any] = ["sqrt", "log2", 0.2, 0.5, 1.0]
    if "max_features" in d and d["max_features"] not in features:
        features.append(d["max_features"])
    return {
        "n_estimators": trial.suggest_int("n_estimators", low, high, log=True),
        "max_features": trial.suggest_categorical("max_features", features),
        "min_samples_leaf": trial.suggest_int(
            "min_samples_leaf", 1, max(10, d.get("min_samples_leaf", 1))
        ),
    }


RF_SPACE: Space = rf_space


def search_ecfp_rf(
    cfg: Any,
    n_trials: int,
    out_dir: str | Path,
    *,
    method: str = "ecfp-rf",
    sampler_seed: int = 0,
    n_jobs: int = 1,
    defaults: dict[str, Any] | None = None,
) -> SearchResult:
    """Search the ECFP + random-forest baseline's settings (:func:`rf_space`) on validation.

    Trial 0 is the unsearched forest (:data:`RF_DEFAULTS` updated with ``defaults``);
    ``extra["defaults"]`` of the result holds its validation value.

    Args:
        cfg: :class:`~molssl.finetune.FinetuneConfig` naming the task, split and subsample
            (its init and training settings are not used); forests are seeded ``cfg.seed``.
        n_trials, out_dir, method, sampler_seed: As :func:`search_finetune`.
        n_jobs: Processes per forest.
        defaults: Settings of the unsearched forest that differ from :data:`RF_DEFAULTS`,
            e.g. ``{"n_estimators": 100}`` (the quick profile's trees).

    Returns:
        :class:`SearchResult` with ``best_params`` = ``n_estimators``, ``max_features``,
        ``min_samples_leaf`` (keyword arguments of :func:`~molssl.benchmark.baselines.ecfp_rf`).
    """
    from molssl.benchmark.baselines import ecfp_rf
    from molssl.featurize import MolGraphFeaturizer
    from molssl.finetune import load_task
    from molssl.finetune.config import data_settings, portable_settings
    from molssl.metrics import get_metric

    task = load_task(cfg, MolGraphFeaturizer())
    split = cfg.split_of(task).parts
    metric = get_metric(task.spec.metric)

    def objective(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        res = ecfp_rf(task, split, seed=cfg.seed, n_jobs=n_jobs, **params)
        return res.valid_value, {}

    info = {"defaults": {**RF_DEFAULTS, **(defaults or {})}}
    identity = {**data_settings(cfg), **info}
    return run_study(
        objective,
        RF_SPACE,
        info,
        task=task.name,
        method=method,
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


def rf_defaults(cfg: Any) -> dict[str, Any]:
    """The forest a suite ``cfg`` runs without search: its trees (or the profile's), its
    ``rf_params``."""
    from molssl.finetune.profiles import get_profile

    trees = cfg.rf_estimators or get_profile(cfg.profile).rf_estimators
    extra = {k: v for k, v in cfg.rf_params.items() if k in RF_DEFAULTS}
    return {**RF_DEFAULTS, "n_estimators": trees, **extra}


def searched_config(cell: Any, cfg: Any, searches: dict[tuple[str, str], Any]) -> Any:
    """The suite config ``cfg`` with the best settings of ``cell``'s (task, method).

    Args:
        cell: A :class:`~molssl.benchmark.runner.Cell`.
        cfg: The :class:`~molssl.benchmark.runner.BenchmarkConfig` (``cfg.search`` trials).
        searches: Results by (task, method label), filled here: the search runs on the first
            cell of its (task, method), its trials trained at ``cfg.seeds[0]``.

    Returns:
        ``cfg`` itself when ``cfg.search == 0`` or the method is not in :data:`SEARCHABLE`;
        else a copy whose ``finetune`` overrides (or ``rf_estimators`` / ``rf_params``) hold
        the best settings.

    Raises:
        Exception: The search's error (also for the later cells of that task and method).
    """
    from molssl.finetune.search import search_finetune

    if cfg.search == 0:
        return cfg
    if cell.method.kind not in SEARCHABLE:
        logger.info("%s is not searched; it keeps its default settings", cell.method.label)
        return cfg

    key = (cell.task, cell.method.label)
    if key not in searches:
        try:
            seed = cfg.seeds[0]
            if cell.method.kind == "ecfp-rf":
                ft = finetune_config(
                    Method("random-init", "random-init", None), cell.task, seed, cfg
                )
                searches[key] = search_ecfp_rf(
                    ft,
                    cfg.search,
                    cfg.out_dir,
                    method=cell.method.label,
                    sampler_seed=cfg.search_seed,
                    n_jobs=cfg.rf_jobs,
                    defaults=rf_defaults(cfg),
                )
            else:
                ft = finetune_config(cell.method, cell.task, seed, cfg)
                searches[key] = search_finetune(
                    ft,
                    cfg.search,
                    cfg.out_dir,
                    method=cell.method.label,
                    sampler_seed=cfg.search_seed,
                )
        except KeyboardInterrupt:
            raise
        except Exception as err:
            searches[key] = err
    found = searches[key]
    if isinstance(found, Exception):
        raise found
    settings = best_settings(found)
    if cell.method.kind == "ecfp-rf":
        params = dict(settings)
        return dataclasses.replace(cfg, rf_estimators=params.pop("n_estimators"), rf_params=params)
    overrides = {**cfg.finetune, **{k: v for k, v in settings.items() if k != "pooling"}}
    if "pooling" in settings:
        overrides["encoder"] = {**cfg.finetune.get("encoder", {}), "pooling": settings["pooling"]}
    return dataclasses.replace(cfg, finetune=overrides)


def record_searches(out: Path, searches: dict[tuple[str, str], Any], ledger: Any) -> None:
    """Write every finished search into ``out/search.json`` with its cells' test values, and
    the same entries into ``searches`` of ``out/protocol.json`` (the folder's protocol record)."""
    from molssl.benchmark.ledger import latest_ok
    from molssl.benchmark.protocol import record_protocol_searches

    done = latest_ok(ledger)
    entries: dict[str, dict[str, Any]] = {}
    for (task, label), found in searches.items():
        if isinstance(found, Exception):
            continue
        rows = done[(done["task"] == task) & (done["method"] == label)]
        retrained = [
            {"seed": int(r.seed), "value": float(r.value), "valid_value": float(r.valid_value)}
            for r in rows.itertuples()
        ]
        record = record_search(out, found, retrained)
        entries.setdefault(task, {})[label] = record["tasks"][found.task][found.method]
    if entries:
        record_protocol_searches(out, entries)
