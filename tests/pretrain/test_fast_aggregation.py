"""The sparse aggregation the convs use for speed equals plain gather/scatter, with gradients."""

from __future__ import annotations

import pytest
import torch

from molssl.models.convs import neighbor_sum
from molssl.models.embeddings import FeatureEmbedding


def _graph(n: int, e: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    return edge_index, torch.stack([torch.randint(0, 5, (e,)), torch.randint(0, 3, (e,))], 1)


@pytest.mark.parametrize(("n", "e"), [(7, 20), (5, 0), (1, 1)])
def test_neighbor_sum_matches_index_add_and_gradcheck(n: int, e: int) -> None:
    edge_index, _ = _graph(n, e)
    x = torch.randn(n, 4, dtype=torch.float64, requires_grad=True)
    expected = torch.zeros_like(x).index_add(0, edge_index[1], x[edge_index[0]])
    torch.testing.assert_close(neighbor_sum(x, edge_index), expected)
    assert torch.autograd.gradcheck(lambda t: neighbor_sum(t, edge_index), (x,))


def test_neighbor_sum_fallback_path_for_other_dtypes() -> None:
    edge_index, _ = _graph(6, 15)
    x = torch.randn(6, 3).to(torch.bfloat16)
    expected = torch.zeros_like(x).index_add_(0, edge_index[1], x[edge_index[0]])
    torch.testing.assert_close(neighbor_sum(x, edge_index), expected)


def test_grouped_sum_matches_embedding_then_index_add() -> None:
    emb = FeatureEmbedding((5, 3), 4).double()
    edge_index, attr = _graph(8, 30)
    expected = torch.zeros(8, 4, dtype=torch.float64).index_add(0, edge_index[1], emb(attr))
    torch.testing.assert_close(emb.grouped_sum(attr, edge_index[1], 8), expected)
    weights = [t.weight for t in emb.embeddings]
    grads = torch.autograd.grad(emb.grouped_sum(attr, edge_index[1], 8).square().sum(), weights)
    ref = torch.autograd.grad(expected.square().sum(), weights)
    for got, want in zip(grads, ref, strict=True):
        torch.testing.assert_close(got, want)
    empty = emb.grouped_sum(torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), 3)
    assert empty.shape == (3, 4) and not empty.any()


def test_grouped_sum_rejects_values_outside_the_vocabulary() -> None:
    emb = FeatureEmbedding((5, 3), 4)
    attr = torch.tensor([[5, 0]])  # bond type 5 would silently count as the next column
    with pytest.raises(ValueError, match="vocabulary"):
        emb.grouped_sum(attr, torch.tensor([0]), 2)


@pytest.mark.parametrize("conv_name", ["gin", "gcn"])
@pytest.mark.parametrize(("n", "e"), [(9, 24), (4, 0)])
def test_planned_aggregation_matches_gather_scatter(conv_name: str, n: int, e: int) -> None:
    """One MessagePlan shared by the layers gives the plain per-edge sum, values and gradients."""
    from molssl.models.convs import CONVS

    torch.manual_seed(0)
    conv = CONVS[conv_name](6, (5, 3), (4, 0)).double()
    edge_index, attr = _graph(n, e, seed=1)
    attr[:, 0] = attr[:, 0].clamp(max=3)  # bond types 0-3; 4 is the self-loop's
    h = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    loops = torch.arange(n)
    src, dst = torch.cat([edge_index[0], loops]), torch.cat([edge_index[1], loops])
    all_attr = torch.cat([attr, torch.tensor([[4, 0]]).expand(n, 2)])
    bonds = conv.bond_encoder(all_attr)  # [E + N, 6] or [E + N, 1]
    expected = torch.zeros(n, 6, dtype=torch.float64).index_add(0, dst, h[src] + bonds)
    plan = conv.plan(edge_index, attr, n)
    torch.testing.assert_close(conv.aggregate_with_bonds(h, edge_index, attr, plan), expected)
    torch.testing.assert_close(conv.aggregate_with_bonds(h, edge_index, attr), expected)
    params = [h, *conv.bond_encoder.parameters()]
    got = torch.autograd.grad(
        conv.aggregate_with_bonds(h, edge_index, attr, plan).sin().sum(), params
    )
    want = torch.autograd.grad(expected.sin().sum(), params)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda t: plan.neighbor_sum(t), (h,))


def test_plan_rejects_bond_values_outside_the_vocabulary() -> None:
    from molssl.models.convs import MessagePlan

    with pytest.raises(ValueError, match="vocabulary"):
        MessagePlan(torch.tensor([[0], [1]]), torch.tensor([[5, 0]]), 2, (5, 3), (4, 0))


def test_encode_is_forward_h() -> None:
    from torch_geometric.data import Batch

    from molssl.featurize import MolGraphFeaturizer
    from molssl.models import MolEncoder

    torch.manual_seed(0)
    model = MolEncoder(num_layers=3, hidden_channels=16, out_channels=8, proj_dim=4).eval()
    batch = Batch.from_data_list([MolGraphFeaturizer()(s) for s in ("CCO", "c1ccccc1N", "[Na+]")])
    torch.testing.assert_close(model.encode(batch), model.forward_batch(batch).h)
