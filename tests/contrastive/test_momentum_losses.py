"""BYOL/SimSiam, MoCo, CPC and SwAV losses against independent loop / NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molssl.contrastive import (
    CPCLoss,
    MoCoLoss,
    NegativeCosineLoss,
    PredictionHead,
    SwAVLoss,
    SwAVPrototypes,
    sinkhorn_knopp,
)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------- negative cosine (BYOL/SimSiam)


@pytest.mark.parametrize("form", ["byol", "simsiam"])
def test_negative_cosine_matches_loop(form: str) -> None:
    p, z = _rand(7, 5, seed=1), _rand(7, 5, seed=2)
    expected = []
    for pi, zi in zip(p.numpy(), z.numpy(), strict=True):
        cos = float(_unit(pi) @ _unit(zi))
        expected.append(2 - 2 * cos if form == "byol" else -cos)
    loss = NegativeCosineLoss(form)(p, z)
    assert loss.item() == pytest.approx(np.mean(expected), abs=1e-12)


def test_negative_cosine_stops_the_target_gradient_and_bounds() -> None:
    p, z = _rand(4, 3, seed=3).requires_grad_(True), _rand(4, 3, seed=4).requires_grad_(True)
    NegativeCosineLoss()(p, z).backward()
    assert z.grad is None and p.grad is not None
    assert NegativeCosineLoss()(z.detach(), 3 * z.detach()).item() == pytest.approx(0, abs=1e-12)
    assert NegativeCosineLoss()(z.detach(), -z.detach()).item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="same shape"):
        NegativeCosineLoss()(p, z[:2])
    with pytest.raises(ValueError, match="unknown form"):
        NegativeCosineLoss("simclr")


def test_prediction_head_is_byol_mlp() -> None:
    head = PredictionHead(8, 16, 8)
    kinds = [type(m).__name__ for m in head.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert head(torch.randn(4, 8)).shape == (4, 8)


# ---------------------------------------------------------------- MoCo


def _moco_reference(q, k, neg, w, tau) -> float:
    total = 0.0
    for i in range(q.shape[0]):
        qi = _unit(q[i])
        pos = qi @ _unit(k[i]) / tau
        logits = [pos] + [w[i, j] * (qi @ _unit(neg[j])) / tau for j in range(neg.shape[0])]
        total += -(pos - math.log(sum(math.exp(x) for x in logits)))
    return total / q.shape[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_moco_matches_loop(weighted: bool) -> None:
    q, k, neg = _rand(5, 4, seed=1), _rand(5, 4, seed=2), _rand(9, 4, seed=3)
    w = torch.rand(5, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    loss = MoCoLoss(0.3)(q, k, neg, weight=w if weighted else None)
    ref_w = w.numpy() if weighted else np.ones((5, 9))
    assert loss.item() == pytest.approx(
        _moco_reference(q.numpy(), k.numpy(), neg.numpy(), ref_w, 0.3)
    )


def test_moco_empty_queue_and_errors() -> None:
    q = _rand(3, 4, seed=1).requires_grad_(True)
    loss = MoCoLoss()(q, _rand(3, 4, seed=2), torch.zeros(0, 4, dtype=torch.float64))
    assert loss.item() == 0.0
    with pytest.raises(ValueError, match="weight must have shape"):
        MoCoLoss()(q, q, _rand(2, 4), weight=torch.ones(3, 3))
    with pytest.raises(ValueError, match="feature sizes differ"):
        MoCoLoss()(q, q, _rand(2, 5))
    with pytest.raises(ValueError, match="temperature"):
        MoCoLoss(0.0)


# ---------------------------------------------------------------- CPC


@pytest.mark.parametrize(("tau", "normalize"), [(1.0, False), (0.5, True)])
def test_cpc_matches_loop(tau: float, normalize: bool) -> None:
    pred, targets = _rand(6, 3, seed=1), _rand(10, 3, seed=2)
    positive = torch.tensor([0, 3, 9, 3, 5, 1])
    exclude = torch.zeros(6, 10, dtype=torch.bool)
    exclude[0, 4] = exclude[2, 0] = exclude[2, 1] = True
    loss = CPCLoss(tau, normalize)(pred, targets, positive, exclude=exclude)
    total = 0.0
    for m in range(6):
        p = pred[m].numpy()
        scores = []
        for j in range(10):
            t = targets[j].numpy()
            s = (_unit(p) @ _unit(t) if normalize else p @ t) / tau
            if not exclude[m, j]:
                scores.append((j, s))
        pos = dict(scores)[int(positive[m])]
        total += -(pos - math.log(sum(math.exp(s) for _, s in scores)))
    assert loss.item() == pytest.approx(total / 6)


def test_cpc_rejects_bad_positive() -> None:
    pred, targets = _rand(2, 3), _rand(4, 3)
    with pytest.raises(ValueError, match="lie in"):
        CPCLoss()(pred, targets, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="masks a positive"):
        CPCLoss()(pred, targets, torch.tensor([0, 1]), exclude=torch.eye(2, 4, dtype=torch.bool))


# ---------------------------------------------------------------- SwAV


def _sinkhorn_reference(scores: np.ndarray, eps: float, iters: int) -> np.ndarray:
    q = np.exp(scores / eps).T  # prototypes x samples
    k, b = q.shape
    q = q / q.sum()
    for _ in range(iters):
        for r in range(k):
            q[r] = q[r] / q[r].sum() / k
        for c in range(b):
            q[:, c] = q[:, c] / q[:, c].sum() / b
    return (q * b).T


def test_sinkhorn_matches_numpy_and_equipartitions() -> None:
    scores = torch.tanh(_rand(12, 5, seed=1))
    q = sinkhorn_knopp(scores, epsilon=0.1, iterations=3)
    np.testing.assert_allclose(q.numpy(), _sinkhorn_reference(scores.numpy(), 0.1, 3), rtol=1e-5)
    torch.testing.assert_close(q.sum(1), torch.ones(12), rtol=0, atol=1e-5)
    many = sinkhorn_knopp(scores, epsilon=0.1, iterations=200)
    torch.testing.assert_close(many.sum(0), torch.full((5,), 12 / 5), rtol=0, atol=1e-4)


def _swav_reference(views, n_high, tau, eps, iters, queues=None) -> float:
    logp = []
    for v in views:
        x = v / tau
        logp.append(x - np.log(np.exp(x).sum(1, keepdims=True)))
    total = 0.0
    for i in range(n_high):
        s = views[i] if queues is None else np.concatenate([queues[i], views[i]])
        q = _sinkhorn_reference(s, eps, iters)[-views[i].shape[0] :]
        sub = [-(q * logp[v]).sum(1).mean() for v in range(len(views)) if v != i]
        total += sum(sub) / (len(views) - 1)
    return total / n_high


@pytest.mark.parametrize("with_queue", [False, True])
def test_swav_loss_matches_reference(with_queue: bool) -> None:
    views = [torch.tanh(_rand(6, 4, seed=s)) for s in range(4)]  # 2 high-res, 2 low-res
    queues = [torch.tanh(_rand(5, 4, seed=10 + s)) for s in range(2)] if with_queue else None
    loss = SwAVLoss(temperature=0.2, epsilon=0.1, sinkhorn_iterations=3)(
        views[:2], views[2:], queue_scores=queues
    )
    ref = _swav_reference(
        [v.numpy() for v in views],
        2,
        0.2,
        0.1,
        3,
        None if queues is None else [q.numpy() for q in queues],
    )
    assert loss.item() == pytest.approx(ref, rel=1e-5)


def test_swav_codes_carry_no_gradient_and_prototypes_are_unit() -> None:
    protos = SwAVPrototypes(4, 7)
    with torch.no_grad():
        protos.weight.mul_(3.0)
    z = torch.randn(5, 4)
    scores = protos(z)
    assert scores.abs().max() <= 1 + 1e-6
    expected = (
        torch.nn.functional.normalize(z, dim=1)
        @ torch.nn.functional.normalize(protos.weight, dim=1).T
    )
    torch.testing.assert_close(scores, expected)
    a, b = torch.randn(5, 7, requires_grad=True), torch.randn(5, 7, requires_grad=True)
    SwAVLoss()([a, b]).backward()
    # d loss / d a only through b's codes' prediction of a: sum over prototypes of the grad is 0
    torch.testing.assert_close(a.grad.sum(1), torch.zeros(5), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        SwAVLoss()([a])
