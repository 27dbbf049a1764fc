"""The kept epoch: ties on the validation metric are broken by validation loss, then lateness."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from molssl.featurize import MolGraphFeaturizer
from molssl.finetune import FinetuneConfig, FinetuneModel, TrainSettings, finetune, train_model
from molssl.finetune.training import BEST_RULES, select_epoch
from molssl.metrics import Metric, get_metric
from molssl.models.pretrained import load_pretrained

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}
CEILING = Metric("ceiling", lambda y, p, names=None: (1.0, [1.0]), higher_is_better=True)
"""A validation metric at its ceiling from the first epoch on (ROC-AUC 1.0 on an easy split)."""


def test_select_epoch_rules():
    auc = get_metric("roc_auc")
    assert select_epoch(auc, 0.9, 0.5, math.nan, math.nan) == "metric"
    assert select_epoch(auc, 0.9, 0.5, 0.8, 0.1) == "metric"
    assert select_epoch(auc, 0.7, 0.1, 0.8, 0.5) is None
    assert select_epoch(auc, 1.0, 0.2, 1.0, 0.3) == "valid_loss"
    assert select_epoch(auc, 1.0, 0.4, 1.0, 0.3) is None
    assert select_epoch(auc, 1.0, 0.3, 1.0, 0.3) == "later_epoch"
    assert select_epoch(auc, math.nan, 0.1, 1.0, 0.3) is None
    assert select_epoch(get_metric("rmse"), 0.5, 0.2, 0.5, 0.3) == "valid_loss"


def test_metric_tie_keeps_the_epoch_of_lowest_validation_loss(tpsa_table):
    part = tpsa_table.iloc[:96]
    featurize = MolGraphFeaturizer()
    graphs = [featurize(s) for s in part["smiles"]]
    targets = part[["polar"]].to_numpy(dtype=np.float64)
    split = (np.arange(64), np.arange(64, 96), np.arange(0))
    torch.manual_seed(0)
    model = FinetuneModel(load_pretrained("random", 0.0, TINY_ENCODER).encoder, 1, "classification")
    settings = TrainSettings(epochs=5, batch_size=16, encoder_lr=1e-2, head_lr=1e-2)
    outcome = train_model(
        model,
        graphs,
        targets,
        split,
        CEILING,
        settings,
        torch.Generator().manual_seed(0),
        torch.device("cpu"),
    )
    losses = [h["valid_loss"] for h in outcome.history]
    assert outcome.best_epoch == 1 + int(np.argmin(losses)) and outcome.best_epoch > 1
    assert outcome.best_rule == "valid_loss"
    model.eval()
    with torch.no_grad():
        logits = model(_batch(graphs, split[1])).squeeze(1).double()
    kept = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.as_tensor(targets[split[1], 0])
    )
    assert float(kept) == pytest.approx(min(losses), rel=1e-4)  # the kept weights are that epoch's


def _batch(graphs, idx):
    from molssl.finetune import collate

    return collate(graphs, idx)


def test_the_record_names_the_rule(tmp_path, tpsa_table):
    csv = tmp_path / "task.csv"
    tpsa_table[["smiles", "polar", "tpsa"]].iloc[:80].assign(polar2=lambda f: f["polar"]).drop(
        columns="tpsa"
    ).to_csv(csv, index=False)
    cfg = FinetuneConfig(
        csv=str(csv),
        targets=["polar", "polar2"],
        task_type="classification",
        epochs=2,
        encoder=TINY_ENCODER,
        device="cpu",
        protocol="molclr",
        out_dir=str(tmp_path / "run"),
    )
    result = finetune(cfg)
    rules = [
        json.loads((tmp_path / "run" / f"target-{k}.json").read_text())["best_rule"]
        for k in range(2)
    ]
    assert all(rule in BEST_RULES for rule in rules)
    assert result.best_rule == (rules[0] if rules[0] == rules[1] else result.best_rule)
    assert result.best_rule.split(":")[0] in BEST_RULES
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["best_rule"] == result.best_rule


def test_chemprop_checkpoint_takes_the_later_epoch_on_a_tie(tmp_path):
    pytest.importorskip("lightning")
    from molssl.benchmark.chemprop_baseline import later_on_tie_checkpoint

    class _Strategy:
        @staticmethod
        def reduce_boolean_decision(decision: bool) -> bool:
            return decision

    class _Trainer:
        strategy = _Strategy()

    ckpt = later_on_tie_checkpoint(str(tmp_path))
    ckpt.best_k_models = {"epoch=0.ckpt": torch.tensor(0.5)}
    ckpt.kth_best_model_path = "epoch=0.ckpt"
    assert not ckpt.check_monitor_top_k(_Trainer(), torch.tensor(0.6))
    assert ckpt.check_monitor_top_k(_Trainer(), torch.tensor(0.5))
    assert ckpt.best_rule == "later_epoch"
    assert ckpt.check_monitor_top_k(_Trainer(), torch.tensor(0.4))
    assert ckpt.best_rule == "valid_loss"


def test_search_trials_record_the_rule(tmp_path, tpsa_table):
    pytest.importorskip("optuna")
    from molssl.finetune.search import search_finetune

    csv = tmp_path / "tiny.csv"
    tpsa_table[["smiles", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    cfg = FinetuneConfig(
        csv=str(csv),
        targets=["logtpsa"],
        task_type="regression",
        epochs=2,
        encoder=TINY_ENCODER,
        device="cpu",
        split="random",
    )
    result = search_finetune(cfg, 1, tmp_path / "search")
    assert result.extra["best_attrs"]["best_rule"] in BEST_RULES
