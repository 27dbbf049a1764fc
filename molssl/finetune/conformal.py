"""Split-conformal prediction: regression intervals and classification prediction sets.

Split (inductive) conformal prediction (Vovk et al., 2005; Lei et al., 2018; the tutorial of
Angelopoulos & Bates, 2023) turns any fitted model into one with a coverage guarantee: score how
wrong the model is on ``n`` held-out calibration molecules, take the
``ceil((n + 1) * confidence) / n`` empirical quantile ``q`` of those scores, and return for a new
molecule every answer whose score would be at most ``q``. If the calibration and new molecules
are exchangeable, the true answer is inside with probability at least ``confidence`` (and, with
continuous scores, at most ``confidence + 1 / (n + 1)``), whatever the model.

- Regression: score ``|y - y_hat|``; interval ``[y_hat - q, y_hat + q]`` in target units.
- Binary classification (one probability ``p = P(y = 1)`` per target): score ``1 - p(true
  class)`` (the "LAC" score); the set holds class 1 when ``1 - p <= q`` and class 0 when
  ``p <= q``, so it can be ``{0}``, ``{1}``, ``{0, 1}`` or empty.

Every target of a multi-task model is calibrated on its own labelled calibration rows (NaN labels
are skipped). Fewer than :func:`min_calibration` labels (9 for 90%) cannot support the requested
coverage: that target's quantile is ``inf`` (infinite intervals, full sets) and a warning is
logged.

Caveats users must know: the guarantee is marginal (on average over molecules, not for each
molecule), and it needs exchangeability. A scaffold split puts different scaffolds in validation
and test on purpose, and the best epoch is chosen on the same validation split, so measured test
coverage can fall below the target; ``benchmarks/uncertainty.py`` measures by how much.

MAPIE's ``SplitConformalRegressor`` / ``SplitConformalClassifier`` compute the same quantile for a
single-output scikit-learn estimator (``tests/test_conformal.py`` checks that they agree), but
they want an estimator that predicts from an ``X`` array, one output at a time, multi-class
``predict_proba`` and complete labels, and they are pickled objects. Our models read graphs, are
multi-task with missing labels, and must be saved inside a ``weights_only`` model file, so the
calibration here is a handful of floats (:class:`ConformalCalibration`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

TaskType = Literal["classification", "regression"]
METHOD = "split_conformal"
"""The ``method`` entry of a stored calibration."""

SCORES: dict[str, str] = {
    "regression": "absolute_residual",
    "classification": "one_minus_true_class_probability",
}
"""Non-conformity score by task type (recorded in :class:`ConformalCalibration`)."""


def conformal_quantile(scores: np.ndarray, confidence: float) -> float:
    """The split-conformal threshold: the ``ceil((n + 1) * confidence)``-th smallest score.

    Args:
        scores: ``n`` non-conformity scores of the calibration set (NaN entries are dropped).
        confidence: Target coverage ``1 - alpha`` in ``(0, 1)``, e.g. ``0.9``.

    Returns:
        The threshold ``q``; ``inf`` when ``n`` is too small for the requested coverage
        (``ceil((n + 1) * confidence) > n``).

    Raises:
        ValueError: If ``confidence`` is not in ``(0, 1)``.
    """
    _check_confidence(confidence)
    values = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    values = values[~np.isnan(values)]
    n = values.size
    # The small epsilon keeps e.g. (99 + 1) * 0.9 = 90.00000000000001 from rounding up to 91.
    rank = math.ceil((n + 1) * confidence - 1e-9)
    if rank > n:
        return math.inf
    return float(values[rank - 1])


def min_calibration(confidence: float) -> int:
    """The fewest calibration labels that give a finite threshold (9 for 0.9, 19 for 0.95)."""
    _check_confidence(confidence)
    return math.ceil(confidence / (1.0 - confidence) - 1e-9)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"conformal confidence must be in (0, 1), e.g. 0.9 for 90% coverage; got {confidence}"
        )


def _as_2d(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be [N] or [N, T], got shape {array.shape}")
    return array


@dataclass(frozen=True)
class ConformalCalibration:
    """Per-target split-conformal thresholds: a few plain values, safe in a ``weights_only`` file.

    Attributes:
        task_type: ``"regression"`` or ``"classification"``.
        confidence: Requested coverage (``0.9``).
        quantiles: Threshold ``q`` per target (``inf`` where too few calibration labels).
        n_calibration: Labelled calibration molecules per target.
        targets: Target names.
        score: The non-conformity score (see :data:`SCORES`).
    """

    task_type: TaskType
    confidence: float
    quantiles: tuple[float, ...]
    n_calibration: tuple[int, ...]
    targets: tuple[str, ...]
    score: str = ""

    def __post_init__(self) -> None:
        if self.task_type not in SCORES:
            raise ValueError(f"unknown task_type {self.task_type!r}; use one of {sorted(SCORES)}")
        _check_confidence(self.confidence)
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        object.__setattr__(self, "n_calibration", tuple(int(n) for n in self.n_calibration))
        object.__setattr__(self, "targets", tuple(str(t) for t in self.targets))
        if not self.score:
            object.__setattr__(self, "score", SCORES[self.task_type])
        if not len(self.quantiles) == len(self.n_calibration) == len(self.targets):
            raise ValueError(
                f"quantiles ({len(self.quantiles)}), n_calibration ({len(self.n_calibration)}) "
                f"and targets ({len(self.targets)}) must have one entry per target"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of str/float/int/list (``inf`` kept as a float), ``method`` first."""
        data = asdict(self)
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        return {"method": METHOD, **plain}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConformalCalibration:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: On missing or inconsistent fields.
        """
        try:
            return cls(
                task_type=data["task_type"],
                confidence=float(data["confidence"]),
                quantiles=tuple(data["quantiles"]),
                n_calibration=tuple(data["n_calibration"]),
                targets=tuple(data["targets"]),
                score=str(data.get("score", "")),
            )
        except KeyError as err:
            raise ValueError(f"conformal calibration record lacks field {err}") from None


def _calibrate(
    scores: np.ndarray, task_type: TaskType, confidence: float, targets: Sequence[str] | None
) -> ConformalCalibration:
    names = list(targets) if targets is not None else [str(t) for t in range(scores.shape[1])]
    if len(names) != scores.shape[1]:
        raise ValueError(f"{len(names)} target names for {scores.shape[1]} target columns")
    quantiles, counts = [], []
    for t, name in enumerate(names):
        column = scores[:, t]
        count = int(np.count_nonzero(~np.isnan(column)))
        q = conformal_quantile(column, confidence)
        if math.isinf(q):
            logger.warning(
                "conformal: target %r has %d calibration labels, too few for %.0f%% coverage "
                "(needs >= %d); its intervals are infinite / its sets full",
                name,
                count,
                100 * confidence,
                min_calibration(confidence),
            )
        quantiles.append(q)
        counts.append(count)
    return ConformalCalibration(
        task_type, confidence, tuple(quantiles), tuple(counts), tuple(names)
    )


def calibrate_regression(
    y_true: Any, y_pred: Any, confidence: float = 0.9, targets: Sequence[str] | None = None
) -> ConformalCalibration:
    """Calibrate regression intervals on held-out predictions.

    Args:
        y_true: Calibration labels ``[N]`` or ``[N, T]``, NaN where missing.
        y_pred: The model's predictions for the same rows, in target units, same shape.
        confidence: Target coverage. Default 0.9.
        targets: Target names (default ``"0"``, ``"1"``, ...).

    Returns:
        :class:`ConformalCalibration` whose quantiles are absolute-residual thresholds.

    Raises:
        ValueError: Shapes differ, ``confidence`` out of range, or predictions are not finite
            where labels exist.
    """
    true, pred = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true {true.shape} and y_pred {pred.shape} must have the same shape")
    labelled = ~np.isnan(true)
    if not np.isfinite(pred[labelled]).all():
        raise ValueError("y_pred has NaN or infinite values where labels exist")
    return _calibrate(np.abs(true - pred), "regression", confidence, targets)


def calibrate_classification(
    y_true: Any, proba: Any, confidence: float = 0.9, targets: Sequence[str] | None = None
) -> ConformalCalibration:
    """Calibrate binary prediction sets on held-out probabilities.

    Args:
        y_true: Calibration labels ``[N]`` or ``[N, T]`` in {0, 1}, NaN where missing.
        proba: ``P(y = 1)`` for the same rows (probabilities, not logits), same shape.
        confidence: Target coverage. Default 0.9.
        targets: Target names.

    Returns:
        :class:`ConformalCalibration` whose quantiles are thresholds on ``1 - p(true class)``.

    Raises:
        ValueError: Shapes differ, labels other than 0/1, or probabilities outside [0, 1].
    """
    true, prob = _as_2d(y_true, "y_true"), _as_2d(proba, "proba")
    if true.shape != prob.shape:
        raise ValueError(f"y_true {true.shape} and proba {prob.shape} must have the same shape")
    labelled = ~np.isnan(true)
    if not np.isin(true[labelled], (0.0, 1.0)).all():
        raise ValueError("classification labels must be 0 or 1 (NaN = missing)")
    if not ((prob[labelled] >= 0) & (prob[labelled] <= 1)).all():
        raise ValueError("proba must hold probabilities in [0, 1] (apply a sigmoid to logits)")
    scores = np.where(labelled, 1.0 - np.where(true == 1.0, prob, 1.0 - prob), np.nan)
    return _calibrate(scores, "classification", confidence, targets)


def _check_width(values: np.ndarray, calibration: ConformalCalibration, name: str) -> None:
    if values.shape[1] != len(calibration.quantiles):
        raise ValueError(
            f"{name} has {values.shape[1]} target columns, the calibration "
            f"{len(calibration.quantiles)} ({list(calibration.targets)})"
        )


def regression_intervals(
    y_pred: Any, calibration: ConformalCalibration
) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``, each ``float64[N, T]``: ``y_pred -/+ q`` per target.

    Raises:
        ValueError: For a classification calibration or a different number of targets.
    """
    if calibration.task_type != "regression":
        raise ValueError("regression_intervals needs a regression calibration")
    pred = _as_2d(y_pred, "y_pred")
    _check_width(pred, calibration, "y_pred")
    q = np.asarray(calibration.quantiles)
    return pred - q, pred + q


def prediction_sets(proba: Any, calibration: ConformalCalibration) -> np.ndarray:
    """Binary prediction sets ``bool[N, T, 2]``: ``[..., c]`` is True when class ``c`` is in.

    A NaN probability (a molecule that could not be featurized) gives an empty set.

    Raises:
        ValueError: For a regression calibration or a different number of targets.
    """
    if calibration.task_type != "classification":
        raise ValueError("prediction_sets needs a classification calibration")
    prob = _as_2d(proba, "proba")
    _check_width(prob, calibration, "proba")
    q = np.asarray(calibration.quantiles)
    with np.errstate(invalid="ignore"):
        return np.stack([prob <= q, 1.0 - prob <= q], axis=-1)


def format_sets(sets: np.ndarray) -> np.ndarray:
    """Sets ``bool[N, T, 2]`` as strings ``object[N, T]``: ``"0"``, ``"1"``, ``"0|1"`` or ``""``."""
    labels = np.array(["", "0", "1", "0|1"], dtype=object)
    return labels[sets[..., 0].astype(int) + 2 * sets[..., 1].astype(int)]


def coverage(y_true: Any, lo_or_sets: np.ndarray, hi: np.ndarray | None = None) -> np.ndarray:
    """Empirical coverage per target over the labelled rows (NaN for a target without labels).

    Args:
        y_true: Labels ``[N]`` or ``[N, T]``, NaN where missing.
        lo_or_sets: Interval lower bounds ``[N, T]`` (with ``hi``), or sets ``bool[N, T, 2]``.
        hi: Interval upper bounds; ``None`` for prediction sets.

    Returns:
        ``float64[T]``: the share of labelled rows whose label is covered.
    """
    true = _as_2d(y_true, "y_true")
    labelled = ~np.isnan(true)
    if hi is None:
        sets = np.asarray(lo_or_sets, dtype=bool)
        cls = np.where(labelled, true, 0).astype(int)
        hit = np.take_along_axis(sets, cls[..., None], axis=-1)[..., 0]
    else:
        lo, up = _as_2d(lo_or_sets, "lo"), _as_2d(hi, "hi")
        with np.errstate(invalid="ignore"):
            hit = (lo <= true) & (true <= up)
    counts = labelled.sum(0)
    hits = np.where(labelled, hit, False).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def conformal_columns(
    pred: Any, calibration: ConformalCalibration, prefixes: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Output columns of ``molssl predict``: ``<target>_lo``/``_hi`` or ``<target>_set``.

    Args:
        pred: ``[N, T]`` predictions in target units (regression) or probabilities ``P(y=1)``
            (classification); NaN rows (molecules that failed) give NaN bounds / empty sets.
        calibration: The model's calibration.
        prefixes: Column name prefix per target (default: the calibration's target names).

    Returns:
        Column name -> ``float64[N]`` bounds, or ``object[N]`` sets as ``"0"``, ``"1"``,
        ``"0|1"`` or ``""``, in target order.
    """
    names = list(prefixes) if prefixes is not None else list(calibration.targets)
    if len(names) != len(calibration.targets):
        raise ValueError(f"{len(names)} column prefixes for {len(calibration.targets)} targets")
    if calibration.task_type == "regression":
        lo, hi = regression_intervals(pred, calibration)
        out: dict[str, np.ndarray] = {}
        for t, name in enumerate(names):
            out[f"{name}_lo"], out[f"{name}_hi"] = lo[:, t], hi[:, t]
        return out
    sets = format_sets(prediction_sets(pred, calibration))
    return {f"{name}_set": sets[:, t] for t, name in enumerate(names)}


def summarize(y_true: Any, pred: Any, calibration: ConformalCalibration) -> dict[str, Any]:
    """Empirical coverage and sharpness of the calibrated outputs on labelled data.

    Args:
        y_true: Labels ``[N, T]`` (NaN where missing), e.g. the test split's.
        pred: Predictions as for :func:`conformal_columns`.
        calibration: The calibration to check.

    Returns:
        ``{"confidence", "coverage", "per_target": {name: {"coverage", "n", "width" |
        "set_size"}}}``: ``coverage`` is the mean over targets with labels; ``width`` the
        mean interval width (regression), ``set_size`` the mean number of classes per set.
    """
    true = _as_2d(y_true, "y_true")
    per_target: dict[str, dict[str, float]] = {}
    if calibration.task_type == "regression":
        lo, hi = regression_intervals(pred, calibration)
        cov = coverage(true, lo, hi)
        sharp = {"width": (hi - lo).mean(axis=0)}
    else:
        sets = prediction_sets(pred, calibration)
        cov = coverage(true, sets)
        sharp = {"set_size": sets.sum(-1).mean(axis=0)}
    counts = (~np.isnan(true)).sum(0)
    for t, name in enumerate(calibration.targets):
        entry = {"coverage": float(cov[t]), "n": int(counts[t])}
        entry.update({k: float(v[t]) for k, v in sharp.items()})
        per_target[name] = entry
    finite = cov[~np.isnan(cov)]
    return {
        "confidence": calibration.confidence,
        "coverage": float(finite.mean()) if finite.size else math.nan,
        "per_target": per_target,
    }


def calibrate_split(
    y_valid: Any,
    valid: Any,
    y_test: Any,
    test: Any,
    task_type: TaskType,
    confidence: float,
    targets: Sequence[str],
) -> tuple[ConformalCalibration, dict[str, Any]]:
    """Calibrate on the validation split and check the result on the test split.

    Args:
        y_valid, y_test: Labels ``[n, T]`` of the two splits (NaN where missing).
        valid, test: Predictions for them: target units, or probabilities ``P(y = 1)``.
        task_type: ``"regression"`` or ``"classification"``.
        confidence: Target coverage (``0.9``).
        targets: Target names.

    Returns:
        ``(calibration, report)``: the report is :func:`summarize` on the test split plus
        ``"calibration"`` (:meth:`ConformalCalibration.to_dict`).
    """
    calibrate = calibrate_regression if task_type == "regression" else calibrate_classification
    calibration = calibrate(y_valid, valid, confidence, targets)
    report = summarize(y_test, test, calibration)
    logger.info(
        "conformal %.0f%%: test coverage %.3f on %d targets",
        100 * confidence,
        report["coverage"],
        len(calibration.targets),
    )
    return calibration, {**report, "calibration": calibration.to_dict()}
