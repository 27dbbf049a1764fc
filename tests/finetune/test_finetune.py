"""Fine-tuning: masked multi-task training, skipped targets, CSV tasks and their errors, inits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molssl.contrastive.config import ConfigError
from molssl.data import DataFormatError
from molssl.featurize import MolGraphFeaturizer
from molssl.finetune import (
    FinetuneConfig,
    FinetuneModel,
    TaskSource,
    collate,
    config_hash,
    finetune,
    prepare_task,
    task_split,
)
from molssl.metrics import SkippedTargetWarning, masked_multitask_loss
from molssl.models.pretrained import load_pretrained

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _config(**kwargs) -> FinetuneConfig:
    return FinetuneConfig(**{"epochs": 2, "encoder": TINY_ENCODER, "device": "cpu", **kwargs})


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "task.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_masked_multitask_step_ignores_missing_labels():
    smiles = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(CC)CC"]
    batch = collate([MolGraphFeaturizer()(s) for s in smiles], range(4))
    encoder = load_pretrained("random", 0.0, TINY_ENCODER).encoder
    model = FinetuneModel(encoder, num_targets=3, task_type="classification")
    y = torch.tensor([[1, np.nan, 0], [0, np.nan, np.nan], [np.nan, np.nan, 1], [1, np.nan, 0]])
    loss = masked_multitask_loss(model.forward_scaled(batch), y, "classification")
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
    last = model.head[-1]
    assert torch.count_nonzero(last.weight.grad[1]) == 0  # the all-missing target gets no signal
    assert last.bias.grad[1] == 0 and last.bias.grad[0] != 0


def test_finetune_csv_task_writes_outputs(tmp_path, tpsa_table):
    csv = _write(tmp_path, tpsa_table[["smiles", "tpsa", "logtpsa"]].iloc[:150])
    out = tmp_path / "run"
    cfg = _config(csv=csv, targets=["tpsa", "logtpsa"], task_type="regression", out_dir=str(out))
    result = finetune(cfg)
    assert result.metric == "rmse" and math.isfinite(result.value) and result.epochs == 2
    assert set(result.per_target) == {"tpsa", "logtpsa"}
    assert result.n_train + result.n_valid + result.n_test == 150
    saved = json.loads((out / "result.json").read_text())
    assert saved["config_hash"] == config_hash(cfg)
    assert {"config.yaml", "history.csv", "model.pt"} <= {p.name for p in out.iterdir()}
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert float(ckpt["state_dict"]["scaler.mean"][0]) > 10  # TPSA units: scaler in the model


def test_regression_predictions_are_in_target_units(tmp_path, tpsa_table):
    csv = _write(tmp_path, tpsa_table[["smiles", "tpsa"]].iloc[:120])
    source = TaskSource(csv=csv, targets=("tpsa",), task_type="regression")
    task = prepare_task(source, MolGraphFeaturizer())
    assert prepare_task(source, MolGraphFeaturizer()) is task  # featurized once, then cached
    train, _, _ = task_split(task)
    model = FinetuneModel(load_pretrained("random", 0.0, TINY_ENCODER).encoder, 1, "regression")
    model.scaler.fit(task.targets[train])
    model.eval()
    batch = collate(task.graphs, range(8))
    scaled = model.forward_scaled(batch)
    assert torch.allclose(model(batch), scaled * model.scaler.std + model.scaler.mean)


def test_single_class_target_skipped_with_warning(tmp_path, tpsa_table):
    frame = tpsa_table[["smiles", "polar"]].iloc[:150].copy()
    source = TaskSource(csv=_write(tmp_path, frame, "plain.csv"), task_type="classification")
    task = prepare_task(source, MolGraphFeaturizer())
    frame["rare"] = 0
    frame.loc[task.rows[task_split(task)[0][:3]], "rare"] = 1  # positives only in train
    csv = _write(tmp_path, frame)
    cfg = _config(csv=csv, targets=["polar", "rare"], task_type="classification")
    with pytest.warns(SkippedTargetWarning, match="rare"):
        result = finetune(cfg)
    assert math.isnan(result.per_target["rare"])
    assert result.value == pytest.approx(result.per_target["polar"])


def test_molclr_protocol_trains_one_model_per_target(tmp_path, tpsa_table):
    csv = _write(tmp_path, tpsa_table[["smiles", "tpsa", "logtpsa"]].iloc[:100])
    cfg = _config(csv=csv, task_type="regression", protocol="molclr", epochs=1)
    result = finetune(cfg)
    assert set(result.per_target) == {"tpsa", "logtpsa"} and math.isfinite(result.value)


def test_invalid_smiles_dropped_before_split(tmp_path, tpsa_table):
    frame = tpsa_table[["smiles", "polar"]].iloc[:100].copy()
    frame.loc[[3, 50], "smiles"] = ["not_a_smiles", "C1CC"]
    csv = _write(tmp_path, frame)
    task = prepare_task(TaskSource(csv=csv, task_type="classification"), MolGraphFeaturizer())
    assert len(task) == 98 and [f.index for f in task.failures] == [3, 50]
    assert sum(len(p) for p in task_split(task)) == 98


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (
            pd.DataFrame({"smiles": ["CCO", "CCN"], "y": [1, 0]}),
            {"targets": ["label"]},
            r"column\(s\) \['label'\] not found",
        ),
        (
            pd.DataFrame({"smiles": ["CCO", "CCN"], "y": ["1", "active"]}),
            {"targets": ["y"]},
            "not a number",
        ),
        (
            pd.DataFrame({"smiles": ["xx", "C1CC", "(("], "y": [1, 0, 1]}),
            {"targets": ["y"]},
            "none of the 3 SMILES",
        ),
        (
            pd.DataFrame({"smiles": ["CCO", "CCN"], "y": [0.5, 2.0]}),
            {"targets": ["y"]},
            "must be 0 or 1",
        ),
        (
            pd.DataFrame({"mol": ["CCO", "CCN"], "y": [1, 0]}),
            {"targets": ["y"]},
            r"column\(s\) \['smiles'\] not found",
        ),
    ],
)
def test_bad_csv_rejected_with_clear_message(tmp_path, frame, kwargs, message):
    csv = _write(tmp_path, frame)
    with pytest.raises(DataFormatError, match=message):
        finetune(_config(csv=csv, task_type="classification", **kwargs))


def test_bad_csv_rejected_by_cli(tmp_path, capsys, monkeypatch):
    from molssl.cli import main

    monkeypatch.chdir(tmp_path)
    csv = _write(tmp_path, pd.DataFrame({"smiles": ["CCO"], "y": [1]}))
    args = ["finetune", "--csv", csv, "--targets", "nope", "--task-type", "regression"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "has no column 'nope'" in err and "--targets" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # nothing written by a run that could not start


def test_csv_without_task_type_is_a_config_error(tmp_path, monkeypatch, capsys):
    from molssl.cli import main

    csv = _write(tmp_path, pd.DataFrame({"smiles": ["C"], "y": [1]}))
    with pytest.raises(ConfigError, match="task type"):
        finetune(_config(csv=csv))
    monkeypatch.chdir(tmp_path)  # the command line: one line naming the file and the flag
    for command in (
        ["finetune", "--csv", csv],
        ["finetune", "--csv", csv, "--search", "2"],
        ["benchmark", "--csv", csv, "--methods", "random-init"],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--task-type" in err and str(csv) in err, err
    assert not (tmp_path / "runs").exists()


def test_molclr_gcn_init_loads_every_encoder_key(shared_data):
    path = shared_data / "checkpoints" / "molclr_gcn.pth"
    if not path.is_file():
        pytest.skip(f"{path} is absent: MolCLR's released GCN weights (README: Tests that skip)")
    loaded = load_pretrained(f"molclr-gcn:{path}", dropout=0.3)
    assert loaded.missing_keys == [] and loaded.unexpected_keys == []
    assert loaded.encoder.config.conv == "gcn" and loaded.encoder.config.dropout == 0.3
    assert loaded.featurizer == MolGraphFeaturizer()
    model = FinetuneModel(loaded.encoder, 2, "classification")
    out = model(collate([loaded.featurizer(s) for s in ("CCO", "c1ccccc1")], range(2)))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_preset_is_the_molclr_protocol():
    from molssl.contrastive.config import to_dict
    from molssl.finetune import load_finetune_config

    preset = load_finetune_config(Path(__file__).parents[2] / "configs" / "finetune_molclr.yaml")
    assert to_dict(preset) == to_dict(FinetuneConfig(task="bbbp"))
    assert (preset.epochs, preset.batch_size, preset.encoder_lr, preset.head_lr) == (
        None,
        32,
        1e-4,
        5e-4,
    )
    assert (preset.weight_decay, preset.dropout) == (1e-6, 0.3)


def test_cli_finetune_registered_task(tiny_data_dir, tmp_path, capsys):
    from molssl.cli import main

    out = tmp_path / "ft"
    args = [
        "finetune",
        "--task",
        "bbbp",
        "--data-dir",
        str(tiny_data_dir),
        "--init",
        "random",
        "--seed",
        "1",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "BBBP (random, seed 1, scaffold split): test roc_auc" in printed
    assert json.loads((out / "result.json").read_text())["seed"] == 1


def test_ckpt_init_uses_the_checkpoint_featurizer_and_weights(tmp_path, tpsa_table):
    from molssl.contrastive.config import to_dict
    from molssl.contrastive.io.checkpoint import save_checkpoint
    from molssl.models import EncoderConfig, MolEncoder

    featurizer = MolGraphFeaturizer(hydrogens="explicit", fingerprint=True)
    cfg = EncoderConfig.from_featurizer(featurizer, **TINY_ENCODER)
    pretrained = MolEncoder.from_config(cfg)
    path = save_checkpoint(
        tmp_path / "best.pt",
        pretrained.state_dict(),
        config={"encoder": to_dict(cfg)},
        metadata={"featurizer": featurizer.to_dict()},
    )
    loaded = load_pretrained(f"ckpt:{path}", dropout=0.3)
    assert loaded.missing_keys == [] and loaded.unexpected_keys == []
    assert loaded.featurizer.hydrogens.value == "explicit" and not loaded.featurizer.fingerprint
    assert loaded.encoder.config.dropout == 0.3
    for key, value in pretrained.state_dict().items():
        assert torch.equal(loaded.encoder.state_dict()[key], value)
    csv = _write(tmp_path, tpsa_table[["smiles", "polar"]].iloc[:80])
    result = finetune(_config(csv=csv, task_type="classification", init=f"ckpt:{path}", epochs=1))
    assert result.init == f"ckpt:{path}" and 0.0 <= result.value <= 1.0
