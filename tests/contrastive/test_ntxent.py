"""NT-Xent and weighted NT-Xent against naive loop references and their invariants."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from molssl.contrastive import (
    LOSSES,
    NTXentLoss,
    build_loss,
    tanimoto_similarity,
    tanimoto_weights,
)


def naive_ntxent(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float, weight: torch.Tensor | None = None
) -> float:
    """Explicit double loop: -log(exp(s_pos/t) / sum_{k != i} exp(w_ik * s_ik / t)), averaged."""
    n = z_a.shape[0]
    z = torch.cat([F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)]).tolist()
    w = None if weight is None else weight.tolist()
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        s_pos = sum(a * b for a, b in zip(z[i], z[pos], strict=True))
        denom = 0.0
        for k in range(2 * n):
            if k == i:
                continue
            s_ik = sum(a * b for a, b in zip(z[i], z[k], strict=True))
            w_ik = 1.0 if (k == pos or w is None) else w[i % n][k % n]
            denom += math.exp(w_ik * s_ik / temperature)
        total += -math.log(math.exp(s_pos / temperature) / denom)
    return total / (2 * n)


def _views(n: int, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(n, d, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize("n", [1, 2, 7, 32])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 0.5, 1.0])
def test_matches_naive_loop(n: int, temperature: float) -> None:
    z_a, z_b = _views(n, seed=n)
    loss = NTXentLoss(temperature)(z_a, z_b)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(naive_ntxent(z_a, z_b, temperature), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("n", [2, 7, 32])
@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_weighted_matches_naive_loop(n: int, temperature: float) -> None:
    z_a, z_b = _views(n, seed=100 + n)
    weight = torch.rand(n, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    loss = NTXentLoss(temperature)(z_a, z_b, weight=weight)
    expected = naive_ntxent(z_a, z_b, temperature, weight)
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    assert loss.item() != pytest.approx(naive_ntxent(z_a, z_b, temperature), rel=1e-6)


def test_float32_matches_naive_loop() -> None:
    z_a, z_b = _views(16)
    loss = NTXentLoss(0.1)(z_a.float(), z_b.float())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(naive_ntxent(z_a, z_b, 0.1), rel=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_symmetric_in_views(weighted: bool) -> None:
    z_a, z_b = _views(9)
    weight = torch.rand(9, 9, dtype=torch.float64) if weighted else None
    loss = NTXentLoss(0.2)
    torch.testing.assert_close(loss(z_a, z_b, weight=weight), loss(z_b, z_a, weight=weight))


@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_identical_embeddings_closed_form(n: int) -> None:
    z = torch.ones(n, 4, dtype=torch.float64) * 3.0
    loss = NTXentLoss(0.1)(z, z.clone())
    assert loss.item() == pytest.approx(math.log(2 * n - 1), abs=1e-12)


def test_single_pair_is_zero_and_finite_grad() -> None:
    z_a, z_b = _views(1)
    z_a.requires_grad_(True)
    loss = NTXentLoss(0.1)(z_a, z_b)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(z_a.grad).all()


def test_scale_invariant_and_grad_finite_at_low_temperature() -> None:
    z_a, z_b = _views(8)
    z_a = z_a.float().requires_grad_(True)
    loss_fn = NTXentLoss(0.01)
    loss = loss_fn(z_a, z_b.float())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z_a.grad).all()
    torch.testing.assert_close(loss_fn(5.0 * z_a, z_b.float()), loss)


def test_lambda_zero_weights_equal_plain() -> None:
    z_a, z_b = _views(11)
    sim = torch.rand(11, 11, dtype=torch.float64)
    loss = NTXentLoss(0.1)
    torch.testing.assert_close(loss(z_a, z_b, weight=tanimoto_weights(sim, 0.0)), loss(z_a, z_b))
    torch.testing.assert_close(
        loss(z_a, z_b, weight=torch.ones(11, 11, dtype=torch.float64)), loss(z_a, z_b)
    )


def test_weight_diagonal_is_ignored() -> None:
    z_a, z_b = _views(6)
    weight = torch.rand(6, 6, dtype=torch.float64)
    other = weight.clone()
    other.diagonal().fill_(0.123)
    loss = NTXentLoss(0.1)
    torch.testing.assert_close(loss(z_a, z_b, weight=weight), loss(z_a, z_b, weight=other))


def test_gradcheck_plain_and_weighted() -> None:
    z_a, z_b = _views(5, d=4)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    weight = torch.rand(5, 5, dtype=torch.float64, requires_grad=True)
    loss = NTXentLoss(0.3)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b), (z_a, z_b))
    assert torch.autograd.gradcheck(lambda a, b, w: loss(a, b, weight=w), (z_a, z_b, weight))


@pytest.mark.parametrize(
    ("z_a", "z_b", "match"),
    [
        (torch.randn(4), torch.randn(4), "must be 2-D"),
        (torch.randn(4, 3, 2), torch.randn(4, 3, 2), "must be 2-D"),
        (torch.randn(4, 3), torch.randn(5, 3), "same shape"),
        (torch.randn(4, 3), torch.randn(4, 2), "same shape"),
        (torch.randn(0, 3), torch.randn(0, 3), "non-empty"),
    ],
)
def test_view_validation(z_a: torch.Tensor, z_b: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NTXentLoss()(z_a, z_b)


def test_dtype_and_weight_validation() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        NTXentLoss()(torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2, dtype=torch.long))
    z = torch.randn(4, 3)
    for bad in (torch.ones(4, 5), torch.ones(4), torch.ones(3, 4)):
        with pytest.raises(ValueError, match=r"weight must have shape \(n_local, n_global\)"):
            NTXentLoss()(z, z, weight=bad)


def test_constructor_validation_and_registry() -> None:
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
    assert isinstance(build_loss("ntxent", temperature=0.5), NTXentLoss)
    assert "ntxent" in LOSSES
    with pytest.raises(KeyError, match="unknown loss"):
        build_loss("nope")
    assert "temperature=0.5" in repr(NTXentLoss(0.5))


def test_gather_distributed_without_process_group_is_local() -> None:
    z_a, z_b = _views(6)
    torch.testing.assert_close(
        NTXentLoss(0.1, gather_distributed=True)(z_a, z_b), NTXentLoss(0.1)(z_a, z_b)
    )


def test_tanimoto_helpers() -> None:
    bits = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.bool)
    sim = tanimoto_similarity(bits)
    expected = torch.tensor([[1.0, 1 / 3, 0.0], [1 / 3, 1.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(sim, expected)
    torch.testing.assert_close(tanimoto_weights(sim, 0.5), 1.0 - 0.5 * expected)
    assert tanimoto_similarity(bits[:2], bits).shape == (2, 3)
    with pytest.raises(ValueError, match="lambda_1"):
        tanimoto_weights(sim, 1.5)
    with pytest.raises(ValueError, match="same number of bits"):
        tanimoto_similarity(bits, bits[:, :3])


@pytest.mark.parametrize("density", [0.02, 0.3])  # ~41 bits (bfloat16 path), ~614 (float32)
def test_tanimoto_of_bool_bits_is_exact(density: float) -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(6, 2048, generator=g) < density
    b = torch.rand(9, 2048, generator=g) < density
    expected = torch.tensor([[(x & y).sum().item() / (x | y).sum().item() for y in b] for x in a])
    torch.testing.assert_close(tanimoto_similarity(a, b), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        tanimoto_similarity(a.float(), b.float()), expected, rtol=0, atol=1e-6
    )
