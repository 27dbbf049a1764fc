"""iMolCLR's exact count fingerprints travel through the store into the objective's weights."""

from __future__ import annotations

import torch
from _pretrain_helpers import TINY, small_smiles
from torch_geometric.data import Batch

from molssl.cli import main
from molssl.featurize import MolGraphFeaturizer
from molssl.fingerprints import count_tanimoto_matrix
from molssl.objectives import ObjectiveConfig, build_objective
from molssl.store import GraphStore, build_graph_store


def test_store_keeps_count_fingerprints(smiles_file, tmp_path):
    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True, fingerprint_kind="imolclr")
    store = build_graph_store(smiles_file, tmp_path / "s", featurizer=featurizer, progress=False)
    graph = store[5]
    direct = featurizer(small_smiles()[graph.row])
    assert "fp" not in graph and graph.fp_count.dtype == torch.long
    assert int(graph.fp_count_num) == graph.fp_count.numel() > 0
    assert torch.equal(graph.fp_count, direct.fp_count)
    reopened = GraphStore(tmp_path / "s")
    assert torch.equal(reopened[7].fp_count, store[7].fp_count)


def test_objective_weights_use_count_tanimoto(smiles_file, tmp_path):
    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True, fingerprint_kind="imolclr")
    store = build_graph_store(smiles_file, tmp_path / "s", featurizer=featurizer, progress=False)
    batch = Batch.from_data_list([store[i] for i in range(16)])
    objective = build_objective(ObjectiveConfig(name="imolclr", gather_distributed=False))
    expected = 1 - 0.5 * count_tanimoto_matrix(batch.fp_count, batch.fp_count_num)
    assert torch.allclose(objective._weights(batch), expected)


def test_imolclr_pretraining_with_count_fingerprints(smiles_file, tmp_path):
    out = tmp_path / "run"
    argv = ["pretrain", "--data", str(smiles_file), "--out", str(out), "--batch-size", "32"]
    argv += ["--max-steps", "2", "--epochs", "2", "--set", "objective.name=imolclr"]
    argv += ["--set", "data.fingerprint_kind=imolclr", "--set", f"data.store={tmp_path / 'st'}"]
    assert main([*argv, *TINY]) == 0
    assert (out / "last.pt").exists()
    rows = (out / "metrics.csv").read_text().splitlines()
    assert "loss_fragment" in rows[0]
