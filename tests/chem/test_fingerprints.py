"""Fingerprints and Tanimoto matrices against RDKit's own similarity functions."""

from __future__ import annotations

import pytest
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from molssl.fingerprints import (
    count_tanimoto_matrix,
    ecfp_bits,
    imolclr_count_fingerprint,
    tanimoto_matrix,
)


def test_ecfp_bits_shape_and_rdkit_bits(mols: list[Chem.Mol]) -> None:
    bits = ecfp_bits(mols[0], radius=2, n_bits=1024)
    assert bits.dtype == torch.bool and bits.shape == (1, 1024)
    ref = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024).GetFingerprint(mols[0])
    assert sorted(torch.nonzero(bits[0]).flatten().tolist()) == list(ref.GetOnBits())


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.float32])
def test_tanimoto_matrix_matches_rdkit_bulk(mols: list[Chem.Mol], dtype: torch.dtype) -> None:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in mols]
    bits = torch.cat([ecfp_bits(m) for m in mols]).to(dtype)
    sim = tanimoto_matrix(bits)
    ref = torch.tensor(
        [DataStructs.BulkTanimotoSimilarity(fp, fps) for fp in fps], dtype=torch.float64
    )
    torch.testing.assert_close(sim.double(), ref, atol=1e-6, rtol=0)
    assert torch.allclose(sim, sim.T)


def test_tanimoto_matrix_rectangular_and_empty(mols: list[Chem.Mol]) -> None:
    bits = torch.cat([ecfp_bits(m) for m in mols])
    full = tanimoto_matrix(bits)
    torch.testing.assert_close(tanimoto_matrix(bits[:7], bits), full[:7])
    empty = torch.zeros(2, 2048, dtype=torch.bool)
    sim = tanimoto_matrix(torch.cat([empty, bits[:1]]))
    assert sim[0, 0] == 0 and sim[0, 1] == 0 and sim[0, 2] == 0 and sim[2, 2] == 1
    assert torch.isfinite(sim).all()


def test_tanimoto_matrix_rejects_mismatched_width() -> None:
    with pytest.raises(ValueError, match="same number of bits"):
        tanimoto_matrix(torch.zeros(2, 8, dtype=torch.bool), torch.zeros(2, 16, dtype=torch.bool))


def _rdkit_count_fp(mol: Chem.Mol) -> DataStructs.UIntSparseIntVect:
    gen = rdFingerprintGenerator.GetMorganGenerator(
        radius=2, atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
    )
    return gen.GetSparseCountFingerprint(Chem.AddHs(mol))


def test_count_fingerprint_keys_are_unary_expansion(mols: list[Chem.Mol]) -> None:
    keys = imolclr_count_fingerprint(mols[1])
    counts = _rdkit_count_fp(mols[1]).GetNonzeroElements()
    assert keys.numel() == sum(counts.values())
    assert torch.equal(keys, torch.unique(keys))
    ids, t = keys >> 20, keys & ((1 << 20) - 1)
    for feature, count in counts.items():
        assert sorted(t[ids == feature].tolist()) == list(range(1, count + 1))


def test_count_fingerprint_matches_legacy_imolclr_call(mols: list[Chem.Mol]) -> None:
    from rdkit.Chem import AllChem

    if not hasattr(AllChem, "GetMorganFingerprint"):
        pytest.skip("this RDKit no longer has the legacy GetMorganFingerprint")
    for mol in mols[:10]:
        legacy = AllChem.GetMorganFingerprint(Chem.AddHs(mol), 2, useFeatures=True)
        assert legacy.GetNonzeroElements() == _rdkit_count_fp(mol).GetNonzeroElements()


def test_count_tanimoto_matrix_matches_rdkit(mols: list[Chem.Mol]) -> None:
    fps = [_rdkit_count_fp(m) for m in mols]
    keys = [imolclr_count_fingerprint(m) for m in mols]
    flat, num = torch.cat(keys), torch.tensor([k.numel() for k in keys])
    sim = count_tanimoto_matrix(flat, num)
    ref = torch.tensor(
        [DataStructs.BulkTanimotoSimilarity(fp, fps) for fp in fps], dtype=torch.float64
    )
    torch.testing.assert_close(sim.double(), ref, atol=1e-6, rtol=0)

    split = int(num[:9].sum())
    rect = count_tanimoto_matrix(flat[:split], num[:9], flat, num)
    torch.testing.assert_close(rect, sim[:9])
    rect_disjoint = count_tanimoto_matrix(flat[:split], num[:9], flat[split:], num[9:])
    torch.testing.assert_close(rect_disjoint, sim[:9, 9:])


def test_count_tanimoto_matrix_empty_and_errors() -> None:
    keys = torch.tensor([5, 6], dtype=torch.long)
    sim = count_tanimoto_matrix(keys, torch.tensor([0, 2, 0]))
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(sim, expected)
    with pytest.raises(ValueError, match="num sums to"):
        count_tanimoto_matrix(keys, torch.tensor([1]))
    with pytest.raises(ValueError, match="both other_keys and other_num"):
        count_tanimoto_matrix(keys, torch.tensor([2]), other_keys=keys)
