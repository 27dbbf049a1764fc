"""Hu et al. (2020)'s released GCNs through the generic foreign-checkpoint loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from molssl.contrastive.io.checkpoint import CheckpointError
from molssl.featurize import MolGraphFeaturizer
from molssl.models import EncoderConfig, MolEncoder, load_foreign_checkpoint
from molssl.models.pretrained import load_pretrained
from molssl.models.sources import FOREIGN_SOURCES

HU_FILES = ("gcn_contextpred", "gcn_supervised", "gcn_supervised_contextpred")


def _hu_layout_state(num_layers: int = 2, d: int = 8) -> dict[str, torch.Tensor]:
    """A small state_dict laid out as the authors' GCN files (120 atom rows, 6 bond rows)."""
    torch.manual_seed(0)
    state = {"x_embedding1.weight": torch.randn(120, d), "x_embedding2.weight": torch.randn(3, d)}
    for k in range(num_layers):
        state[f"gnns.{k}.linear.weight"] = torch.randn(d, d)
        state[f"gnns.{k}.linear.bias"] = torch.randn(d)
        state[f"gnns.{k}.edge_embedding1.weight"] = torch.randn(6, d)
        state[f"gnns.{k}.edge_embedding2.weight"] = torch.randn(3, d)
        for name, value in (
            ("weight", torch.rand(d) + 0.5),
            ("bias", torch.randn(d)),
            ("running_mean", torch.randn(d)),
            ("running_var", torch.rand(d) + 0.5),
            ("num_batches_tracked", torch.tensor(7)),
        ):
            state[f"batch_norms.{k}.{name}"] = value
    return state


def test_layout_maps_onto_the_featurizer_vocabulary(tmp_path) -> None:
    state = _hu_layout_state()
    path = tmp_path / "gcn.pth"
    torch.save(state, path)
    model, report = load_foreign_checkpoint(path, "hu2020-gcn")
    assert report.config == EncoderConfig.from_featurizer(
        MolGraphFeaturizer(),
        conv="gcn-norm",
        num_layers=2,
        hidden_channels=8,
        out_channels=8,
        proj_dim=8,
        head=False,
    )
    assert report.missing_keys == [] and report.unexpected_keys == []
    loaded = model.state_dict()
    atoms = loaded["atom_encoder.embeddings.0.weight"]
    torch.testing.assert_close(atoms[:118], state["x_embedding1.weight"][:118])
    torch.testing.assert_close(atoms[118], state["x_embedding1.weight"][119])  # the mask token
    bonds = loaded["gnns.1.bond_encoder.embeddings.0.weight"]
    torch.testing.assert_close(bonds, state["gnns.1.edge_embedding1.weight"][:5])
    chirality = loaded["atom_encoder.embeddings.1.weight"]
    torch.testing.assert_close(chirality[3], chirality[0])  # "other" reads as unspecified
    assert len(report.remapped) == 1 + 2 and len(report.padded) == 1


def test_the_math_is_the_papers_on_a_small_molecule(tmp_path) -> None:
    """Degree-normalised messages with 300-dim-style bond vectors, computed by plain indexing."""
    state = _hu_layout_state(num_layers=2)
    path = tmp_path / "gcn.pth"
    torch.save(state, path)
    model, _ = load_foreign_checkpoint(path, "hu2020-gcn")
    graph = MolGraphFeaturizer()("OC=O")
    src, dst = graph.edge_index
    n = graph.num_nodes
    loops = torch.arange(n)
    src, dst = torch.cat([src, loops]), torch.cat([dst, loops])
    attr = torch.cat([graph.edge_attr, torch.tensor([[4, 0]]).expand(n, 2)])
    deg = torch.bincount(dst, minlength=n).float()
    h = state["x_embedding1.weight"][graph.x[:, 0]] + state["x_embedding2.weight"][graph.x[:, 1]]
    for k in range(2):
        lin = h @ state[f"gnns.{k}.linear.weight"].T + state[f"gnns.{k}.linear.bias"]
        e = (
            state[f"gnns.{k}.edge_embedding1.weight"][attr[:, 0]]
            + state[f"gnns.{k}.edge_embedding2.weight"][attr[:, 1]]
        )
        msg = (lin[src] + e) / torch.sqrt(deg[src] * deg[dst]).unsqueeze(1)
        out = torch.zeros(n, lin.size(1)).index_add_(0, dst, msg)
        bn = {
            name: state[f"batch_norms.{k}.{name}"]
            for name in ("weight", "bias", "running_mean", "running_var")
        }
        h = (out - bn["running_mean"]) / torch.sqrt(bn["running_var"] + 1e-5) * bn["weight"]
        h = h + bn["bias"]
        h = torch.relu(h) if k == 0 else h
    with torch.no_grad():
        got, node = model.encode(graph, return_nodes=True)
    torch.testing.assert_close(node, h, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got, h.mean(0, keepdim=True), rtol=1e-5, atol=1e-5)


def test_without_head_h_is_pooled_and_project_is_the_identity() -> None:
    enc = MolEncoder(
        conv="gcn-norm", num_layers=2, hidden_channels=8, out_channels=8, proj_dim=8, head=False
    ).eval()
    batch = Batch.from_data_list([MolGraphFeaturizer()(s) for s in ("CCO", "c1ccccc1")])
    with torch.no_grad():
        out = enc.forward_batch(batch)
        node = enc.encode_nodes(batch.x, batch.edge_index, batch.edge_attr)
    assert torch.equal(out.h, out.z) and torch.equal(enc.project(out.h), out.h)
    torch.testing.assert_close(out.h[0], node[batch.batch == 0].mean(0))
    assert not any(k.startswith(("feat_lin", "out_lin")) for k in enc.state_dict())
    with pytest.raises(ValueError, match="out_channels and proj_dim to hidden_channels"):
        EncoderConfig(hidden_channels=8, head=False)


def test_a_file_of_another_source_names_the_kind_to_write(tmp_path) -> None:
    path = tmp_path / "gcn.pth"
    torch.save(_hu_layout_state(), path)
    with pytest.raises(CheckpointError, match=f"write hu2020-gcn:{path}"):
        load_foreign_checkpoint(path, "molclr-gcn")
    molclr = MolEncoder(conv="gin", num_layers=2, hidden_channels=8, out_channels=8, proj_dim=4)
    state = {
        k.replace("atom_encoder.embeddings.0", "x_embedding1"): v
        for k, v in molclr.state_dict().items()
    }
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="write molclr-gin:"):
        load_foreign_checkpoint(path, "hu2020-gcn")


def test_every_source_is_a_weights_kind() -> None:
    from molssl.models.pretrained import LOADERS

    assert set(FOREIGN_SOURCES) <= set(LOADERS)
    assert {"molclr-gcn", "molclr-gin", "hu2020-gcn"} <= set(FOREIGN_SOURCES)


@pytest.mark.parametrize("name", HU_FILES)
def test_parity_with_the_released_hu2020_gcns(shared_data, name: str) -> None:
    """The mean-pooled last layer matches the authors' math on 200 molecules."""
    ckpt = shared_data / "checkpoints"
    ref = np.load(ckpt / "hu2020_gcn_reference.npz", allow_pickle=False)
    loaded = load_pretrained(f"hu2020-gcn:{ckpt / f'hu2020_{name}.pth'}")
    assert loaded.missing_keys == [] and loaded.unexpected_keys == []
    assert loaded.encoder.config.hidden_channels == 300 and not loaded.encoder.config.head
    batch = Batch.from_data_list([loaded.featurizer(str(s)) for s in ref["smiles"]])
    with torch.no_grad():
        h = loaded.encoder.encode(batch)
    expected = torch.from_numpy(ref[name])
    err = (h - expected).abs().max(dim=1).values
    # The context-prediction weights reach |h| ~ 420 after BatchNorms with running variances
    # down to 3e-3, where float32 rounding (GEMM blocking) alone moves h by ~1e-6 of the
    # molecule's largest |h| (float64 lands 3.5e-4 off the float32 reference); the other two
    # files stay within 1e-5.
    allowed = 1e-4 + 2e-6 * expected.abs().max(dim=1).values
    assert bool((err <= allowed).all()), (err - allowed).max().item()
    if name != "gcn_contextpred":
        assert err.max().item() < 1e-4
