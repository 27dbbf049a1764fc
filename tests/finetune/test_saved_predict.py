"""Saved fine-tuned models: self-describing files, predict round trip, ensembles, resume, errors."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molssl import api
from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.data import DataFormatError
from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.domain import COLUMNS as DOMAIN_COLUMNS
from molssl.finetune.ensemble import finetune_ensemble
from molssl.finetune.predictor import load_ensemble, predict_file, predict_smiles
from molssl.finetune.saved import MODEL_FORMAT_VERSION, ModelFileError, file_sha256, load_model

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _config(csv: Path, out: Path | None, **kwargs) -> FinetuneConfig:
    base = {
        "csv": str(csv),
        "task_type": "regression",
        "targets": ["tpsa", "logtpsa"],
        "epochs": 2,
        "batch_size": 16,
        "encoder": TINY_ENCODER,
        "device": "cpu",
        "out_dir": None if out is None else str(out),
    }
    return FinetuneConfig(**{**base, **kwargs})


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tpsa_table) -> tuple[Path, Path]:
    """``(csv, out)`` of a 60-molecule two-target regression fine-tune (2 epochs)."""
    root = tmp_path_factory.mktemp("ft")
    csv = root / "tpsa.csv"
    tpsa_table[["smiles", "tpsa", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    torch.set_num_threads(1)
    finetune(_config(csv, root / "run"))
    return csv, root / "run"


def test_model_file_is_self_describing(regression_run) -> None:
    csv, out = regression_run
    raw = torch.load(out / "model.pt", weights_only=True)
    info = raw["finetuned"]
    assert info["format_version"] == MODEL_FORMAT_VERSION and info["calibration"] is None
    assert info["task"]["targets"] == ["tpsa", "logtpsa"]
    assert info["task"]["task_type"] == "regression" and info["task"]["smiles_col"] == "smiles"
    assert info["featurizer"]["hydrogens"] == "implicit" and info["featurizer"]["name"] == "molclr"
    assert info["encoder"]["num_layers"] == 2 and info["init"] == "random"
    assert info["training_data"]["sha256"] == file_sha256(csv)
    assert {"torch", "rdkit", "molssl", "torch_geometric"} <= set(info["versions"])
    assert "scaler.mean" in raw["state_dict"]  # the target scaler travels with the weights


def test_a_fine_tuned_model_can_initialise_another_fine_tune(regression_run) -> None:
    from molssl.models.pretrained import load_pretrained

    _, out = regression_run
    loaded = load_pretrained(out / "model.pt")
    saved = load_model(out / "model.pt")
    assert loaded.missing_keys == [] and loaded.unexpected_keys == []
    assert loaded.featurizer == saved.featurizer
    for key, value in saved.model.encoder.state_dict().items():
        assert torch.equal(loaded.encoder.state_dict()[key], value)


def test_predict_reproduces_the_runs_own_test_predictions(regression_run, tmp_path) -> None:
    _, out = regression_run
    test = pd.read_csv(out / "test_predictions.csv")
    test[["smiles"]].to_csv(tmp_path / "in.csv", index=False)
    summary = predict_file(out / "model.pt", tmp_path / "in.csv", tmp_path / "pred.csv")
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert summary.rows == len(test) and summary.failed == 0
    np.testing.assert_array_equal(
        pred[["tpsa", "logtpsa"]].to_numpy(), test[["tpsa", "logtpsa"]].to_numpy()
    )


def test_rows_keep_order_columns_and_failures(regression_run, tmp_path) -> None:
    _, out = regression_run
    smiles = ["CCO", "not a smiles", "c1ccccc1O", "", "CC(=O)N", "C1CC"]
    frame = pd.DataFrame({"id": [f"m{i}" for i in range(6)], "SMILES": smiles, "tpsa_true": "x"})
    frame.to_csv(tmp_path / "in.csv", index=False)
    predict_file([out], tmp_path / "in.csv", tmp_path / "pred.csv")  # folder = its model.pt
    pred = pd.read_csv(tmp_path / "pred.csv", keep_default_na=False, na_values=[""])
    assert pred["id"].tolist() == frame["id"].tolist() and pred["tpsa_true"].tolist() == ["x"] * 6
    bad = pred["error"].astype(str).str.len() > 0
    assert bad.tolist() == [False, True, False, True, False, True]
    assert pred.loc[bad, ["tpsa", "logtpsa"]].isna().all().all()
    alone = predict_smiles([load_model(out / "model.pt")], ["CCO", "c1ccccc1O", "CC(=O)N"])
    np.testing.assert_allclose(
        pred.loc[~bad, ["tpsa", "logtpsa"]].to_numpy(), alone.mean, rtol=1e-6
    )
    table = api.predict(out / "model.pt", smiles)  # the Python side of the same
    assert table["smiles"].tolist() == smiles and table["error"].ne("").tolist() == bad.tolist()
    np.testing.assert_allclose(
        table[["tpsa", "logtpsa"]].to_numpy(), pred[["tpsa", "logtpsa"]].to_numpy(), rtol=1e-6
    )


def test_ensemble_of_two_gives_mean_and_std(tmp_path, tpsa_table) -> None:
    csv = tmp_path / "polar.csv"
    tpsa_table[["smiles", "polar"]].iloc[:60].to_csv(csv, index=False)
    cfg = _config(csv, tmp_path / "ens", task_type="classification", targets=["polar"], epochs=1)
    result = finetune_ensemble(cfg, 2)
    assert [m.seed for m in result.members] == [0, 1]
    smiles = tpsa_table["smiles"].iloc[60:70].tolist()
    pd.DataFrame({"smiles": smiles}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(tmp_path / "ens"),
                "--input",
                str(tmp_path / "in.csv"),
                "-o",
                str(tmp_path / "pred.parquet"),
            ]
        )
        == 0
    )
    pred = pd.read_parquet(tmp_path / "pred.parquet")
    members = [
        predict_smiles(load_ensemble(tmp_path / "ens" / f"member-{i}"), smiles).mean
        for i in range(2)
    ]
    assert ((pred["polar"] >= 0) & (pred["polar"] <= 1)).all()  # probabilities
    np.testing.assert_allclose(pred["polar"], np.mean(members, axis=0)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(pred["polar_std"], np.std(members, axis=0)[:, 0], atol=1e-7)
    assert pred["polar_std"].gt(0).any()  # two seeds, two different models


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, tpsa_table, monkeypatch):
    from molssl.finetune import training

    csv = tmp_path / "t.csv"
    tpsa_table[["smiles", "tpsa", "logtpsa"]].iloc[:48].to_csv(csv, index=False)
    whole = _config(csv, tmp_path / "whole", epochs=3)
    finetune(whole)
    save = training._save

    def die_after_first_epoch(path, loop, *args):
        save(path, loop, *args)
        if loop.epoch == 1:
            raise KeyboardInterrupt

    predict = training.predict_graphs

    def slow_predict(*args, **kwargs):  # the interrupted call's epoch takes at least 2 s
        time.sleep(2.0)
        return predict(*args, **kwargs)

    cut = replace(whole, out_dir=str(tmp_path / "cut"))
    monkeypatch.setattr(training, "_save", die_after_first_epoch)
    monkeypatch.setattr(training, "predict_graphs", slow_predict)
    with pytest.raises(KeyboardInterrupt):
        finetune(cut)
    monkeypatch.setattr(training, "_save", save)
    monkeypatch.setattr(training, "predict_graphs", predict)
    with pytest.raises(FileExistsError, match="--resume"):
        finetune(cut)  # nothing is overwritten without --resume
    with pytest.raises(ConfigError, match="other settings"):
        finetune(replace(cut, resume=True, batch_size=8))
    started = time.perf_counter()
    resumed = finetune(replace(cut, resume=True))
    # the reported wall time includes the interrupted call's epoch, not only this call
    assert resumed.seconds - (time.perf_counter() - started) >= 1.9
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    history = [pd.read_csv(tmp_path / d / "history.csv") for d in ("whole", "cut")]
    pd.testing.assert_frame_equal(*history)


def _write_pretrain_checkpoint(path: Path, **metadata) -> Path:
    from molssl.contrastive.io.checkpoint import save_checkpoint

    return save_checkpoint(path, {"w": torch.zeros(1)}, config={"encoder": {}}, metadata=metadata)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [({"featurizer": {"name": "molclr"}}, "molssl pretrain"), ({"imagessl": {}}, "imagessl")],
)
def test_pretraining_checkpoints_are_not_models(tmp_path, metadata, message) -> None:
    path = _write_pretrain_checkpoint(tmp_path / "last.pt", **metadata)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_bad_input_is_one_line_before_any_work(regression_run, tmp_path, capsys) -> None:
    _, out = regression_run
    (tmp_path / "in.csv").write_text("id,smi\n1,CCO\n")
    previous = tmp_path / "pred.csv"
    previous.write_text("kept\n")
    raw = torch.load(out / "model.pt", weights_only=True)
    raw["finetuned"]["format_version"] = MODEL_FORMAT_VERSION + 1
    torch.save(raw, tmp_path / "future.pt")
    pretrain = _write_pretrain_checkpoint(tmp_path / "last.pt", featurizer={})
    cases = [
        (["--model", str(out)], "no SMILES column 'smiles'"),
        (["--model", str(pretrain)], "molssl pretrain"),
        (["--model", str(tmp_path / "future.pt")], "newer"),
        (["--model", str(tmp_path / "missing.pt")], "does not exist"),
        (["--model", str(out), "-o", str(tmp_path / "p.xlsx")], ".csv or .parquet"),
        (["--model", str(out), "--batch-size", "0"], "--batch-size must be >= 1"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--model", str(out), "--device", "cuda"], "CUDA is not available"))
    for extra, message in cases:
        args = ["predict", "--input", str(tmp_path / "in.csv"), "-o", str(previous), *extra]
        assert main(args) == 2, extra
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert previous.read_text() == "kept\n"  # nothing already written is lost
    with pytest.raises(DataFormatError, match="--smiles-col"):
        predict_file(out, tmp_path / "in.csv", tmp_path / "p.csv", smiles_col="nope")
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--input",
                str(tmp_path / "in.csv"),
                "--smiles-col",
                "smi",
                "-o",
                str(previous),
            ]
        )
        == 0
    )
    assert pd.read_csv(previous)["id"].tolist() == [1]


def test_cli_finetune_writes_model_by_default(tmp_path, tpsa_table, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tpsa_table[["smiles", "polar"]].iloc[:40].to_csv(tmp_path / "p.csv", index=False)
    args = [
        "finetune",
        "--csv",
        "p.csv",
        "--task-type",
        "classification",
        "--seed",
        "3",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    model = Path("runs") / "finetune" / "p-3" / "model.pt"
    assert str(model) in printed and model.is_file()
    saved = load_model(model)
    assert saved.task_type == "classification" and saved.target_names == ["polar"]
    assert saved.info["task"]["name"] == "p"


def test_cli_ensemble_then_predict_on_the_folder(tmp_path, tpsa_table, capsys, caplog) -> None:
    tpsa_table[["smiles", "logtpsa"]].iloc[:36].to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "ens"
    args = [
        "finetune",
        "--csv",
        str(tmp_path / "t.csv"),
        "--task-type",
        "regression",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--ensemble",
        "2",
        "--out",
        str(out),
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    assert f"molssl predict --model {out}" in capsys.readouterr().out
    assert sorted(p.parent.name for p in out.glob("*/model.pt")) == ["member-0", "member-1"]
    assert main(args) == 2  # a second call does not overwrite the members
    assert "--resume" in capsys.readouterr().err
    with caplog.at_level("INFO", logger="molssl.finetune.training"):
        assert main([*args, "--resume"]) == 0
    assert caplog.text.count("(finished)") == 2  # finished members are loaded, not retrained
    pd.DataFrame({"smiles": ["CCO", "CCN"]}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(out / "member-0" / "model.pt"),
                str(out / "member-1" / "model.pt"),
                "--input",
                str(tmp_path / "in.csv"),
                "-o",
                str(tmp_path / "a.csv"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--input",
                str(tmp_path / "in.csv"),
                "-o",
                str(tmp_path / "b.csv"),
            ]
        )
        == 0
    )
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert list(a.columns) == ["smiles", "logtpsa", "logtpsa_std", *DOMAIN_COLUMNS, "error"]
    pd.testing.assert_frame_equal(a, b)


def test_smi_input_keeps_one_row_per_line(regression_run, tmp_path) -> None:
    _, out = regression_run
    (tmp_path / "in.smi").write_text("CCO ethanol\nxx bad\nc1ccccc1O\tphenol\n")
    summary = predict_file(out, tmp_path / "in.smi", tmp_path / "pred.csv")
    pred = pd.read_csv(tmp_path / "pred.csv", keep_default_na=False)
    assert summary.rows == 3 and summary.failed == 1
    assert pred["smiles"].tolist() == ["CCO", "xx", "c1ccccc1O"]
    assert [bool(e) for e in pred["error"]] == [False, True, False]


@pytest.mark.slow
def test_featurization_workers_change_no_prediction(regression_run, monkeypatch) -> None:
    """~100 SMILES with invalid and blank ones: the same predictions with 0 or 2 workers."""
    from molssl.data import embedded_smiles_path
    from molssl.featurize import stream

    _, out = regression_run
    smiles = [line.split()[0] for line in embedded_smiles_path().read_text().splitlines()[:100]]
    smiles[5], smiles[6], smiles[50], smiles[99] = "", "  ", "C1CC", "notasmiles"
    model = [load_model(out / "model.pt")]
    serial = predict_smiles(model, smiles, batch_size=16, workers=0)
    monkeypatch.setattr(stream, "_LOCAL_START", False)  # every batch featurized by a worker
    parallel = predict_smiles(model, smiles, batch_size=16, workers=2)
    np.testing.assert_array_equal(serial.mean, parallel.mean)
    assert serial.errors == parallel.errors
    assert [i for i, e in enumerate(serial.errors) if e] == [5, 6, 50, 99]


def test_smi_header_ids_and_pubchem_layout_in_predict(regression_run, tmp_path) -> None:
    """predict reads .smi and PubChem's CID-SMILES as embed does: header skipped, ids kept."""
    _, out = regression_run
    (tmp_path / "named.smi").write_text("SMILES Name\nCCO ethanol\n\nc1ccccc1O phenol\n")
    summary = predict_file(out, tmp_path / "named.smi", tmp_path / "a.csv")
    pred = pd.read_csv(tmp_path / "a.csv", keep_default_na=False)
    assert summary.rows == 3 and summary.failed == 1  # the blank line is a row, reported
    assert pred["id"].tolist() == ["ethanol", "", "phenol"]
    assert pred["smiles"].tolist() == ["CCO", "", "c1ccccc1O"]
    cid = tmp_path / "CID-SMILES"
    cid.write_text("702\tCCO\n1001\tc1ccccc1O\n")
    assert (
        main(["predict", "--model", str(out), "--input", str(cid), "-o", str(tmp_path / "b.csv")])
        == 0
    )
    pred = pd.read_csv(tmp_path / "b.csv")
    assert pred["id"].tolist() == [702, 1001] and pred["tpsa"].notna().all()
    weird = tmp_path / "molecules.dat"  # a name that says nothing: --format says
    weird.write_text("CCO\nCCN\n")
    argv = [
        "predict",
        "--model",
        str(out),
        "--input",
        str(weird),
        "--format",
        "smi",
        "-o",
        str(tmp_path / "c.csv"),
    ]
    assert main(argv) == 0
    assert pd.read_csv(tmp_path / "c.csv")["smiles"].tolist() == ["CCO", "CCN"]


def test_predict_smiles_col_index_with_and_without_header(regression_run, tmp_path) -> None:
    _, out = regression_run
    (tmp_path / "h.csv").write_text("name,structure\nethanol,CCO\nphenol,c1ccccc1O\n")
    argv = [
        "predict",
        "--model",
        str(out),
        "--input",
        str(tmp_path / "h.csv"),
        "--smiles-col",
        "1",
        "-o",
        str(tmp_path / "h_pred.csv"),
    ]
    assert main(argv) == 0
    pred = pd.read_csv(tmp_path / "h_pred.csv", keep_default_na=False)
    assert pred["name"].tolist() == ["ethanol", "phenol"] and not pred["error"].any()
    (tmp_path / "n.csv").write_text("CCO,1\nc1ccccc1O,2\nCCN,3\n")  # no header: 3 rows
    summary = predict_file(out, tmp_path / "n.csv", tmp_path / "n_pred.csv", "0")
    pred = pd.read_csv(tmp_path / "n_pred.csv", keep_default_na=False)
    assert summary.rows == 3 and summary.failed == 0
    assert pred["0"].tolist() == ["CCO", "c1ccccc1O", "CCN"] and pred["1"].tolist() == [1, 2, 3]
    with pytest.raises(DataFormatError, match="0-based index"):
        predict_file(out, tmp_path / "h.csv", tmp_path / "x.csv", "7")
