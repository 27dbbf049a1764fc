"""AtomMask and BondDeletion: exact counts, alignment, no mutation, determinism."""

from __future__ import annotations

import pytest
import torch
from _augment_checks import assert_same, bonds_of, check_aligned, expected, masked_atoms, per_graph
from torch_geometric.data import Batch, Data

from molssl.augment import AtomMask, BondDeletion

SEEDS = range(200)


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_atom_mask_counts(batch: Batch, rate: float) -> None:
    reference = batch.clone()
    aug = AtomMask(rate)
    n = torch.bincount(batch.batch).tolist()
    for seed in SEEDS:
        out = aug(batch, torch.Generator().manual_seed(seed))
        mask = masked_atoms(batch, out)
        assert per_graph(mask, batch.batch, batch.num_graphs) == [expected(rate, k) for k in n]
        assert torch.equal(out.edge_index, batch.edge_index)
        assert torch.equal(out.edge_attr, batch.edge_attr)
    assert_same(batch, reference)


@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_bond_deletion_counts(batch: Batch, rate: float) -> None:
    reference = batch.clone()
    aug = BondDeletion(rate)
    m = (torch.bincount(batch.batch[batch.edge_index[0]], minlength=batch.num_graphs) // 2).tolist()
    for seed in SEEDS:
        out = aug(batch, torch.Generator().manual_seed(seed))
        check_aligned(batch, out, split=seed % 20 == 0)
        assert torch.equal(out.x, batch.x)
        left = torch.bincount(out.batch[out.edge_index[0]], minlength=batch.num_graphs) // 2
        assert left.tolist() == [k - expected(rate, k) for k in m]
    assert_same(batch, reference)


def test_bond_deletion_shuffled_edges(graphs: list[Data]) -> None:
    """Edges in arbitrary order are still paired by endpoints, not by position."""
    data = graphs[5]
    perm = torch.randperm(data.edge_index.size(1), generator=torch.Generator().manual_seed(0))
    shuffled = data.clone()
    shuffled.edge_index, shuffled.edge_attr = data.edge_index[:, perm], data.edge_attr[perm]
    m = data.edge_index.size(1) // 2
    for seed in range(50):
        out = BondDeletion(0.25)(shuffled, torch.Generator().manual_seed(seed))
        check_aligned(shuffled, out, paired_order=False)
        assert len(bonds_of(out)) == m - expected(0.25, m)


def test_chained_augmentations_keep_pairs(batch: Batch) -> None:
    aug_1, aug_2 = BondDeletion(0.3), BondDeletion(0.3)
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        out = aug_2(aug_1(batch, gen), gen)
        check_aligned(batch, out)


@pytest.mark.parametrize("aug", [AtomMask(0.25), BondDeletion(0.25)], ids=repr)
def test_determinism(batch: Batch, aug) -> None:
    a = aug(batch, torch.Generator().manual_seed(7))
    b = aug(batch, torch.Generator().manual_seed(7))
    c = aug(batch, torch.Generator().manual_seed(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not (torch.equal(a.x, c.x) and torch.equal(a.edge_index, c.edge_index))


def test_rate_zero_is_identity_and_rate_one_takes_all(batch: Batch) -> None:
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(AtomMask(0.0)(batch, gen).x, batch.x)
    assert torch.equal(BondDeletion(0.0)(batch, gen).edge_index, batch.edge_index)
    assert (AtomMask(1.0)(batch, gen).x == torch.tensor([118, 0])).all()
    out = BondDeletion(1.0)(batch, gen)
    assert out.edge_index.shape == (2, 0) and out.edge_attr.shape == (0, 2)
    assert all(g.edge_index.size(1) == 0 for g in out.to_data_list())


def test_single_data(graphs: list[Data]) -> None:
    data = graphs[5]
    reference = data.clone()
    gen = torch.Generator().manual_seed(0)
    out = BondDeletion(0.25)(AtomMask(0.25)(data, gen), gen)
    assert isinstance(out, Data) and not isinstance(out, Batch)
    assert int(masked_atoms(data, out).sum()) == expected(0.25, data.num_nodes)
    assert out.edge_index.size(1) == data.edge_index.size(1) - 2 * expected(0.25, 13)
    check_aligned(data, out)
    assert_same(data, reference)


def test_one_atom_and_no_bonds(graphs: list[Data]) -> None:
    single = graphs[0]  # "C"
    gen = torch.Generator().manual_seed(0)
    assert (AtomMask(0.25)(single, gen).x == torch.tensor([118, 0])).all()
    out = BondDeletion(0.25)(single, gen)
    assert out.edge_index.shape == (2, 0)
    salt = graphs[1]  # "[Na+].[Cl-]"
    assert int(masked_atoms(salt, AtomMask(0.25)(salt, gen)).sum()) == 1


def test_invalid_arguments(batch: Batch) -> None:
    with pytest.raises(ValueError, match="rate"):
        AtomMask(1.5)
    with pytest.raises(ValueError, match="rate"):
        BondDeletion(-0.1)
    with pytest.raises(ValueError, match="mask_atom"):
        AtomMask(0.25, mask_atom=(118, 0, 0))(batch)
