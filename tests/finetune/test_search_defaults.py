"""A search starts from the default settings and never hands back worse ones silently."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

import molssl.finetune.ensemble
import molssl.finetune.run
from molssl.benchmark.tuning import search_ecfp_rf
from molssl.finetune import FinetuneConfig
from molssl.finetune.search import search_finetune, search_then_finetune
from molssl.finetune.study import best_settings
from tests.finetune.search_helpers import TINY_ENCODER, study_trials, tiny_search_config


@pytest.fixture
def tiny_cfg(tmp_path: Path, tpsa_table: pd.DataFrame) -> FinetuneConfig:
    return tiny_search_config(tmp_path, tpsa_table, epochs=3)


def test_trial_zero_is_the_default_run(tmp_path, tiny_cfg):
    result = search_finetune(tiny_cfg, 2, tmp_path)
    first = study_trials(tmp_path)[0]
    defaults = {
        "encoder_lr": 1e-4,
        "head_lr": 5e-4,
        "weight_decay": 1e-6,
        "dropout": 0.3,
        "batch_size": 32,
        "epochs": 3,
        "pooling": "mean",
    }
    assert first.params == pytest.approx(defaults)
    default_run = molssl.finetune.run.finetune(tiny_cfg)  # what a run without --search gives
    assert first.value == pytest.approx(default_run.valid_value, rel=1e-6)
    assert result.extra["defaults"]["params"] == first.params
    assert result.extra["defaults"]["value"] == pytest.approx(first.value)
    assert result.best_value <= first.value  # rmse: the search can only match or beat them


def test_user_settings_outside_the_space_are_trial_zero_too(tmp_path, tiny_cfg):
    cfg = dataclasses.replace(
        tiny_cfg, batch_size=24, encoder_lr=3e-3, encoder={**TINY_ENCODER, "pooling": "attention"}
    )
    search_finetune(cfg, 1, tmp_path)
    params = study_trials(tmp_path)[0].params
    assert (params["batch_size"], params["encoder_lr"], params["pooling"]) == (
        24,
        pytest.approx(3e-3),
        "attention",
    )


def test_trials_stop_early_only_as_the_default_run_does(tmp_path, tiny_cfg, monkeypatch):
    seen: list[int | None] = []
    real = molssl.finetune.run.finetune

    def recording(cfg):
        seen.append(cfg.patience)
        return real(cfg)

    monkeypatch.setattr(molssl.finetune.run, "finetune", recording)
    found = search_finetune(dataclasses.replace(tiny_cfg, epochs=15), 1, tmp_path / "a")
    assert seen == [None]  # the profile trains every epoch; so does every trial
    assert best_settings(found)["patience"] is None
    patient = dataclasses.replace(tiny_cfg, patience=7)
    search_finetune(patient, 1, tmp_path / "b")
    assert seen[-1] == 7


def test_record_and_summary_show_defaults_against_the_best(tmp_path, tiny_cfg, capsys):
    from molssl.cli import main

    out = tmp_path / "run"
    code = main(
        [
            "finetune",
            "--csv",
            tiny_cfg.csv,
            "--targets",
            "logtpsa",
            "--task-type",
            "regression",
            "--search",
            "2",
            "--out",
            str(out),
            "--epochs",
            "3",
            "--device",
            "cpu",
            "--split",
            "random",
            "--set",
            "encoder.num_layers=2",
            "--set",
            "encoder.hidden_channels=16",
            "--set",
            "encoder.out_channels=16",
            "--set",
            "encoder.proj_dim=8",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    entry = json.loads((out / "search.json").read_text())["tasks"]["tiny"]["random"]
    defaults = entry["defaults"]
    assert defaults["trial"] == 0 and defaults["params"]["batch_size"] == 32
    assert entry["best_value"] <= defaults["value"]
    assert f"defaults (trial 0) {defaults['value']:.4f}" in printed
    assert f"best (trial {entry['best_trial']}) {entry['best_value']:.4f}" in printed
    assert entry["worse_than_defaults"] is False


def test_retrained_runs_worse_than_the_defaults_are_flagged(
    tmp_path, tiny_cfg, monkeypatch, caplog
):
    real = molssl.finetune.run.finetune

    def worse_on_other_seeds(cfg):
        res = real(cfg)
        return dataclasses.replace(res, valid_value=res.valid_value + 10) if cfg.seed else res

    monkeypatch.setattr(molssl.finetune.run, "finetune", worse_on_other_seeds)
    monkeypatch.setattr(molssl.finetune.ensemble, "finetune", worse_on_other_seeds)
    cfg = dataclasses.replace(tiny_cfg, out_dir=str(tmp_path / "ens"))
    found, _ = search_then_finetune(cfg, 1, ensemble=2)
    entry = json.loads((tmp_path / "ens" / "search.json").read_text())["tasks"]["tiny"]["random"]
    assert entry["worse_than_defaults"] is True
    assert "worse than the default settings" in caplog.text


def test_rf_search_starts_from_the_forest_defaults(tmp_path, tiny_cfg):
    found = search_ecfp_rf(tiny_cfg, 2, tmp_path, defaults={"n_estimators": 100})
    first = study_trials(tmp_path)[0]
    assert first.params == {"n_estimators": 100, "max_features": None, "min_samples_leaf": 1}
    assert found.extra["defaults"]["value"] == pytest.approx(first.value)
    assert found.best_value <= first.value
