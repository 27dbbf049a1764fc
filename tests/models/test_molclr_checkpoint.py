"""Loading MolCLR checkpoints, and parity with the authors' released GCN."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from molssl.contrastive.io.checkpoint import CheckpointError
from molssl.featurize import MolGraphFeaturizer
from molssl.models import EncoderConfig, MolEncoder, load_molclr_checkpoint
from molssl.models.molclr import flush_subnormals_, map_molclr_keys

SMALL = {"num_layers": 3, "hidden_channels": 10, "out_channels": 8, "proj_dim": 4}


def to_molclr_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our names -> the authors' names (inverse of the loader's mapping)."""
    out = {}
    for key, value in state.items():
        key = re.sub(
            r"^atom_encoder\.embeddings\.(\d+)", lambda m: f"x_embedding{int(m[1]) + 1}", key
        )
        key = re.sub(
            r"^gnns\.(\d+)\.bond_encoder\.embeddings\.(\d+)",
            lambda m: f"gnns.{m[1]}.edge_embedding{int(m[2]) + 1}",
            key,
        )
        out[key] = value.clone()
    return out


@pytest.fixture(params=["gin", "gcn"])
def released_style(request, tmp_path):
    """A small encoder saved the way MolCLR saves (3 chirality rows), wrapped and DDP-prefixed."""
    torch.manual_seed(0)
    enc = MolEncoder(conv=request.param, **SMALL)
    state = to_molclr_keys(enc.state_dict())
    assert state["x_embedding2.weight"].shape[0] == 4
    state["x_embedding2.weight"] = state["x_embedding2.weight"][:3].clone()
    state["feat_lin.bias"][0] = 1e-41  # subnormal in float32
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return request.param, enc, path


def test_loads_released_layout(released_style) -> None:
    arch, enc, path = released_style
    model, report = load_molclr_checkpoint(path, arch=arch)
    assert not model.training
    assert report.config == EncoderConfig(conv=arch, **SMALL)
    assert report.missing_keys == [] and report.unexpected_keys == []
    assert report.subnormals_flushed == 1
    assert report.padded == ["atom_encoder.embeddings.1.weight: 3 -> 4 rows (copies of row 0)"]
    loaded, original = model.state_dict(), enc.state_dict()
    chir = loaded["atom_encoder.embeddings.1.weight"]
    torch.testing.assert_close(chir[:3], original["atom_encoder.embeddings.1.weight"][:3])
    torch.testing.assert_close(chir[3], chir[0])
    assert loaded["feat_lin.bias"][0] == 0
    for key in original:
        if key not in ("atom_encoder.embeddings.1.weight", "feat_lin.bias"):
            torch.testing.assert_close(loaded[key], original[key], msg=key)


def test_rejects_wrong_arch_and_non_state_dicts(released_style, tmp_path) -> None:
    arch, _, path = released_style
    other = {"gin": "gcn", "gcn": "gin"}[arch]
    with pytest.raises(CheckpointError, match=f"not '{other}'; write molclr-{arch}:"):
        load_molclr_checkpoint(path, arch=other)
    with pytest.raises(ValueError, match="unknown arch"):
        load_molclr_checkpoint(path, arch="gat")
    bad = tmp_path / "bad.pth"
    torch.save([1, 2, 3], bad)
    with pytest.raises(CheckpointError, match="state_dict"):
        load_molclr_checkpoint(bad, arch=arch)


def test_reports_and_logs_unexpected_and_missing_keys(tmp_path, caplog) -> None:
    enc = MolEncoder(conv="gin", **SMALL)
    state = to_molclr_keys(enc.state_dict())
    del state["out_lin.2.bias"]
    state["pred_head.weight"] = torch.zeros(2)
    path = tmp_path / "model.pth"
    torch.save({"model": state}, path)
    with caplog.at_level(logging.WARNING, logger="molssl.models.molclr"):
        _, report = load_molclr_checkpoint(path, arch="gin")
    assert report.missing_keys == ["out_lin.2.bias"]
    assert report.unexpected_keys == ["pred_head.weight"]
    assert "out_lin.2.bias" in caplog.text and "pred_head.weight" in caplog.text


def test_key_mapping_and_flush() -> None:
    mapped = map_molclr_keys(
        {
            "module.x_embedding1.weight": torch.zeros(1),
            "gnns.3.edge_embedding2.weight": torch.ones(1),
        }
    )
    assert list(mapped) == [
        "atom_encoder.embeddings.0.weight",
        "gnns.3.bond_encoder.embeddings.1.weight",
    ]
    state = {"a": torch.tensor([1e-40, -1e-39, 1.0, 0.0]), "n": torch.tensor(3)}
    assert flush_subnormals_(state) == 2
    assert state["a"].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_parity_with_released_molclr_gcn(shared_data) -> None:
    """h and z of the released GCN match the authors' code on 200 molecules."""
    ckpt = shared_data / "checkpoints"
    ref = np.load(ckpt / "molclr_gcn_reference.npz", allow_pickle=False)
    featurizer = MolGraphFeaturizer()
    model, report = load_molclr_checkpoint(ckpt / "molclr_gcn.pth", arch="gcn")
    assert report.config == EncoderConfig.from_featurizer(featurizer, conv="gcn")
    assert report.missing_keys == [] and report.unexpected_keys == []
    assert report.subnormals_flushed > 100_000
    batch = Batch.from_data_list([featurizer(str(s)) for s in ref["smiles"]])
    with torch.no_grad():
        out = model.forward_batch(batch)
    h_err = (out.h - torch.from_numpy(ref["h"])).abs().max().item()
    z_err = (out.z - torch.from_numpy(ref["z"])).abs().max().item()
    assert h_err < 1e-4, h_err
    # |z| reaches ~23, so float32 summation-order noise is larger in absolute terms.
    assert z_err < 2e-4, z_err
