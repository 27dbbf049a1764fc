"""Masked multi-task loss, per-target metrics with NaN masking, and the target scaler."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from molssl.metrics import (
    METRICS,
    SkippedTargetWarning,
    TargetScaler,
    get_metric,
    mae,
    masked_multitask_loss,
    prc_auc_per_target,
    rmse,
    roc_auc_per_target,
)

NAN = float("nan")


def test_classification_loss_by_hand() -> None:
    pred = torch.tensor([[0.0, 2.0], [1.0, -1.0], [3.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1.0, NAN], [0.0, 1.0], [NAN, NAN]])
    loss = masked_multitask_loss(pred, target, "classification")
    # BCE(logit 0, y=1) = ln 2; BCE(1, y=0) = BCE(-1, y=1) = ln(1 + e).
    expected = (math.log(2.0) + 2 * math.log(1 + math.e)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    missing = torch.isnan(target)
    assert (pred.grad[missing] == 0).all() and (pred.grad[~missing] != 0).all()


@pytest.mark.parametrize(("kind", "expected"), [("mse", 5 / 3), ("l1", 1.0)])
def test_regression_loss_by_hand(kind: str, expected: float) -> None:
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[2.0, NAN], [1.0, 4.0]])
    loss = masked_multitask_loss(pred, target, "regression", regression_loss=kind)
    assert loss.item() == pytest.approx(expected)


def test_loss_accepts_1d() -> None:
    loss = masked_multitask_loss(torch.tensor([1.0, 3.0]), torch.tensor([NAN, 1.0]), "regression")
    assert loss.item() == pytest.approx(4.0)


@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_all_missing_batch_gives_connected_zero(task_type: str) -> None:
    pred = torch.randn(4, 3, requires_grad=True)
    loss = masked_multitask_loss(pred, torch.full((4, 3), NAN), task_type)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(4, 3))


def test_loss_errors() -> None:
    pred = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="same shape"):
        masked_multitask_loss(pred, torch.zeros(2, 3), "regression")
    with pytest.raises(ValueError, match="task_type"):
        masked_multitask_loss(pred, pred, "ranking")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="regression_loss"):
        masked_multitask_loss(pred, pred, "regression", regression_loss="huber")  # type: ignore[arg-type]


def test_roc_auc_skips_single_class_target_with_warning() -> None:
    y_true = np.array([[0, 1, 1], [1, 0, 1], [1, NAN, NAN], [NAN, 1, 1], [0, 0, NAN]], dtype=float)
    y_score = np.array(
        [[0.1, 0.9, 0.3], [0.4, 0.2, 0.1], [0.35, 0.5, 0.2], [0.9, 0.6, 0.4], [0.8, 0.7, 0.5]]
    )
    with pytest.warns(SkippedTargetWarning, match="'NR-AR'"):
        mean, per_target = roc_auc_per_target(y_true, y_score, ["a", "b", "NR-AR"])
    # Target a: positives {0.4, 0.35} beat negatives {0.1, 0.8} in 2 of 4 pairs; target b:
    # positives {0.9, 0.6} vs negatives {0.2, 0.7}: 3 of 4.
    assert per_target[:2] == pytest.approx([0.5, 0.75])
    assert math.isnan(per_target[2])
    assert mean == pytest.approx(0.625)


def test_roc_auc_accepts_tensors_and_logits() -> None:
    y_true = torch.tensor([0.0, 0.0, 1.0, 1.0])
    probs = torch.tensor([0.1, 0.6, 0.4, 0.9])
    mean, per_target = roc_auc_per_target(y_true, torch.logit(probs))
    assert mean == pytest.approx(0.75) and per_target == pytest.approx([0.75])


def test_roc_auc_all_targets_skipped_raises() -> None:
    y_true = np.array([[1.0, NAN], [1.0, NAN]])
    with pytest.warns(SkippedTargetWarning), pytest.raises(ValueError, match="every one of the 2"):
        roc_auc_per_target(y_true, np.zeros((2, 2)))


def test_prc_auc_matches_sklearn_pr_curve_with_nan_masking() -> None:
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve

    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < [0.05, 0.3, 0.5]).astype(float)
    score = y * 0.8 + rng.normal(size=y.shape)
    y[rng.random(y.shape) < 0.2] = NAN
    mean, per = prc_auc_per_target(y, score)
    expected = []
    for t in range(3):
        keep = ~np.isnan(y[:, t])
        precision, recall, _ = precision_recall_curve(y[keep, t], score[keep, t])
        expected.append(auc(recall, precision))
        # the trapezoid (DeepChem / MoleculeNet) is not average precision: a different number
        assert expected[-1] != pytest.approx(average_precision_score(y[keep, t], score[keep, t]))
    assert per == pytest.approx(expected, abs=1e-12)
    assert mean == pytest.approx(np.mean(expected), abs=1e-12)
    assert get_metric("prc_auc").higher_is_better


def test_prc_auc_skips_single_class_target() -> None:
    y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, NAN]])
    with pytest.warns(SkippedTargetWarning, match="'b'"):
        mean, per = prc_auc_per_target(
            y, np.array([[0.9, 0.1], [0.2, 0.2], [0.8, 0.3], [0.1, 0.4]]), ["a", "b"]
        )
    assert mean == pytest.approx(1.0) and math.isnan(per[1])


def test_hiv_and_muv_report_prc_auc_beside_roc_auc() -> None:
    from molssl.data import DATASETS

    extra = {spec.name for spec in DATASETS.values() if "prc_auc" in spec.extra_metrics}
    assert extra == {"HIV", "MUV"}
    assert all(DATASETS[k.lower()].metric == "roc_auc" for k in extra)


def test_rmse_and_mae_by_hand() -> None:
    y_true = np.array([[1.0, NAN], [2.0, 3.0], [NAN, 5.0]])
    y_pred = np.array([[2.0, 0.0], [2.0, 1.0], [9.0, 5.0]])
    mean, per_target = rmse(y_true, y_pred)
    assert per_target == pytest.approx([math.sqrt(0.5), math.sqrt(2.0)])
    assert mean == pytest.approx((math.sqrt(0.5) + math.sqrt(2.0)) / 2)
    mean, per_target = mae(y_true, y_pred)
    assert per_target == pytest.approx([0.5, 1.0]) and mean == pytest.approx(0.75)


def test_metric_registry() -> None:
    assert set(METRICS) == {"roc_auc", "prc_auc", "rmse", "mae"}
    assert get_metric("roc_auc").higher_is_better
    assert not get_metric("rmse").higher_is_better and not get_metric("mae").higher_is_better
    assert get_metric("rmse").is_better(0.5, 0.7) and not get_metric("rmse").is_better(0.9, 0.7)
    assert get_metric("roc_auc").is_better(0.8, None) and get_metric("roc_auc").is_better(0.8, NAN)
    assert get_metric("mae")([1.0, 2.0], [2.0, 2.0]) == (0.5, [0.5])
    with pytest.raises(ValueError, match="unknown metric 'r2'"):
        get_metric("r2")


def test_target_scaler_round_trip_and_state_dict() -> None:
    y = torch.tensor([[1.0, 2.0], [3.0, 2.0], [NAN, 2.0]])
    scaler = TargetScaler(2).fit(y)
    assert scaler.mean.tolist() == pytest.approx([2.0, 2.0])
    assert scaler.std.tolist() == pytest.approx([1.0, 1.0])  # population std; constant -> 1
    scaled = scaler.transform(y)
    assert torch.isnan(scaled[2, 0])
    assert scaled[:2, 0].tolist() == pytest.approx([-1.0, 1.0])
    torch.testing.assert_close(scaler.inverse_transform(scaled), y, equal_nan=True)

    model = nn.Sequential(nn.Linear(3, 2), scaler)
    assert {"1.mean", "1.std", "1.fitted"} <= set(model.state_dict())
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = nn.Sequential(nn.Linear(3, 2), TargetScaler(2))
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(4, 3)
    torch.testing.assert_close(restored(x), model(x))


def test_target_scaler_errors() -> None:
    scaler = TargetScaler(2)
    with pytest.raises(RuntimeError, match="not fitted"):
        scaler.transform(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="expected 2 target columns"):
        scaler.fit(np.zeros((3, 3)))
    with pytest.warns(UserWarning, match="target 1 has no labels"):
        scaler.fit(np.array([[1.0, NAN], [2.0, NAN]]))
    assert scaler.std.tolist() == pytest.approx([0.5, 1.0])
