"""BRICS fragment ids: hand-checked drugs, iMolCLR's component rule, and edge cases."""

from __future__ import annotations

import logging

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import BRICS

from molssl.fragments import brics_fragment_ids


def _ids(smiles: str, **kwargs: object) -> tuple[list[int], int]:
    frag, num = brics_fragment_ids(Chem.MolFromSmiles(smiles), **kwargs)
    assert frag.dtype == torch.long
    return frag.tolist(), num


def test_aspirin_keeps_only_the_ring() -> None:
    # C0 C1(=O2) O3 c4..c9 C10(=O11) O12; cuts C1-O3, O3-c4, c9-C10; only the ring has > 3 atoms
    assert _ids("CC(=O)Oc1ccccc1C(=O)O") == ([-1] * 4 + [0] * 6 + [-1] * 3, 1)


def test_ibuprofen_isobutyl_ring_and_propanoic_acid() -> None:
    # cuts C3-c4 and c7-C10: isobutyl {0..3}, ring {4..9}, CH(CH3)COOH {10..14}
    assert _ids("CC(C)Cc1ccc(cc1)C(C)C(=O)O") == ([0] * 4 + [1] * 6 + [2] * 5, 3)


def test_amide_cut_on_both_sides_of_the_nitrogen() -> None:
    # pentanoyl {0..5}, lone N6 (dropped), butyl {7..10}
    assert _ids("CCCCC(=O)NCCCC") == ([0] * 6 + [-1] + [1] * 4, 2)


def test_min_atoms_controls_the_size_threshold() -> None:
    frag, num = _ids("CC(=O)Oc1ccccc1C(=O)O", min_atoms=1)
    assert (frag, num) == ([0, 0, 0, 1] + [2] * 6 + [3] * 3, 4)


@pytest.mark.parametrize("smiles", ["CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "c1ccccc1", "CCCCCC"])
def test_no_brics_bond_gives_no_fragment_like_imolclr(smiles: str) -> None:
    n = Chem.MolFromSmiles(smiles).GetNumAtoms()
    assert _ids(smiles) == ([-1] * n, 0)
    assert _ids(smiles, include_uncut_components=True) == ([0] * n, 1)


@pytest.mark.parametrize("smiles", ["C", "[Na+]", "", "[Na+].[Cl-]", "O.O", "[H][H]"])
def test_tiny_and_ionic_molecules(smiles: str) -> None:
    mol = Chem.MolFromSmiles(smiles)
    frag, num = brics_fragment_ids(mol)
    assert num == 0 and frag.shape == (mol.GetNumAtoms(),) and bool((frag == -1).all())


def test_salt_counterions_are_not_fragments() -> None:
    assert _ids("CCCCC(=O)NCCCC.[Na+].[Cl-]") == ([0] * 6 + [-1] + [1] * 4 + [-1, -1], 2)
    frag, num = _ids("CCCCC(=O)NCCCC.c1ccccc1", include_uncut_components=True)
    assert (frag, num) == ([0] * 6 + [-1] + [1] * 4 + [2] * 6, 3)


@pytest.mark.parametrize(
    "smiles", ["CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)c1ccccc1CCCC"]
)
def test_explicit_hydrogens_follow_their_heavy_atom(smiles: str) -> None:
    heavy = Chem.MolFromSmiles(smiles)
    with_h = Chem.AddHs(heavy)
    frag_heavy, num_heavy = brics_fragment_ids(heavy)
    frag, num = brics_fragment_ids(with_h)
    assert num == num_heavy and frag.shape == (with_h.GetNumAtoms(),)
    assert torch.equal(frag[: heavy.GetNumAtoms()], frag_heavy)
    for atom in with_h.GetAtoms():
        if atom.GetAtomicNum() == 1:
            assert frag[atom.GetIdx()] == frag[atom.GetNeighbors()[0].GetIdx()]


def test_caps_are_deterministic_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="molssl.fragments"):
        assert _ids("CC(C)Cc1ccc(cc1)C(C)C(=O)O", max_atoms=10) == ([-1] * 15, 0)
        assert _ids("CC(C)Cc1ccc(cc1)C(C)C(=O)O", max_bonds_to_break=1) == ([-1] * 15, 0)
    assert len(caplog.records) == 2
    assert all("CC(C)Cc1ccc" in r.getMessage() for r in caplog.records)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="min_atoms"):
        brics_fragment_ids(Chem.MolFromSmiles("CCO"), min_atoms=0)


def _imolclr_reference(mol: Chem.Mol) -> set[frozenset[int]]:
    """iMolCLR's ``get_fragment_indices`` (components seeded at cut atoms, > 3 atoms)."""
    cuts = [b[0] for b in BRICS.FindBRICSBonds(mol)]
    adjacency: dict[int, set[int]] = {a.GetIdx(): set() for a in mol.GetAtoms()}
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if (i, j) not in cuts and (j, i) not in cuts:
            adjacency[i].add(j)
            adjacency[j].add(i)
    out = set()
    for start in {a for cut in cuts for a in cut}:
        seen, stack = {start}, [start]
        while stack:
            for nxt in adjacency[stack.pop()] - seen:
                seen.add(nxt)
                stack.append(nxt)
        if len(seen) > 3:
            out.add(frozenset(seen))
    return out


def test_matches_imolclr_components_on_many_molecules(mols: list[Chem.Mol]) -> None:
    total = 0
    for mol in mols:
        frag, num = brics_fragment_ids(mol)
        got = {frozenset(torch.nonzero(frag == k).flatten().tolist()) for k in range(num)}
        assert got == _imolclr_reference(mol), Chem.MolToSmiles(mol)
        total += num
    assert total > 20


def test_collated_extras_pool_per_molecule() -> None:
    from torch_geometric.data import Batch, Data

    from molssl.contrastive.losses.fragment import fragment_pool
    from molssl.fingerprints import count_tanimoto_matrix, imolclr_count_fingerprint

    smiles = ["CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccccc1", "CCCCC(=O)NCCCC"]
    graphs, emb = [], []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        frag, num = brics_fragment_ids(mol)
        keys = imolclr_count_fingerprint(mol)
        node = torch.randn(mol.GetNumAtoms(), 3)
        emb.append([node[frag == k].mean(0) for k in range(num)])
        graphs.append(
            Data(
                node=node,
                num_nodes=mol.GetNumAtoms(),
                frag=frag,
                num_frags=torch.tensor([num]),
                fp_count=keys,
                fp_count_num=torch.tensor([keys.numel()]),
            )
        )
    batch = Batch.from_data_list(graphs)
    assert batch.num_frags.tolist() == [3, 0, 2]
    pooled, graph = fragment_pool(batch.node, batch.frag, batch.num_frags, batch.batch)
    torch.testing.assert_close(pooled, torch.stack([e for per in emb for e in per]))
    assert graph.tolist() == [0, 0, 0, 2, 2]
    sim = count_tanimoto_matrix(batch.fp_count, batch.fp_count_num)
    assert sim.shape == (3, 3) and torch.allclose(sim.diagonal(), torch.ones(3))
