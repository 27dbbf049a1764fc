"""The featurizer's iMolCLR fingerprint option reproduces iMolCLR's count Tanimoto exactly."""

from __future__ import annotations

import pytest
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from torch_geometric.data import Batch

from molssl.featurize import MolGraphFeaturizer, featurizer_from_dict
from molssl.fingerprints import count_tanimoto_matrix

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "[Na+].[Cl-]"]


def _reference(smiles: list[str]) -> torch.Tensor:
    gen = rdFingerprintGenerator.GetMorganGenerator(
        radius=2, atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
    )
    fps = [gen.GetSparseCountFingerprint(Chem.AddHs(Chem.MolFromSmiles(s))) for s in smiles]
    return torch.tensor(
        [[DataStructs.TanimotoSimilarity(a, b) for b in fps] for a in fps], dtype=torch.float32
    )


def test_imolclr_kind_matches_rdkit_count_tanimoto():
    featurizer = MolGraphFeaturizer(fingerprint=True, fingerprint_kind="imolclr")
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    assert "fp" not in batch
    sim = count_tanimoto_matrix(batch.fp_count, batch.fp_count_num)
    assert torch.allclose(sim, _reference(SMILES), atol=1e-6)


def test_fingerprint_kind_round_trips_and_is_validated():
    featurizer = MolGraphFeaturizer(fingerprint=True, fingerprint_kind="imolclr")
    assert featurizer_from_dict(featurizer.to_dict()) == featurizer
    assert featurizer != MolGraphFeaturizer(fingerprint=True)
    with pytest.raises(ValueError, match="fingerprint_kind"):
        MolGraphFeaturizer(fingerprint=True, fingerprint_kind="maccs")
