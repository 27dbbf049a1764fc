"""Opt-in standardization (largest fragment, neutralized) and the applicability columns of
``molssl predict`` on salts and drug-like molecules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molssl.cli import main
from molssl.featurize import featurizer_from_dict, get_featurizer
from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.predictor import load_ensemble, predict, predict_smiles

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}
IMIPRAMINE = "CN(C)CCCN1c2ccccc2CCc2ccccc21"
SALT = "[Na+].[Cl-]"


def _train(root: Path, table: pd.DataFrame, **kwargs) -> Path:
    csv = root / "tpsa.csv"
    table[["smiles", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    torch.set_num_threads(1)
    finetune(
        FinetuneConfig(
            csv=str(csv),
            targets=["logtpsa"],
            task_type="regression",
            epochs=2,
            encoder=TINY_ENCODER,
            device="cpu",
            out_dir=str(root / "run"),
            split="random",
            **kwargs,
        )
    )
    return root / "run" / "model.pt"


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory, tpsa_table) -> Path:
    return _train(tmp_path_factory.mktemp("plain"), tpsa_table)


@pytest.fixture(scope="module")
def standardized_model(tmp_path_factory, tpsa_table) -> Path:
    return _train(tmp_path_factory.mktemp("std"), tpsa_table, standardize=True)


@pytest.mark.parametrize(
    ("salt", "parent"),
    [(f"{IMIPRAMINE}.Cl", IMIPRAMINE), ("CC(=O)[O-].[Na+]", "CC(=O)O"), ("C[NH3+].[Cl-]", "CN")],
)
def test_standardizer_keeps_the_largest_fragment_neutralized(salt, parent):
    std = get_featurizer("molclr", standardize=True)
    plain = get_featurizer("molclr")
    got, want = std(salt), plain(parent)
    assert torch.equal(got.x, want.x) and torch.equal(got.edge_index, want.edge_index)
    assert got.smiles == salt  # the row keeps its input
    assert featurizer_from_dict(std.to_dict()) == std and std != plain
    assert "standardize" not in plain.to_dict()  # configs of unstandardized featurizers unchanged


def test_training_fingerprints_are_packed_bits_in_the_model(plain_model):
    raw = torch.load(plain_model, weights_only=True)
    fps = raw["domain_fingerprints"]
    domain = raw["finetuned"]["domain"]
    assert fps.dtype == torch.uint8 and fps.shape == (domain["n_molecules"], 2048 // 8)
    assert domain["n_molecules"] == 48  # the training split of 60 rows (80%)
    assert domain["fingerprint"] == {"kind": "ecfp", "radius": 2, "bits": 2048}
    assert domain["heavy_atoms"][0] <= domain["heavy_atoms"][1] and "C" in domain["elements"]


def test_applicability_columns_flag_salts_and_pass_training_molecules(plain_model, tpsa_table):
    inside = tpsa_table["smiles"].iloc[0]
    frame = predict(plain_model, [inside, SALT, f"{IMIPRAMINE}.Cl", "not-a-smiles"])
    sims = frame["nn_tanimoto"].to_numpy()
    assert sims[1] < 0.1 and np.isnan(sims[3])
    assert list(frame["multi_fragment"]) == [False, True, True, False]
    assert "Na" in frame.loc[1, "unseen_atoms"].split("|")
    assert bool(frame.loc[1, "size_outside"]) and not frame.loc[1, "in_domain"]
    assert not frame.loc[2, "in_domain"]  # a salt is not what the model was trained on
    assert frame.loc[3, "error"] and not frame.loc[3, "in_domain"]
    members = load_ensemble(plain_model)
    preds = predict_smiles(members, list(tpsa_table["smiles"].iloc[:60]))
    domain = preds.domain
    assert (domain["nn_tanimoto"] == 1.0).sum() >= 48  # every training molecule is its own NN
    assert sum(domain["in_domain"]) >= 48


def test_standardize_is_recorded_and_applied_by_predict(standardized_model):
    raw = torch.load(standardized_model, weights_only=True)
    assert raw["finetuned"]["featurizer"]["standardize"] is True
    frame = predict(standardized_model, [f"{IMIPRAMINE}.Cl", IMIPRAMINE])
    assert frame.loc[0, "logtpsa"] == pytest.approx(frame.loc[1, "logtpsa"])
    assert frame.loc[0, "nn_tanimoto"] == pytest.approx(frame.loc[1, "nn_tanimoto"])
    assert list(frame["multi_fragment"]) == [True, False]  # the input is still reported
    assert frame.loc[0, "unseen_atoms"] == ""  # the model never sees the counter-ion


def test_predict_standardize_flag(plain_model, tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"smiles": [f"{IMIPRAMINE}.Cl", IMIPRAMINE]}).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    argv = ["predict", "--model", str(plain_model), "--input", str(path), "-o", str(out)]
    assert main(argv) == 0
    plain = pd.read_csv(out)
    assert plain.loc[0, "logtpsa"] != pytest.approx(plain.loc[1, "logtpsa"])
    assert main([*argv, "--standardize"]) == 0
    std = pd.read_csv(out)
    assert std.loc[0, "logtpsa"] == pytest.approx(std.loc[1, "logtpsa"])


def test_featurize_standardize_flag(tmp_path):
    from molssl.store import GraphStore

    corpus = tmp_path / "c.smi"
    corpus.write_text(f"{IMIPRAMINE}.Cl\nCC(=O)[O-].[Na+]\n")
    store = tmp_path / "S"
    assert main(["featurize", str(corpus), "-o", str(store), "--standardize", "--no-extras"]) == 0
    opened = GraphStore(store)
    assert opened.featurizer_config["standardize"] is True
    assert torch.equal(opened[0].x, get_featurizer("molclr")(IMIPRAMINE).x)
