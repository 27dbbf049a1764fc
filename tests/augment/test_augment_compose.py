"""Compose, RandomChoice, registry, TwoViewTransform and edge cases (empty batches, featurizer)."""

from __future__ import annotations

import pytest
import torch
from _augment_checks import assert_same, check_aligned, masked_atoms
from torch_geometric.data import Batch, Data

from molssl.augment import (
    AUGMENTATIONS,
    AtomMask,
    BondDeletion,
    Compose,
    Identity,
    Mix,
    RandomChoice,
    SubgraphRemoval,
    TwoViewTransform,
    build_augmentation,
)

ALL = [Identity(), AtomMask(), BondDeletion(), SubgraphRemoval(), Mix()]


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_empty_batch(aug) -> None:
    empty = Batch(
        x=torch.zeros(0, 2, dtype=torch.long),
        edge_index=torch.zeros(2, 0, dtype=torch.long),
        edge_attr=torch.zeros(0, 2, dtype=torch.long),
        batch=torch.zeros(0, dtype=torch.long),
        ptr=torch.zeros(1, dtype=torch.long),
    )
    out = aug(empty, torch.Generator().manual_seed(0))
    assert out.x.shape == (0, 2) and out.edge_index.shape == (2, 0)
    assert aug(Batch(), None) is not None


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_tiny_molecules(aug, graphs: list[Data]) -> None:
    tiny = Batch.from_data_list([graphs[0], graphs[1], graphs[9], graphs[10], graphs[26]])
    for seed in range(20):
        check_aligned(tiny, aug(tiny, torch.Generator().manual_seed(seed)))


def test_compose_and_two_views(batch: Batch) -> None:
    reference = batch.clone()
    views = TwoViewTransform(Compose([AtomMask(), BondDeletion()]))
    gen = torch.Generator().manual_seed(0)
    a, b = views(batch, gen)
    for view in (a, b):
        check_aligned(batch, view)
        masked_atoms(batch, view)
    assert not torch.equal(a.x, b.x)
    a2, b2 = views(batch, torch.Generator().manual_seed(0))
    assert torch.equal(a.x, a2.x) and torch.equal(b.edge_index, b2.edge_index)
    assert_same(batch, reference)


def test_random_choice_per_graph(batch: Batch) -> None:
    reference = batch.clone()
    aug = RandomChoice([AtomMask(), BondDeletion()], p=[0.5, 0.5])
    for seed in range(50):
        out = aug(batch, torch.Generator().manual_seed(seed))
        check_aligned(batch, out, split=seed % 10 == 0)
        mask = masked_atoms(batch, out)
        masked_graphs = set(batch.batch[mask].tolist())
        edges_left = torch.bincount(out.batch[out.edge_index[0]], minlength=batch.num_graphs)
        edges_all = torch.bincount(batch.batch[batch.edge_index[0]], minlength=batch.num_graphs)
        cut_graphs = set((edges_left < edges_all).nonzero().flatten().tolist())
        assert not masked_graphs & cut_graphs  # each graph got exactly one of the options
    assert_same(batch, reference)
    only_mask = RandomChoice([AtomMask(), BondDeletion()], p=[1.0, 0.0])(batch)
    assert torch.equal(only_mask.edge_index, batch.edge_index)


def test_random_choice_per_batch(batch: Batch) -> None:
    aug = RandomChoice([AtomMask(), BondDeletion()], per_graph=False)
    for seed in range(20):
        out = aug(batch, torch.Generator().manual_seed(seed))
        assert torch.equal(out.x, batch.x) or torch.equal(out.edge_index, batch.edge_index)


def test_registry() -> None:
    assert {"none", "atom_mask", "bond_deletion", "subgraph", "mix"} <= set(AUGMENTATIONS)
    aug = build_augmentation({"name": "atom_mask", "rate": 0.3}, mask_atom=(5, 1))
    assert isinstance(aug, AtomMask) and aug.rate == 0.3 and aug.mask_atom == (5, 1)
    assert isinstance(build_augmentation("bond_deletion", mask_atom=(5, 1)), BondDeletion)
    nested = build_augmentation(
        {"name": "random_choice", "augmentations": ["subgraph", {"name": "mix"}], "p": [1, 3]},
        mask_atom=(7, 0),
    )
    assert isinstance(nested, RandomChoice) and nested.augmentations[1].mask_atom == (7, 0)
    assert isinstance(build_augmentation("molclr"), Compose)
    with pytest.raises(ValueError, match="unknown augmentation"):
        build_augmentation("rotate")
    with pytest.raises(TypeError, match="unknown arguments"):
        build_augmentation({"name": "mix", "ratee": 0.1})
    with pytest.raises(ValueError, match="name"):
        build_augmentation({"rate": 0.1})


def test_with_project_featurizer() -> None:
    featurize = pytest.importorskip("molssl.featurize.molclr")
    featurizer = featurize.MolGraphFeaturizer()
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)[O-].[Na+]", "C", "CCCCCCCCCC.CC"]
    batch = Batch.from_data_list([featurizer(s) for s in smiles])
    for name in ("atom_mask", "bond_deletion", "subgraph", "mix", "molclr"):
        aug = build_augmentation(name, mask_atom=featurizer.mask_atom)
        for seed in range(10):
            out = aug(batch, torch.Generator().manual_seed(seed))
            assert out.edge_index.size(1) == out.edge_attr.size(0)
            assert torch.equal(out.edge_index[:, 0::2], out.edge_index[:, 1::2].flip(0))
