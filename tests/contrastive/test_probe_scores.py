"""Scores of the live probe against references written here (loops, NumPy, scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from molssl.contrastive.training.probe import classification_scores, knn_vote, regression_scores


def _loop_vote(train_x, train_y, test_x, k, temperature):
    out = []
    for q in test_x:
        cos = [float(q @ t / (q.norm() * t.norm())) for t in train_x]
        nearest = sorted(range(len(cos)), key=lambda i: -cos[i])[:k]
        votes = [0.0, 0.0, 0.0]
        for i in nearest:
            votes[int(train_y[i])] += math.exp(cos[i] / temperature)
        out.append([v / sum(votes) for v in votes])
    return torch.tensor(out)


def test_knn_vote_matches_a_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(30, 5, generator=gen), torch.randn(7, 5, generator=gen)
    train_y = torch.randint(0, 3, (30,), generator=gen)
    got = knn_vote(train_x, train_y, test_x, k=6, temperature=0.5)
    assert torch.allclose(got, _loop_vote(train_x, train_y, test_x, 6, 0.5), atol=1e-5)


def test_classification_scores_on_separable_and_random_features() -> None:
    gen = torch.Generator().manual_seed(1)
    y = torch.randint(0, 2, (200,), generator=gen)
    good = torch.randn(200, 8, generator=gen) + 3.0 * torch.nn.functional.one_hot(y, 8)
    scores = classification_scores(good[:150], y[:150], good[150:], y[150:], k=5, linear=True)
    assert scores["knn_acc"] > 0.9 and scores["knn_auc"] > 0.95 and scores["linear_auc"] > 0.95
    shares = knn_vote(good[:150], y[:150], good[150:], 5)[:, 1]
    assert scores["knn_auc"] == roc_auc_score(y[150:].numpy(), shares.numpy())
    noise = torch.randn(200, 8, generator=gen)
    chance = classification_scores(noise[:150], y[:150], noise[150:], y[150:], k=5)
    assert 0.25 < chance["knn_auc"] < 0.75


def test_regression_scores_match_numpy() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(120, 4, generator=gen)
    y = 2.0 * x[:, 0] + 0.1 * torch.randn(120, generator=gen)
    scores = regression_scores(x[:100], y[:100], x[100:], y[100:], k=3, linear=True)
    tn = torch.nn.functional.normalize(x[:100], dim=1).numpy()
    sn = torch.nn.functional.normalize(x[100:], dim=1).numpy()
    idx = np.argsort(-(sn @ tn.T), axis=1)[:, :3]
    pred, target = y[:100].numpy()[idx].mean(axis=1), y[100:].numpy()
    rmse = float(np.sqrt(np.mean((pred - target) ** 2)))
    r2 = 1 - np.sum((pred - target) ** 2) / np.sum((target - target.mean()) ** 2)
    assert math.isclose(scores["knn_rmse"], rmse, rel_tol=1e-5)
    assert math.isclose(scores["knn_r2"], r2, rel_tol=1e-5)
    assert scores["ridge_r2"] > 0.99 and scores["ridge_rmse"] < 0.2
