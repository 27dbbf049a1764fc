"""Equal search budgets in the benchmark: the ECFP + RF search, the record, ``search=N`` suites."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest

from molssl.benchmark.baselines import ecfp_rf
from molssl.benchmark.ledger import read_ledger
from molssl.benchmark.protocol import read_protocol
from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.benchmark.tuning import search_ecfp_rf
from molssl.featurize import MolGraphFeaturizer
from molssl.finetune import FinetuneConfig, load_task, task_split
from molssl.finetune.search import search_finetune
from molssl.finetune.study import STUDY_FILE, load_search_record, record_search
from tests.finetune.search_helpers import TINY_ENCODER, tiny_search_config


@pytest.fixture
def tiny_cfg(tmp_path: Path, tpsa_table: pd.DataFrame) -> FinetuneConfig:
    return tiny_search_config(tmp_path, tpsa_table, epochs=2)


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


def test_benchmark_search_runs_each_method_with_its_best_settings(tmp_path, tiny_data_dir):
    cfg = BenchmarkConfig(
        tasks=["esol"],
        methods=["random-init", "ecfp-rf"],
        seeds=[0, 1],
        out_dir=str(tmp_path / "bench"),
        data_dir=str(tiny_data_dir),
        device="cpu",
        finetune={"epochs": 2, "encoder": TINY_ENCODER},
        progress=False,
        search=2,
    )
    result = benchmark(cfg)
    assert (result.ran, result.failed) == (4, 0)
    record = load_search_record(cfg.out_dir)["tasks"]["ESOL"]
    ledger = read_ledger(result.results_csv).set_index(["method", "seed"])
    for method in ("random-init", "ecfp-rf"):
        entry = record[method]
        assert entry["n_trials"] == 2 and [r["seed"] for r in entry["retrained"]] == [0, 1]
        # the seed the trials trained with reproduces the best trial's validation value
        assert ledger.loc[(method, 0), "valid_value"] == pytest.approx(entry["best_value"])
    protocol = read_protocol(cfg.out_dir)  # the protocol record holds the searched settings too
    assert protocol["search_budget"] == 2
    for method in ("random-init", "ecfp-rf"):
        searched = protocol["searches"]["ESOL"][method]
        assert searched["best_params"] == record[method]["best_params"]
        assert [r["seed"] for r in searched["retrained"]] == [0, 1]
    again = benchmark(cfg)  # resuming the folder is not refused, and keeps the record
    kept = read_protocol(cfg.out_dir)["searches"]["ESOL"]
    for method in ("random-init", "ecfp-rf"):
        for key in ("best_params", "best_value", "n_trials", "retrained"):
            assert kept[method][key] == protocol["searches"]["ESOL"][method][key], key
    assert (again.ran, again.skipped) == (0, 4)
    storage = f"sqlite:///{tmp_path / 'bench' / STUDY_FILE}"
    assert [s.n_trials for s in optuna.get_all_study_summaries(storage)] == [2, 2]  # none added
