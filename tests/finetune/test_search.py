"""Optuna search: resume after interruption, seeded proposals, the RF baseline, the record."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest

import molssl.finetune.run
from molssl.finetune import FinetuneConfig
from molssl.finetune.search import apply_params, search_finetune
from molssl.finetune.study import (
    STUDY_FILE,
    SearchError,
    best_settings,
    load_search_record,
)
from tests.finetune.search_helpers import study_trials, tiny_search_config


@pytest.fixture
def tiny_cfg(tmp_path: Path, tpsa_table: pd.DataFrame) -> FinetuneConfig:
    return tiny_search_config(tmp_path, tpsa_table, epochs=2)


def test_interrupted_search_resumes_to_the_same_result(tmp_path, tiny_cfg, monkeypatch):
    whole = search_finetune(tiny_cfg, 3, tmp_path / "whole")

    part = tmp_path / "part"
    first = search_finetune(tiny_cfg, 2, part)
    assert first.n_trials == 2 and len(study_trials(part)) == 2

    real = molssl.finetune.run.finetune

    def interrupted(cfg):
        raise KeyboardInterrupt  # Ctrl-C in the middle of trial 2

    monkeypatch.setattr(molssl.finetune.run, "finetune", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search_finetune(tiny_cfg, 3, part)
    monkeypatch.setattr(molssl.finetune.run, "finetune", real)
    resumed = search_finetune(tiny_cfg, 3, part)

    states = [t.state.name for t in study_trials(part)]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]  # the cut trial is redone
    assert resumed.n_trials == 3
    done = [t for t in study_trials(part) if t.state.name == "COMPLETE"]
    assert [t.params for t in done] == [t.params for t in study_trials(tmp_path / "whole")]
    assert resumed.best_params == whole.best_params
    assert resumed.best_value == pytest.approx(whole.best_value, rel=1e-6)
    assert search_finetune(tiny_cfg, 3, part).n_trials == 3  # nothing left to run
    assert len(study_trials(part)) == 4


def test_two_then_three_trials_gives_three(tmp_path, tiny_cfg):
    search_finetune(tiny_cfg, 2, tmp_path)
    result = search_finetune(tiny_cfg, 3, tmp_path)
    trials = study_trials(tmp_path)
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
    assert settings["patience"] is None  # as a run without search: the profile has none
    cfg = apply_params(tiny_cfg, settings)
    assert cfg.encoder["pooling"] == settings["pooling"] and cfg.encoder["num_layers"] == 2
    rerun = molssl.finetune.run.finetune(cfg)
    assert rerun.valid_value == pytest.approx(result.best_value, rel=1e-6)


def test_failing_trials_and_bad_budget(tmp_path, tiny_cfg, monkeypatch):
    with pytest.raises(ValueError, match="at least 1 trial"):
        search_finetune(tiny_cfg, 0, tmp_path)

    def broken(cfg):
        raise RuntimeError("diverged")

    monkeypatch.setattr(molssl.finetune.run, "finetune", broken)
    with pytest.raises(SearchError, match="all 2 search trials failed.*diverged"):
        search_finetune(tiny_cfg, 2, tmp_path)
    assert len(study_trials(tmp_path)) == 2  # failures count towards the budget: no endless retry
    assert load_search_record(tmp_path / "absent") == {"format_version": 1, "tasks": {}}


def test_a_second_worker_waits_for_the_study_and_reuses_its_trials(tmp_path, caplog):
    import threading
    import time

    from molssl.finetune.study import run_study

    calls: list[dict] = []
    release = threading.Event()

    def objective(params: dict) -> tuple[float, dict]:
        calls.append(params)
        if len(calls) == 1:
            release.wait(60)  # the first worker is still in its first trial
        return float(params["x"]), {}

    def space(trial, info):
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    kwargs = dict(
        task="t",
        method="m",
        metric="rmse",
        higher_is_better=False,
        n_trials=3,
        out_dir=tmp_path,
        identity={},
    )
    results: dict = {}

    def worker(name: str) -> None:
        results[name] = run_study(objective, space, {}, **kwargs)

    caplog.set_level("INFO", logger="molssl.finetune.study")
    first = threading.Thread(target=worker, args=("first",))
    first.start()
    deadline = time.monotonic() + 60
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    second = threading.Thread(target=worker, args=("second",))  # e.g. a second process
    second.start()
    time.sleep(1.5)
    assert len(calls) == 1  # the second worker waits instead of running trials of its own
    release.set()
    first.join(60)
    second.join(60)
    assert len(calls) == 3  # three trials in all, none run twice
    assert results["second"].n_trials == results["first"].n_trials == 3
    assert results["second"].best_params == results["first"].best_params
    assert "waiting for it to finish" in caplog.text


def test_a_trial_left_running_by_a_killed_process_is_failed_and_run_again(tmp_path, tiny_cfg):
    search_finetune(tiny_cfg, 2, tmp_path)
    storage = f"sqlite:///{tmp_path / STUDY_FILE}"
    (summary,) = optuna.get_all_study_summaries(storage)
    optuna.load_study(study_name=summary.study_name, storage=storage).ask()  # then SIGKILL
    assert [t.state.name for t in study_trials(tmp_path)] == ["COMPLETE", "COMPLETE", "RUNNING"]

    result = search_finetune(tiny_cfg, 3, tmp_path)
    assert [t.state.name for t in study_trials(tmp_path)] == [
        "COMPLETE",
        "COMPLETE",
        "FAIL",
        "COMPLETE",
    ]
    assert result.n_trials == 3
    assert "error" not in study_trials(tmp_path)[2].user_attrs  # not a trial that failed on its own


def test_search_then_finetune_refuses_a_finished_run_before_searching(
    tmp_path, tiny_cfg, monkeypatch
):
    import dataclasses

    import molssl.finetune.search as search

    cfg = dataclasses.replace(tiny_cfg, out_dir=str(tmp_path / "run"))
    search.search_then_finetune(cfg, 1)
    assert (tmp_path / "run" / "result.json").is_file()

    def searched(*args, **kwargs):
        raise AssertionError("the search ran before the refusal")

    monkeypatch.setattr(search, "search_finetune", searched)
    with pytest.raises(FileExistsError, match="already holds a fine-tuning run.*--resume"):
        search.search_then_finetune(cfg, 1)
    ensemble = dataclasses.replace(tiny_cfg, out_dir=str(tmp_path / "ens"))
    monkeypatch.undo()
    search.search_then_finetune(ensemble, 1, ensemble=2)
    monkeypatch.setattr(search, "search_finetune", searched)
    with pytest.raises(FileExistsError, match="member-0"):
        search.search_then_finetune(ensemble, 1, ensemble=2)


def test_a_study_resumes_with_the_csv_elsewhere(tmp_path, tiny_cfg, monkeypatch):
    import dataclasses
    import shutil

    first = search_finetune(tiny_cfg, 2, tmp_path / "out")
    moved = tmp_path / "elsewhere" / "tiny.csv"
    moved.parent.mkdir()
    shutil.move(tiny_cfg.csv, moved)

    def trained(cfg):
        raise AssertionError("a trial ran again")

    monkeypatch.setattr(molssl.finetune.run, "finetune", trained)
    again = search_finetune(dataclasses.replace(tiny_cfg, csv=str(moved)), 2, tmp_path / "out")
    assert (again.study_name, again.best_params) == (first.study_name, first.best_params)


def test_a_study_under_its_former_name_is_renamed_not_searched_again(tmp_path):
    from molssl.finetune.study import run_study

    calls = []

    def objective(params):
        calls.append(params)
        return params["x"], {}

    def space(trial, info):
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    common = {
        "task": "T",
        "method": "m",
        "metric": "rmse",
        "higher_is_better": False,
        "out_dir": tmp_path,
    }
    old = run_study(objective, space, {}, n_trials=3, identity={"data_dir": "/a"}, **common)
    new = run_study(
        objective,
        space,
        {},
        n_trials=3,
        identity={"data_dir": None},
        former_identities=[{"data_dir": "/a"}],
        **common,
    )
    assert len(calls) == 3 and new.study_name != old.study_name
    assert (new.best_params, new.best_value, new.best_trial) == (
        old.best_params,
        old.best_value,
        old.best_trial,
    )
    storage = f"sqlite:///{tmp_path / STUDY_FILE}"
    assert optuna.get_all_study_names(storage) == [new.study_name]
    run_study(
        objective,
        space,
        {},
        n_trials=4,
        identity={"data_dir": None},
        former_identities=[{"data_dir": "/a"}],
        **common,
    )
    assert len(calls) == 4  # the renamed study resumes: one more trial
