"""ProjectionHead structure and shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from molssl.contrastive import ProjectionHead


def test_default_is_linear_relu_linear() -> None:
    head = ProjectionHead(512, 512, 256)
    kinds = [type(m) for m in head.net]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear]
    assert head(torch.randn(3, 512)).shape == (3, 256)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_layers_and_shapes(num_layers: int, batch_norm: bool) -> None:
    head = ProjectionHead(8, 16, 4, num_layers=num_layers, batch_norm=batch_norm)
    linears = [m for m in head.net if isinstance(m, nn.Linear)]
    assert len(linears) == num_layers
    assert sum(isinstance(m, nn.BatchNorm1d) for m in head.net) == (
        num_layers - 1 if batch_norm else 0
    )
    assert head(torch.randn(5, 8)).shape == (5, 4)
    before = linears[0].weight.detach().clone()
    head.reset_parameters()
    assert not torch.equal(before, linears[0].weight)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_dim": 0, "hidden_dim": 4, "out_dim": 4},
        {"in_dim": 4, "hidden_dim": 4, "out_dim": 0},
        {"in_dim": 4, "hidden_dim": 4, "out_dim": 4, "num_layers": 0},
    ],
)
def test_validation(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="ProjectionHead"):
        ProjectionHead(**kwargs)
