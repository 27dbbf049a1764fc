"""Classical baseline: ECFP4 bits + random forest (scikit-learn), one forest per target.

Recent benchmarks find this hard to beat on MoleculeNet-sized data (e.g. Deng et al., 2023,
"A systematic study of key elements underlying molecular property prediction", Nat. Commun.).
Each target gets its own forest trained on the training rows where its label is present; the
same task molecules and split as the graph methods are used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from molssl.finetune.tasks import TaskData, task_fingerprints
from molssl.finetune.training import evaluate
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


def _fit_predict(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray,
    classification: bool,
    n_estimators: int,
    seed: int,
    n_jobs: int,
    forest: dict,
) -> np.ndarray:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if classification:
        classes = np.unique(y_train)
        if classes.size < 2:
            return np.full(len(x_eval), float(classes[0]) if classes.size else 0.5)
        forest = RandomForestClassifier(
            n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, class_weight=None, **forest
        ).fit(x_train, y_train.astype(int))
        return forest.predict_proba(x_eval)[:, list(forest.classes_).index(1)]
    forest = RandomForestRegressor(
        n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, **forest
    )
    return forest.fit(x_train, y_train).predict(x_eval)


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
    """ECFP (radius 2, 2048 bits) + random forest on a prepared task.

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
    metric = get_metric(task.spec.metric)
    forest: dict = {"min_samples_leaf": min_samples_leaf}
    if max_features is not None:
        forest["max_features"] = max_features
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
            logger.warning("%s: target %r has one class in train; constant prediction",
                           task.name, task.target_names[t])  # fmt: skip
        pred[:, t] = _fit_predict(fps[labelled], task.targets[labelled, t], fps[evaluate_rows],
                                  classification, n_estimators, seed, n_jobs, forest)  # fmt: skip
    valid_value, _ = evaluate(metric, task.targets[valid], pred[: len(valid)], task.target_names,
                              quiet=True)  # fmt: skip
    value, per_target = evaluate(metric, task.targets[test], pred[len(valid) :],
                                 task.target_names, quiet=False)  # fmt: skip
    return BaselineResult(
        metric=metric.name,
        value=value,
        per_target=dict(zip(task.target_names, per_target, strict=True)),
        valid_value=valid_value,
        seconds=time.perf_counter() - start,
        n_train=len(train),
        n_valid=len(valid),
        n_test=len(test),
    )
