"""Chemistry-free scores of frozen features for the trainer's live probe.

A probe is any ``model -> {name: score}`` callable (:data:`molssl.contrastive.training.trainer.Probe`);
each package builds one from its own labelled data and embedding function and hands it to the
:class:`~molssl.contrastive.training.trainer.Trainer`, which runs it every ``trainer.probe_every`` steps.
These functions score the embeddings:

- classification: a cosine kNN vote weighted by ``exp(cos / T)`` (InstDisc, Wu et al. 2018), its
  accuracy and, for two classes, the ROC-AUC of the vote share of class 1; optionally a
  logistic-regression probe on standardised features;
- regression: a cosine kNN regressor (mean target of the ``k`` nearest) and optionally ridge
  regression on standardised features, each scored by R^2 and RMSE on the test split.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["classification_scores", "knn_vote", "regression_scores"]


def _neighbours(train_x: Tensor, test_x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    train_n = F.normalize(train_x.float(), dim=1)
    test_n = F.normalize(test_x.float(), dim=1)
    return (test_n @ train_n.T).topk(min(k, len(train_x)), dim=1)


def knn_vote(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, k: int, temperature: float = 0.07
) -> Tensor:
    """Class vote shares ``float [M, C]`` of the ``k`` most cosine-similar training points.

    Args:
        train_x: ``[N, D]`` features; ``train_y``: ``long [N]`` labels in ``[0, C)``.
        test_x: ``[M, D]`` features.
        k: Neighbours (capped at ``N``).
        temperature: Vote weight ``exp(cos / temperature)``.
    """
    sim, idx = _neighbours(train_x, test_x, k)
    weights = ((sim - sim.max(dim=1, keepdim=True).values) / temperature).exp()
    num_classes = int(train_y.max()) + 1
    votes = torch.zeros(len(test_x), num_classes).scatter_add_(1, train_y[idx], weights)
    return votes / votes.sum(dim=1, keepdim=True)


def _standardised(train_x: Tensor, test_x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    return scaler.transform(train_x.numpy()), scaler.transform(test_x.numpy())


def classification_scores(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    linear: bool = False,
) -> dict[str, float]:
    """``knn_acc`` (+ ``knn_auc`` for two classes, + ``linear_acc``/``linear_auc``)."""
    from sklearn.metrics import roc_auc_score

    shares = knn_vote(train_x, train_y, test_x, k, temperature)
    scores = {"knn_acc": float((shares.argmax(dim=1) == test_y).float().mean())}
    binary = shares.shape[1] == 2 and len(torch.unique(test_y)) == 2
    if binary:
        scores["knn_auc"] = float(roc_auc_score(test_y.numpy(), shares[:, 1].numpy()))
    if linear:
        from sklearn.linear_model import LogisticRegression

        tr, te = _standardised(train_x, test_x)
        clf = LogisticRegression(max_iter=1000).fit(tr, train_y.numpy())
        scores["linear_acc"] = float(np.mean(clf.predict(te) == test_y.numpy()))
        if binary:
            scores["linear_auc"] = float(roc_auc_score(test_y.numpy(), clf.predict_proba(te)[:, 1]))
    return scores


def _r2_rmse(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    residual = float(np.sum((pred - target) ** 2))
    total = float(np.sum((target - target.mean()) ** 2))
    return 1.0 - residual / max(total, 1e-12), float(np.sqrt(residual / len(target)))


def regression_scores(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    *,
    k: int = 20,
    linear: bool = False,
) -> dict[str, float]:
    """``knn_r2``, ``knn_rmse`` (+ ``ridge_r2``, ``ridge_rmse``) on the test split."""
    _, idx = _neighbours(train_x, test_x, k)
    pred = train_y.float()[idx].mean(dim=1).numpy()
    target = test_y.float().numpy()
    r2, rmse = _r2_rmse(pred, target)
    scores = {"knn_r2": r2, "knn_rmse": rmse}
    if linear:
        from sklearn.linear_model import Ridge

        tr, te = _standardised(train_x, test_x)
        ridge = Ridge(alpha=1.0).fit(tr, train_y.float().numpy())
        scores["ridge_r2"], scores["ridge_rmse"] = _r2_rmse(ridge.predict(te), target)
    return scores
