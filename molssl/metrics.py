"""Fine-tuning losses, evaluation metrics and the target scaler.

Multi-task targets are ``[N, T]`` arrays with NaN marking a missing label. The loss and every
metric mask the missing entries; a metric is computed per target and averaged over the targets
that could be scored. Metrics are looked up by name in :data:`METRICS`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score
from torch import Tensor, nn

logger = logging.getLogger(__name__)

TaskType = Literal["classification", "regression"]
ArrayLike = np.ndarray | Tensor | Sequence[Sequence[float]]
MetricResult = tuple[float, list[float]]


def _bce(pred: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(pred, target, reduction="none")


_REGRESSION_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": lambda pred, target: F.mse_loss(pred, target, reduction="none"),
    "l1": lambda pred, target: F.l1_loss(pred, target, reduction="none"),
}


class SkippedTargetWarning(UserWarning):
    """A target could not be scored on this split (no labels or a single class)."""


def _as_2d(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    if pred.dim() == 1:
        return pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 2:
        raise ValueError(f"expected [N] or [N, T] tensors, got shape {tuple(pred.shape)}")
    return pred, target


def masked_multitask_loss(
    pred: Tensor,
    target: Tensor,
    task_type: TaskType,
    regression_loss: Literal["mse", "l1"] = "mse",
) -> Tensor:
    """Multi-task loss averaged over the observed (non-NaN) labels.

    Args:
        pred: Model outputs ``[N, T]`` (or ``[N]``): logits for classification, values for
            regression.
        target: Labels, same shape, NaN where missing; 0/1 for classification.
        task_type: ``"classification"`` (BCE with logits) or ``"regression"``.
        regression_loss: ``"mse"`` (default) or ``"l1"``; used for regression only.

    Returns:
        Scalar loss. An all-missing batch gives ``0`` that is still connected to ``pred``'s
        graph (zero gradients), never NaN.

    Raises:
        ValueError: If shapes differ or are not 1-D/2-D, or ``task_type`` / ``regression_loss``
            is unknown.
    """
    if task_type not in ("classification", "regression"):
        raise ValueError(f"unknown task_type {task_type!r}; use 'classification' or 'regression'")
    if regression_loss not in _REGRESSION_LOSSES:
        raise ValueError(
            f"unknown regression_loss {regression_loss!r}; use one of {sorted(_REGRESSION_LOSSES)}"
        )
    loss_fn = _bce if task_type == "classification" else _REGRESSION_LOSSES[regression_loss]
    pred, target = _as_2d(pred, target.to(pred.dtype))
    observed = ~torch.isnan(target)
    # NaNs are replaced before the loss so that no NaN reaches the backward pass.
    elementwise = loss_fn(pred, torch.where(observed, target, 0.0))
    total = torch.where(observed, elementwise, 0.0).sum()
    return total / observed.sum().clamp(min=1)


def _to_numpy_2d(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be [N] or [N, T], got shape {array.shape}")
    return array


def _per_target(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    score: Callable[[np.ndarray, np.ndarray], float],
    metric_name: str,
    target_names: Sequence[str] | None,
    min_classes: int,
) -> MetricResult:
    true = _to_numpy_2d(y_true, "y_true")
    pred = _to_numpy_2d(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true {true.shape} and y_pred {pred.shape} must have the same shape")
    num_targets = true.shape[1]
    names = list(target_names) if target_names is not None else [str(t) for t in range(num_targets)]
    if len(names) != num_targets:
        raise ValueError(f"got {len(names)} target_names for {num_targets} targets")
    values: list[float] = []
    for t, name in enumerate(names):
        observed = ~np.isnan(true[:, t])
        labels = true[observed, t]
        num_classes = np.unique(labels).size
        if labels.size == 0 or num_classes < min_classes:
            warnings.warn(
                f"{metric_name}: skipping target {name!r} ({labels.size} labels, "
                f"{num_classes} class(es) on this split)",
                SkippedTargetWarning,
                stacklevel=3,
            )
            values.append(math.nan)
        else:
            values.append(float(score(labels, pred[observed, t])))
    scored = [v for v in values if not math.isnan(v)]
    if not scored:
        raise ValueError(
            f"{metric_name}: every one of the {num_targets} targets was skipped (no labels or a "
            "single class on this split); use a larger split or a different splitter"
        )
    return float(np.mean(scored)), values


def roc_auc_per_target(
    y_true: ArrayLike, y_score: ArrayLike, target_names: Sequence[str] | None = None
) -> MetricResult:
    """ROC-AUC per target, masking NaN labels, averaged over the scorable targets.

    Args:
        y_true: Binary labels ``[N, T]`` (or ``[N]``), NaN where missing.
        y_score: Scores of the same shape (logits or probabilities; ROC-AUC only uses ranks).
        target_names: Names used in warnings. Defaults to the column indices.

    Returns:
        ``(mean, per_target)``: the mean over scored targets and one value per target, NaN for
        targets skipped because they have no labels or a single class (a
        :class:`SkippedTargetWarning` names each one).

    Raises:
        ValueError: If shapes mismatch or every target is skipped.
    """
    return _per_target(y_true, y_score, roc_auc_score, "roc_auc", target_names, min_classes=2)


def _prc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(auc(recall, precision))


def prc_auc_per_target(
    y_true: ArrayLike, y_score: ArrayLike, target_names: Sequence[str] | None = None
) -> MetricResult:
    """Area under the precision-recall curve per target, as MoleculeNet reports it.

    Computed as DeepChem's ``prc_auc_score`` (the source of MoleculeNet's PRC-AUC figures):
    scikit-learn's ``precision_recall_curve`` then the trapezoidal ``auc(recall, precision)``.
    This is not ``average_precision_score`` (a step-wise sum, usually a little lower), so
    compare only with figures computed the same way. Its chance level is the positive rate,
    not 0.5, which is why it is reported for the heavily imbalanced HIV and MUV (Wu et al.,
    2018, MoleculeNet).

    Args / Returns / Raises: as :func:`roc_auc_per_target` (single-class targets skipped).
    """
    return _per_target(y_true, y_score, _prc_auc, "prc_auc", target_names, min_classes=2)


def rmse(
    y_true: ArrayLike, y_pred: ArrayLike, target_names: Sequence[str] | None = None
) -> MetricResult:
    """Root-mean-square error per target, masking NaN labels, averaged over targets.

    Args / Returns / Raises: as :func:`roc_auc_per_target`; only label-less targets are skipped.
    """

    def score(true: np.ndarray, pred: np.ndarray) -> float:
        return math.sqrt(np.mean((true - pred) ** 2))

    return _per_target(y_true, y_pred, score, "rmse", target_names, min_classes=1)


def mae(
    y_true: ArrayLike, y_pred: ArrayLike, target_names: Sequence[str] | None = None
) -> MetricResult:
    """Mean absolute error per target, masking NaN labels, averaged over targets.

    Args / Returns / Raises: as :func:`roc_auc_per_target`; only label-less targets are skipped.
    """

    def score(true: np.ndarray, pred: np.ndarray) -> float:
        return float(np.mean(np.abs(true - pred)))

    return _per_target(y_true, y_pred, score, "mae", target_names, min_classes=1)


@dataclass(frozen=True)
class Metric:
    """A named evaluation metric.

    Attributes:
        name: Registry key.
        fn: ``fn(y_true, y_pred, target_names=None) -> (mean, per_target)``.
        higher_is_better: Direction used for model selection.
    """

    name: str
    fn: Callable[..., MetricResult]
    higher_is_better: bool

    def __call__(
        self, y_true: ArrayLike, y_pred: ArrayLike, target_names: Sequence[str] | None = None
    ) -> MetricResult:
        return self.fn(y_true, y_pred, target_names)

    def is_better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` improves on ``best`` (``None`` or NaN: anything finite does)."""
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value > best if self.higher_is_better else value < best


METRICS: dict[str, Metric] = {
    "roc_auc": Metric("roc_auc", roc_auc_per_target, higher_is_better=True),
    "prc_auc": Metric("prc_auc", prc_auc_per_target, higher_is_better=True),
    "rmse": Metric("rmse", rmse, higher_is_better=False),
    "mae": Metric("mae", mae, higher_is_better=False),
}


def get_metric(name: str) -> Metric:
    """Looks up a metric in :data:`METRICS`.

    Raises:
        ValueError: If ``name`` is not registered.
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; choose one of {sorted(METRICS)}") from None


class TargetScaler(nn.Module):
    """Per-target standardisation ``(y - mean) / std`` that lives inside the model.

    ``mean`` and ``std`` are buffers, so they are saved in the model's ``state_dict`` and follow
    ``.to(device)``. Fit on the training split only. ``forward`` is :meth:`inverse_transform`:
    placed after a regression head trained on scaled targets, it returns target units.

    Args:
        num_targets: Number of targets T.
    """

    mean: Tensor
    std: Tensor
    fitted: Tensor

    def __init__(self, num_targets: int) -> None:
        super().__init__()
        if num_targets < 1:
            raise ValueError(f"num_targets must be >= 1, got {num_targets}")
        self.num_targets = num_targets
        self.register_buffer("mean", torch.zeros(num_targets))
        self.register_buffer("std", torch.ones(num_targets))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, targets: ArrayLike) -> TargetScaler:
        """Computes per-target mean and (population) std over the non-NaN entries.

        A target whose std is 0 or undefined gets std 1; one with no labels at all gets mean 0,
        std 1 and a warning.

        Args:
            targets: Training targets ``[N, T]`` (or ``[N]`` when T = 1), NaN where missing.

        Returns:
            ``self``.

        Raises:
            ValueError: If the number of columns is not ``num_targets``.
        """
        y = torch.as_tensor(_to_numpy_2d(targets, "targets"), dtype=torch.float64)
        if y.shape[1] != self.num_targets:
            raise ValueError(f"expected {self.num_targets} target columns, got {y.shape[1]}")
        observed = ~torch.isnan(y)
        count = observed.sum(0)
        for t in torch.nonzero(count == 0).flatten().tolist():
            warnings.warn(f"TargetScaler: target {t} has no labels; left unscaled", stacklevel=2)
        filled = torch.where(observed, y, 0.0)
        mean = filled.sum(0) / count.clamp(min=1)
        var = (torch.where(observed, y - mean, 0.0) ** 2).sum(0) / count.clamp(min=1)
        std = var.sqrt()
        std = torch.where((std > 0) & torch.isfinite(std), std, 1.0)
        self.mean.copy_(mean)
        self.std.copy_(std)
        self.fitted.fill_(True)
        return self

    def _check(self, y: Tensor) -> None:
        if not bool(self.fitted):
            raise RuntimeError("TargetScaler is not fitted; call fit(train_targets) first")
        if y.shape[-1] != self.num_targets:
            raise ValueError(f"expected last dim {self.num_targets}, got shape {tuple(y.shape)}")

    def transform(self, y: Tensor) -> Tensor:
        """``(y - mean) / std`` for ``y`` of shape ``[..., T]``; NaNs stay NaN."""
        self._check(y)
        return (y - self.mean.to(y.dtype)) / self.std.to(y.dtype)

    def inverse_transform(self, y: Tensor) -> Tensor:
        """``y * std + mean`` for ``y`` of shape ``[..., T]``."""
        self._check(y)
        return y * self.std.to(y.dtype) + self.mean.to(y.dtype)

    def forward(self, y: Tensor) -> Tensor:
        """Same as :meth:`inverse_transform`."""
        return self.inverse_transform(y)

    def extra_repr(self) -> str:
        return f"num_targets={self.num_targets}"
