"""Frozen-feature evaluation: the kNN vote and its cap on ``k``."""

from __future__ import annotations

import logging

import pytest
import torch

from imagessl.config import EvalConfig
from imagessl.evaluate import knn_accuracy, knn_k


def _clustered(counts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable classes of ``counts[c]`` images each, behind a large shared offset that puts
    every cosine near 1 (as after ReLU and pooling)."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(len(counts), 16, generator=gen)
    y = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts))
    x = 50.0 + centres[y] + 0.3 * torch.randn(len(y), 16, generator=gen)
    return x, y


def test_k_is_capped_at_the_mean_class_size_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, y = _clustered([12] * 10)
    with caplog.at_level(logging.WARNING, logger="imagessl.evaluate"):
        assert knn_k(200, y) == 12
    assert "k=200 capped at 12" in caplog.text and "120 images, 10 classes" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="imagessl.evaluate"):
        assert knn_k(5, y) == 5
    assert not caplog.text
    assert knn_k(3, torch.zeros(2, dtype=torch.long)) == 2


def test_a_vote_over_every_training_image_is_chance_and_the_cap_avoids_it() -> None:
    x, y = _clustered([2 * (6 + c) for c in range(10)])  # unequal classes, as in a subset
    train_x, train_y, test_x, test_y = x[0::2], y[0::2], x[1::2], y[1::2]
    # The premise, computed directly: every training image votes with exp(cos / T).
    tn = torch.nn.functional.normalize(train_x, dim=1)
    sn = torch.nn.functional.normalize(test_x, dim=1)
    weights = (sn @ tn.T / 0.07).exp()
    votes = torch.zeros(len(sn), 10).index_add_(1, train_y, weights)
    everyone = float((votes.argmax(1) == test_y).float().mean())
    capped = knn_accuracy(train_x, train_y, test_x, test_y, EvalConfig("knn", k=200))
    small = knn_accuracy(train_x, train_y, test_x, test_y, EvalConfig("knn", k=len(train_y) // 10))
    assert everyone < 0.2  # the share of the largest class: the vote is a majority vote
    assert capped == small and capped > 0.9
