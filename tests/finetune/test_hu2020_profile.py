"""The ``hu2020`` profile: Hu et al. (2020)'s fine-tuning settings reach optimizer, model, loss."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

import molssl.finetune.run as run
import molssl.finetune.training as training
from molssl.finetune import FinetuneConfig, finetune
from molssl.metrics import masked_multitask_loss

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def test_profile_settings_fill_the_defaults_and_keep_other_values() -> None:
    cfg = FinetuneConfig(task="bbbp", profile="hu2020")
    assert (
        cfg.encoder_lr,
        cfg.head_lr,
        cfg.weight_decay,
        cfg.batch_size,
        cfg.dropout,
        cfg.head_layers,
        cfg.protocol,
    ) == (1e-3, 1e-3, 0.0, 32, 0.5, 1, "joint")
    assert run._settings(cfg, "roc_auc").epochs == 100 and run.molecule_cap(cfg) in (None, 0)
    assert FinetuneConfig(task="bbbp", profile="hu2020", dropout=0.2).dropout == 0.2
    full = FinetuneConfig(task="bbbp", profile="full")
    assert (full.encoder_lr, full.dropout, full.head_layers) == (1e-4, 0.3, 2)


def test_settings_reach_optimizer_model_and_result(tmp_path: Path, tpsa_table, monkeypatch):
    part = tpsa_table.iloc[:60]
    labels = pd.DataFrame(
        {"smiles": part["smiles"], "a": part["polar"].astype(float), "b": 1.0 - part["polar"]}
    )
    labels.loc[::3, "b"] = np.nan
    csv = tmp_path / "two.csv"
    labels.to_csv(csv, index=False)
    seen: dict[str, object] = {}
    adam = torch.optim.Adam

    def spy_adam(groups, **kwargs):
        seen["groups"] = [{"lr": g["lr"]} for g in groups]
        seen["weight_decay"] = kwargs.get("weight_decay")
        return adam(groups, **kwargs)

    train_model = training.train_model

    def spy_train(model, *args, **kwargs):
        seen["model"], seen["settings"] = model, args[4]
        return train_model(model, *args, **kwargs)

    monkeypatch.setattr(training.torch.optim, "Adam", spy_adam)
    monkeypatch.setattr(run, "train_model", spy_train)
    cfg = FinetuneConfig(
        csv=str(csv),
        targets=["a", "b"],
        task_type="classification",
        profile="hu2020",
        epochs=2,
        encoder=TINY_ENCODER,
        device="cpu",
        out_dir=str(tmp_path / "run"),
    )
    result = finetune(cfg)
    assert seen["groups"] == [{"lr": 1e-3}, {"lr": 1e-3}] and seen["weight_decay"] == 0.0
    model = seen["model"]
    assert isinstance(model.head, nn.Sequential) and len(model.head) == 1
    assert isinstance(model.head[0], nn.Linear)
    assert (model.head[0].in_features, model.head[0].out_features) == (16, 2)
    assert model.encoder.config.dropout == 0.5 and model.encoder.config.pooling == "mean"
    assert seen["settings"].batch_size == 32
    assert result.n_train + result.n_valid + result.n_test == 60  # one model, every molecule
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert math.isfinite(saved["value"]) and math.isfinite(saved["value_last"])
    assert saved["value_last"] == result.value_last


def test_masked_multitask_bce_equals_a_hand_computation() -> None:
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.1]])
    labels = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), 0.0]])
    observed = [(0, 0), (1, 0), (1, 1), (2, 1)]
    by_hand = 0.0
    for i, j in observed:
        p = 1.0 / (1.0 + math.exp(-float(logits[i, j])))
        y = float(labels[i, j])
        by_hand -= y * math.log(p) + (1 - y) * math.log(1 - p)
    by_hand /= len(observed)
    loss = masked_multitask_loss(logits, labels, "classification")
    assert math.isclose(float(loss), by_hand, rel_tol=1e-6)
