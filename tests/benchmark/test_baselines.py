"""Fingerprint baselines and chemprop's D-MPNN on tiny tasks, on the benchmark's own split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from molssl.benchmark.baselines import ecfp_mlp, ecfp_rf, random_forest
from molssl.featurize import MolGraphFeaturizer
from molssl.finetune import TaskSource, prepare_task, task_split


def _task(tmp_path, frame, task_type):
    frame.to_csv(tmp_path / "t.csv", index=False)
    return prepare_task(
        TaskSource(csv=str(tmp_path / "t.csv"), task_type=task_type), MolGraphFeaturizer()
    )


def test_random_forest_is_class_balanced_for_classification() -> None:
    make = random_forest(n_estimators=7, seed=3)
    assert make(True).class_weight == "balanced" and make(True).n_estimators == 7
    assert make(False).n_estimators == 7


def test_ecfp_mlp_classification_and_regression(tmp_path, tpsa_table) -> None:
    cls = _task(tmp_path, tpsa_table[["smiles", "polar"]].iloc[:150], "classification")
    result = ecfp_mlp(cls, task_split(cls), seed=0)
    assert result.metric == "roc_auc" and 0.0 <= result.value <= 1.0
    assert ecfp_mlp(cls, task_split(cls), seed=0).value == result.value  # seeded
    reg = _task(tmp_path, tpsa_table[["smiles", "logtpsa"]].iloc[:150], "regression")
    result = ecfp_mlp(reg, task_split(reg), seed=0)
    assert result.metric == "rmse" and math.isfinite(result.value) and result.value > 0


def test_extra_metrics_follow_the_spec(tmp_path, tpsa_table) -> None:
    task = _task(tmp_path, tpsa_table[["smiles", "polar"]].iloc[:150], "classification")
    assert ecfp_rf(task, task_split(task), n_estimators=5).extra_metrics == {}
    from dataclasses import replace

    task.spec = replace(task.spec, extra_metrics=("prc_auc",))
    extra = ecfp_rf(task, task_split(task), n_estimators=5).extra_metrics
    assert set(extra) == {"prc_auc"} and 0.0 <= extra["prc_auc"] <= 1.0


def test_chemprop_dmpnn_on_our_split(tmp_path, tpsa_table) -> None:
    pytest.importorskip(
        "chemprop", reason="chemprop is not installed: pip install 'molssl[chemprop]'"
    )
    from molssl.benchmark.chemprop_baseline import chemprop_dmpnn

    frame = tpsa_table[["smiles", "polar", "logtpsa"]].iloc[:120].copy()
    frame.loc[::4, "polar"] = np.nan  # missing labels are masked, not dropped
    reg = _task(tmp_path, frame[["smiles", "logtpsa"]], "regression")
    split = task_split(reg)
    result = chemprop_dmpnn(reg, split, seed=0, epochs=2)
    assert (result.n_train, result.n_valid, result.n_test) == tuple(len(p) for p in split)
    assert result.metric == "rmse" and 0 < result.value < 5 and math.isfinite(result.valid_value)
    assert 1 <= result.best_epoch <= 2  # the epoch of the lowest validation loss
    again = chemprop_dmpnn(reg, split, seed=0, epochs=2)
    assert again.value == pytest.approx(result.value, rel=1e-5)  # seeded
    cls = _task(tmp_path, frame[["smiles", "polar"]], "classification")
    result = chemprop_dmpnn(cls, task_split(cls), seed=0, epochs=2)
    assert result.metric == "roc_auc" and 0.0 <= result.value <= 1.0


def test_chemprop_missing_api_is_one_clear_error(monkeypatch, tmp_path, tpsa_table) -> None:
    pytest.importorskip(
        "chemprop", reason="chemprop is not installed: pip install 'molssl[chemprop]'"
    )
    import chemprop.nn

    from molssl.benchmark.chemprop_baseline import ChempropUnavailableError, chemprop_dmpnn

    monkeypatch.delattr(chemprop.nn, "BondMessagePassing")
    task = _task(tmp_path, tpsa_table[["smiles", "logtpsa"]].iloc[:60], "regression")
    with pytest.raises(ChempropUnavailableError, match="nn.BondMessagePassing.*API changed"):
        chemprop_dmpnn(task, task_split(task), epochs=1)
