"""Classical baselines on ECFP4 bits (scikit-learn), one model per target.

- ``ecfp-rf``: a random forest with class-balanced weights for classification (``class_weight=
  "balanced"``: the rare actives of HIV, MUV or ClinTox weigh as much as the inactives);
- ``ecfp-mlp``: a one-hidden-layer MLP (512 units, Adam, early stopping on 10% of the training
  rows), regression targets standardised on the training rows.

Recent benchmarks find fingerprint models hard to beat on MoleculeNet-sized data (e.g. Deng et
al., 2023, "A systematic study of key elements underlying molecular property prediction", Nat.
Commun.). Each target gets its own model trained on the training rows where its label is
present; the same task molecules and split as the graph methods are used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from molssl.finetune.tasks import TaskData, task_fingerprints
from molssl.finetune.training import evaluate, extra_metrics
from molssl.metrics import get_metric
from molssl.splits import Split

logger = logging.getLogger(__name__)


@dataclass
class BaselineResult:
    """Test (and validation) metric of a baseline on one task and seed."""

    metric: str
    value: float
    per_target: dict[str, float]
    valid_value: float
    seconds: float
    n_train: int
    n_valid: int
    n_test: int
    extra_metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    """Epoch (1-based) of the selected weights for a trained model (chemprop); 0 otherwise."""
    best_rule: str = ""
    """What chose ``best_epoch`` (chemprop: ``"valid_loss"`` or, on a tie, ``"later_epoch"``);
    empty for a model without epochs."""


ModelFactory = Callable[[bool], object]
"""``factory(classification) -> unfitted scikit-learn estimator``."""


def _fit_predict(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray,
    classification: bool,
    factory: ModelFactory,
) -> np.ndarray:
    if classification:
        classes = np.unique(y_train)
        if classes.size < 2:
            return np.full(len(x_eval), float(classes[0]) if classes.size else 0.5)
        model = factory(True).fit(x_train, y_train.astype(int))
        return model.predict_proba(x_eval)[:, list(model.classes_).index(1)]
    return factory(False).fit(x_train, y_train).predict(x_eval)


def random_forest(n_estimators: int, seed: int, n_jobs: int = 1, **forest: Any) -> ModelFactory:
    """Forests of ``n_estimators`` trees; class-balanced weights for classification.

    ``forest``: further scikit-learn forest options (``max_features``, ``min_samples_leaf``).
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    def make(classification: bool) -> object:
        if classification:
            return RandomForestClassifier(
                n_estimators=n_estimators,
                random_state=seed,
                n_jobs=n_jobs,
                class_weight="balanced",
                **forest,
            )
        return RandomForestRegressor(
            n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, **forest
        )

    return make


def mlp(seed: int, hidden: int = 512, max_iter: int = 200) -> ModelFactory:
    """scikit-learn MLPs (one hidden layer, Adam, early stopping); standardised regression."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    def make(classification: bool) -> object:
        options = {
            "hidden_layer_sizes": (hidden,),
            "max_iter": max_iter,
            "random_state": seed,
            "early_stopping": True,
            "validation_fraction": 0.1,
        }
        if classification:
            return MLPClassifier(**options)
        return TransformedTargetRegressor(MLPRegressor(**options), transformer=StandardScaler())

    return make


def ecfp_rf(
    task: TaskData,
    split: Split,
    seed: int = 0,
    n_estimators: int = 500,
    n_jobs: int = 1,
    radius: int = 2,
    n_bits: int = 2048,
    max_features: str | float | None = None,
    min_samples_leaf: int = 1,
) -> BaselineResult:
    """ECFP (radius 2, 2048 bits) + random forest (class-balanced) on a prepared task.

    Args:
        task: Prepared task (its molecules define the fingerprint rows).
        split: ``(train_idx, valid_idx, test_idx)`` shared with the other methods.
        seed: ``random_state`` of every forest.
        n_estimators: Trees per forest (full profile 500, quick 100).
        n_jobs: Processes per forest (keep 1-2 on a shared CPU).
        radius, n_bits: Fingerprint radius (2 = ECFP4) and length.
        max_features: Features tried per split (``"sqrt"``, ``"log2"``, a fraction);
            ``None`` keeps scikit-learn's default (``"sqrt"`` classification, all regression).
        min_samples_leaf: Fewest training molecules per leaf. Default 1.

    Returns / Raises: see :func:`ecfp_baseline`.
    """
    forest: dict[str, Any] = {"min_samples_leaf": min_samples_leaf}
    if max_features is not None:
        forest["max_features"] = max_features
    factory = random_forest(n_estimators, seed, n_jobs, **forest)
    return ecfp_baseline(task, split, factory, radius, n_bits)


def ecfp_mlp(
    task: TaskData, split: Split, seed: int = 0, radius: int = 2, n_bits: int = 2048
) -> BaselineResult:
    """ECFP (radius 2, 2048 bits) + scikit-learn MLP (see :func:`mlp`) on a prepared task.

    Returns / Raises: see :func:`ecfp_baseline`.
    """
    return ecfp_baseline(task, split, mlp(seed), radius, n_bits)


def ecfp_baseline(
    task: TaskData,
    split: Split,
    factory: ModelFactory,
    radius: int = 2,
    n_bits: int = 2048,
) -> BaselineResult:
    """One scikit-learn model per target on ECFP bits of a prepared task.

    Args:
        task: Prepared task (its molecules define the fingerprint rows).
        split: ``(train_idx, valid_idx, test_idx)`` shared with the other methods.
        factory: Builds the unfitted estimator (:func:`random_forest`, :func:`mlp`).
        radius, n_bits: Fingerprint radius (2 = ECFP4) and length.

    Returns:
        :class:`BaselineResult`. A target with one class in its training rows predicts that
        class's constant probability (logged); targets with a single class in the test split are
        skipped by the metric with a warning.

    Raises:
        ValueError: If every target is unscorable on the test split.
    """
    start = time.perf_counter()
    fps = task_fingerprints(task, radius, n_bits)
    train, valid, test = split
    classification = task.spec.task_type == "classification"
    n_targets = task.targets.shape[1]
    pred = np.full((len(valid) + len(test), n_targets), np.nan)
    evaluate_rows = np.concatenate([valid, test])
    for t in range(n_targets):
        labelled = train[~np.isnan(task.targets[train, t])]
        if len(labelled) == 0:
            logger.warning("%s: target %r has no training labels", task.name, task.target_names[t])
            pred[:, t] = 0.5 if classification else 0.0
            continue
        if classification and np.unique(task.targets[labelled, t]).size < 2:
            logger.warning(
                "%s: target %r has one class in train; constant prediction",
                task.name,
                task.target_names[t],
            )
        pred[:, t] = _fit_predict(
            fps[labelled], task.targets[labelled, t], fps[evaluate_rows], classification, factory
        )
    return score_baseline(task, split, pred[: len(valid)], pred[len(valid) :], start)


def score_baseline(
    task: TaskData, split: Split, valid_pred: np.ndarray, test_pred: np.ndarray, start: float
) -> BaselineResult:
    """Score a baseline's validation and test predictions as every method is scored.

    Args:
        task, split: The prepared task and its ``(train, valid, test)`` indices.
        valid_pred, test_pred: Predictions ``[len(valid), T]`` and ``[len(test), T]``
            (probabilities for classification).
        start: ``time.perf_counter()`` when the baseline started (for ``seconds``).
    """
    metric = get_metric(task.spec.metric)
    train, valid, test = split
    valid_value, _ = evaluate(
        metric, task.targets[valid], valid_pred, task.target_names, quiet=True
    )
    value, per_target = evaluate(
        metric, task.targets[test], test_pred, task.target_names, quiet=False
    )
    return BaselineResult(
        metric=metric.name,
        value=value,
        per_target=dict(zip(task.target_names, per_target, strict=True)),
        valid_value=valid_value,
        seconds=time.perf_counter() - start,
        n_train=len(train),
        n_valid=len(valid),
        n_test=len(test),
        extra_metrics=extra_metrics(
            task.spec.extra_metrics, task.targets[test], test_pred, task.target_names
        ),
    )
