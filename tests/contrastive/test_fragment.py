"""Fragment pooling against a naive loop, and the fragment contrast loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from molssl.contrastive.losses.fragment import FragmentContrastLoss, fragment_pool
from molssl.contrastive.losses.ntxent import NTXentLoss


def _toy_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # graph 0: 5 atoms, 2 fragments; graph 1: 3 atoms, none; graph 2: 6 atoms, 3 fragments
    frag = torch.tensor([0, 0, 1, -1, 1, -1, -1, -1, 2, 0, 0, 1, 2, -1])
    num_frags = torch.tensor([2, 0, 3])
    batch = torch.tensor([0] * 5 + [1] * 3 + [2] * 6)
    return frag, num_frags, batch


def test_fragment_pool_matches_naive_loop() -> None:
    frag, num_frags, batch = _toy_batch()
    node = torch.randn(batch.numel(), 4, generator=torch.Generator().manual_seed(0))
    emb, graph = fragment_pool(node, frag, num_frags, batch)
    expected, expected_graph = [], []
    for g in range(num_frags.numel()):
        for k in range(int(num_frags[g])):
            rows = [i for i in range(batch.numel()) if batch[i] == g and frag[i] == k]
            expected.append(node[rows].mean(0))
            expected_graph.append(g)
    torch.testing.assert_close(emb, torch.stack(expected))
    assert graph.tolist() == expected_graph


def test_fragment_pool_rejects_out_of_range_ids() -> None:
    frag, num_frags, batch = _toy_batch()
    frag[0] = 2
    with pytest.raises(ValueError, match="num_frags"):
        fragment_pool(torch.zeros(batch.numel(), 3), frag, num_frags, batch)


def test_fragment_loss_equals_ntxent_on_pooled_heads() -> None:
    frag, num_frags, batch = _toy_batch()
    gen = torch.Generator().manual_seed(1)
    node_a = torch.randn(batch.numel(), 8, generator=gen, requires_grad=True)
    node_b = torch.randn(batch.numel(), 8, generator=gen, requires_grad=True)
    head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    loss = FragmentContrastLoss(temperature=0.2)(node_a, node_b, frag, num_frags, batch, head=head)
    emb_a, _ = fragment_pool(node_a, frag, num_frags, batch)
    emb_b, _ = fragment_pool(node_b, frag, num_frags, batch)
    expected = NTXentLoss(temperature=0.2)(head(emb_a), head(emb_b))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert node_a.grad is not None and torch.isfinite(node_a.grad).all()
    assert (node_a.grad[frag == -1] == 0).all()
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize("num", [0, 1])
def test_fewer_than_two_fragments_give_a_connected_zero(num: int) -> None:
    batch = torch.tensor([0, 0, 0, 1, 1])
    frag = torch.tensor([0, 0, 0, -1, -1]) if num else torch.full((5,), -1)
    node_a = torch.randn(5, 3, requires_grad=True)
    node_b = torch.randn(5, 3, requires_grad=True)
    head = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    loss = FragmentContrastLoss()(node_a, node_b, frag, torch.tensor([num, 0]), batch, head=head)
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(node_a.grad, torch.zeros_like(node_a))


def test_views_must_share_atoms() -> None:
    frag, num_frags, batch = _toy_batch()
    with pytest.raises(ValueError, match="same atoms"):
        FragmentContrastLoss()(torch.zeros(14, 3), torch.zeros(13, 3), frag, num_frags, batch)
