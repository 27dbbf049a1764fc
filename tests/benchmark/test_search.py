"""Optuna search: resume after interruption, seeded proposals, the RF baseline, the record."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest

import molssl.finetune
from molssl.benchmark.baselines import ecfp_rf
from molssl.benchmark.tasks import task_split
from molssl.featurize import MolGraphFeaturizer
from molssl.finetune import FinetuneConfig, load_task
from molssl.search import (
    STUDY_FILE,
    SearchError,
    apply_params,
    best_settings,
    load_search_record,
    record_search,
    search_ecfp_rf,
    search_finetune,
)

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


@pytest.fixture
def tiny_cfg(tmp_path: Path, tpsa_table: pd.DataFrame) -> FinetuneConfig:
    csv = tmp_path / "tiny.csv"
    tpsa_table[["smiles", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    return FinetuneConfig(csv=str(csv), targets=["logtpsa"], task_type="regression", epochs=2,
                          encoder=TINY_ENCODER, device="cpu", split="random")  # fmt: skip


def _trials(out: Path) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{out / STUDY_FILE}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()


def test_interrupted_search_resumes_to_the_same_result(tmp_path, tiny_cfg, monkeypatch):
    whole = search_finetune(tiny_cfg, 3, tmp_path / "whole")

    part = tmp_path / "part"
    first = search_finetune(tiny_cfg, 2, part)
    assert first.n_trials == 2 and len(_trials(part)) == 2

    real = molssl.finetune.finetune

    def interrupted(cfg):
        raise KeyboardInterrupt  # Ctrl-C in the middle of trial 2

    monkeypatch.setattr(molssl.finetune, "finetune", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search_finetune(tiny_cfg, 3, part)
    monkeypatch.setattr(molssl.finetune, "finetune", real)
    resumed = search_finetune(tiny_cfg, 3, part)

    states = [t.state.name for t in _trials(part)]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]  # the cut trial is redone
    assert resumed.n_trials == 3
    done = [t for t in _trials(part) if t.state.name == "COMPLETE"]
    assert [t.params for t in done] == [t.params for t in _trials(tmp_path / "whole")]
    assert resumed.best_params == whole.best_params
    assert resumed.best_value == pytest.approx(whole.best_value, rel=1e-6)
    assert search_finetune(tiny_cfg, 3, part).n_trials == 3  # nothing left to run
    assert len(_trials(part)) == 4


def test_two_then_three_trials_gives_three(tmp_path, tiny_cfg):
    search_finetune(tiny_cfg, 2, tmp_path)
    result = search_finetune(tiny_cfg, 3, tmp_path)
    trials = _trials(tmp_path)
    assert len(trials) == 3 and result.n_trials == 3
    assert result.direction == "minimize" and result.metric == "rmse"
    assert result.best_value == min(t.value for t in trials)
    assert 1 <= result.best_params["epochs"] <= 2 and result.best_params["batch_size"] in (
        16,
        32,
        64,
        128,
    )
    assert result.best_params["pooling"] in ("mean", "sum", "max")  # a random encoder's readout
    assert result.search_seconds > 0


def test_best_settings_retrain_to_the_best_validation_value(tmp_path, tiny_cfg):
    result = search_finetune(tiny_cfg, 2, tmp_path)
    settings = best_settings(result)
    assert settings["patience"] == 3
    cfg = apply_params(tiny_cfg, settings)
    assert cfg.encoder["pooling"] == settings["pooling"] and cfg.encoder["num_layers"] == 2
    rerun = molssl.finetune.finetune(cfg)
    assert rerun.valid_value == pytest.approx(result.best_value, rel=1e-6)


def test_rf_search_and_record(tmp_path, tiny_cfg):
    rf = search_ecfp_rf(tiny_cfg, 3, tmp_path)
    assert set(rf.best_params) == {"n_estimators", "max_features", "min_samples_leaf"}
    task = load_task(tiny_cfg, MolGraphFeaturizer())
    split = task_split(task, tiny_cfg.split, tiny_cfg.split_sizes, tiny_cfg.split_seed)
    again = ecfp_rf(task, split, seed=tiny_cfg.seed, **rf.best_params)
    assert again.valid_value == pytest.approx(rf.best_value)

    record_search(tmp_path, rf, retrained=[{"seed": 0, "value": again.value, "valid_value": 1.0}])
    nn = search_finetune(tiny_cfg, 1, tmp_path, method="random-init")
    record_search(tmp_path, nn)
    record = load_search_record(tmp_path)
    entry = record["tasks"]["tiny"]
    assert set(entry) == {"ecfp-rf", "random-init"}
    assert entry["ecfp-rf"]["best_params"] == rf.best_params
    assert entry["ecfp-rf"]["retrained"][0]["value"] == pytest.approx(again.value)
    assert entry["random-init"]["n_trials"] == 1 and entry["random-init"]["direction"] == "minimize"
    assert len(optuna.get_all_study_summaries(f"sqlite:///{tmp_path / STUDY_FILE}")) == 2


def test_failing_trials_and_bad_budget(tmp_path, tiny_cfg, monkeypatch):
    with pytest.raises(ValueError, match="at least 1 trial"):
        search_finetune(tiny_cfg, 0, tmp_path)

    def broken(cfg):
        raise RuntimeError("diverged")

    monkeypatch.setattr(molssl.finetune, "finetune", broken)
    with pytest.raises(SearchError, match="all 2 search trials failed.*diverged"):
        search_finetune(tiny_cfg, 2, tmp_path)
    assert len(_trials(tmp_path)) == 2  # failures count towards the budget: no endless retry
    assert load_search_record(tmp_path / "absent") == {"format_version": 1, "tasks": {}}


def test_benchmark_search_runs_each_method_with_its_best_settings(tmp_path, tiny_data_dir):
    from molssl.benchmark.ledger import read_ledger
    from molssl.benchmark.runner import BenchmarkConfig, benchmark

    cfg = BenchmarkConfig(tasks=["esol"], methods=["random-init", "ecfp-rf"], seeds=[0, 1],
                          out_dir=str(tmp_path / "bench"), data_dir=str(tiny_data_dir),
                          device="cpu", finetune={"epochs": 2, "encoder": TINY_ENCODER},
                          progress=False, search=2)  # fmt: skip
    result = benchmark(cfg)
    assert (result.ran, result.failed) == (4, 0)
    record = load_search_record(cfg.out_dir)["tasks"]["ESOL"]
    ledger = read_ledger(result.results_csv).set_index(["method", "seed"])
    for method in ("random-init", "ecfp-rf"):
        entry = record[method]
        assert entry["n_trials"] == 2 and [r["seed"] for r in entry["retrained"]] == [0, 1]
        # the seed the trials trained with reproduces the best trial's validation value
        assert ledger.loc[(method, 0), "valid_value"] == pytest.approx(entry["best_value"])
    again = benchmark(cfg)
    assert (again.ran, again.skipped) == (0, 4)
    storage = f"sqlite:///{tmp_path / 'bench' / STUDY_FILE}"
    assert [s.n_trials for s in optuna.get_all_study_summaries(storage)] == [2, 2]  # none added
