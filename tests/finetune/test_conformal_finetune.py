"""``--conformal``: calibrated on validation, stored in model.pt, written by predict; --search CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.finetune import FinetuneConfig, finetune, load_task, task_split
from molssl.finetune.conformal import conformal_quantile
from molssl.finetune.domain import COLUMNS as DOMAIN_COLUMNS
from molssl.finetune.ensemble import finetune_ensemble
from molssl.finetune.predictor import predict, predict_file
from molssl.finetune.saved import load_model
from molssl.models.pretrained import load_pretrained

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _config(csv: Path, out: Path | None, **kwargs) -> FinetuneConfig:
    base = {
        "csv": str(csv),
        "task_type": "regression",
        "targets": ["logtpsa"],
        "epochs": 2,
        "batch_size": 16,
        "encoder": TINY_ENCODER,
        "device": "cpu",
        "split": "random",
        "conformal": 0.9,
        "out_dir": None if out is None else str(out),
    }
    return FinetuneConfig(**{**base, **kwargs})


@pytest.fixture
def csv(tmp_path: Path, tpsa_table: pd.DataFrame) -> Path:
    path = tmp_path / "tpsa.csv"
    tpsa_table[["smiles", "logtpsa", "polar"]].iloc[:120].to_csv(path, index=False)
    return path


def test_regression_intervals_calibrated_on_validation_and_predicted(tmp_path, csv):
    cfg = _config(csv, tmp_path / "run")
    result = finetune(cfg)
    out = Path(cfg.out_dir)
    task = load_task(cfg, load_pretrained("random", 0.0, TINY_ENCODER).featurizer)
    _, valid_idx, test_idx = task_split(task, cfg.split, cfg.split_sizes, cfg.split_seed)

    valid = pd.read_csv(out / "valid_predictions.csv")
    residuals = np.abs(valid["logtpsa"].to_numpy() - task.targets[valid_idx, 0])
    q = conformal_quantile(residuals, 0.9)
    stored = torch.load(out / "model.pt", weights_only=True)["finetuned"]["calibration"]
    assert stored["method"] == "split_conformal" and stored["quantiles"] == [pytest.approx(q)]
    labelled = int(np.count_nonzero(~np.isnan(task.targets[valid_idx, 0])))
    assert stored["n_calibration"] == [labelled] and labelled >= 9 and np.isfinite(q)

    test = pd.read_csv(out / "test_predictions.csv")
    np.testing.assert_allclose(test["logtpsa_hi"] - test["logtpsa"], q)
    np.testing.assert_allclose(test["logtpsa"] - test["logtpsa_lo"], q)
    y = task.targets[test_idx, 0]
    known = ~np.isnan(y)
    covered = np.mean(((test["logtpsa_lo"] <= y) & (y <= test["logtpsa_hi"]))[known])
    assert result.conformal["coverage"] == pytest.approx(covered)
    assert result.conformal["per_target"]["logtpsa"]["width"] == pytest.approx(2 * q)

    pred = predict(out / "model.pt", test["smiles"].tolist())  # the saved model round trip
    np.testing.assert_allclose(
        pred[["logtpsa_lo", "logtpsa_hi"]], test[["logtpsa_lo", "logtpsa_hi"]]
    )
    plain = finetune(_config(csv, tmp_path / "plain", conformal=None))
    assert plain.conformal is None and plain.value == result.value  # calibration changes nothing
    assert "logtpsa_lo" not in predict(tmp_path / "plain", ["CCO"]).columns


def test_classification_sets_through_predict_file(tmp_path, csv):
    cfg = _config(csv, tmp_path / "run", targets=["polar"], task_type="classification")
    result = finetune(cfg)
    assert 0.0 <= result.conformal["coverage"] <= 1.0
    assert 0.0 <= result.conformal["per_target"]["polar"]["set_size"] <= 2.0
    frame = pd.DataFrame({"smiles": ["CCO", "not a smiles", "c1ccccc1O"]})
    frame.to_csv(tmp_path / "in.csv", index=False)
    predict_file(tmp_path / "run", tmp_path / "in.csv", tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["smiles", "polar", "polar_set", *DOMAIN_COLUMNS, "error"]
    assert out["polar_set"][1] == "" and set(out["polar_set"]) <= {"0", "1", "0|1", ""}
    q = load_model(tmp_path / "run" / "model.pt").info["calibration"]["quantiles"][0]
    for p, s in zip(out["polar"][[0, 2]].astype(float), out["polar_set"][[0, 2]], strict=True):
        assert ("1" in s.split("|")) == (1 - p <= q) and ("0" in s.split("|")) == (p <= q)


def test_ensemble_calibrates_its_mean(tmp_path, csv, caplog):
    ensemble = finetune_ensemble(_config(csv, tmp_path / "ens"), 2)
    record = json.loads((tmp_path / "ens" / "ensemble.json").read_text())["conformal"]
    assert record["members"] == ["member-0", "member-1"] and ensemble.conformal == record
    members = [
        pd.read_csv(tmp_path / "ens" / f"member-{i}" / "test_predictions.csv") for i in (0, 1)
    ]
    mean = (members[0]["logtpsa"] + members[1]["logtpsa"]) / 2
    q = record["calibration"]["quantiles"][0]
    pred = predict(tmp_path / "ens", members[0]["smiles"].tolist())
    np.testing.assert_allclose(pred["logtpsa"], mean)
    np.testing.assert_allclose(pred["logtpsa_hi"], mean + q)
    assert "logtpsa_std" in pred.columns
    paths = [tmp_path / "ens" / f"member-{i}" / "model.pt" for i in (0, 1)]
    loose = predict(paths, ["CCO"])  # not the folder: its members' own calibrations don't apply
    assert "logtpsa_lo" not in loose.columns and "not of their mean" in caplog.text


def test_cli_search_then_conformal_model(tmp_path, csv, capsys):
    out = tmp_path / "cli"
    args = [
        "finetune",
        "--csv",
        str(csv),
        "--targets",
        "logtpsa",
        "--task-type",
        "regression",
        "--epochs",
        "2",
        "--split",
        "random",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--conformal",
        "0.9",
        "--search",
        "2",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "search: validation rmse: defaults (trial 0)" in printed and "test coverage" in printed
    dropout = re.search(r"'dropout': ([^,}]+)", printed).group(1)
    assert len(dropout) <= 4, dropout  # 0.15 as drawn on its 0.05 grid, not 0.15000000000000002
    record = json.loads((out / "search.json").read_text())["tasks"]["tpsa"]["random"]
    assert record["n_trials"] == 2 and record["retrained"][0]["seed"] == 0
    assert (out / "study.db").is_file()
    saved = load_model(out / "model.pt")
    assert saved.info["calibration"]["confidence"] == 0.9
    assert saved.model.encoder.config.pooling == record["best_params"]["pooling"]
    assert (
        main(["predict", "--model", str(out), "--input", str(csv), "-o", str(tmp_path / "p.csv")])
        == 0
    )
    columns = set(pd.read_csv(tmp_path / "p.csv").columns)
    assert {"logtpsa", "logtpsa_lo", "logtpsa_hi", "logtpsa_input"} <= columns


def test_conformal_and_search_refuse_bad_values(csv):
    with pytest.raises(ConfigError, match="coverage in"):
        _config(csv, None, conformal=90)
    from molssl.finetune.search import search_then_finetune

    with pytest.raises(ConfigError, match="--out"):
        search_then_finetune(_config(csv, None), 2)
