"""One model per target (``protocol="molclr"``): an interrupted run resumes after its last
finished target from the small ``target-K.json`` records, even with its weights gone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import molssl.finetune.run as run_module
from molssl.benchmark.ledger import read_ledger
from molssl.benchmark.runner import benchmark
from molssl.finetune import finetune
from tests.finetune.per_target import TARGETS
from tests.finetune.per_target import CountingTrainModel as _Counting
from tests.finetune.per_target import per_target_config as _config
from tests.finetune.per_target import per_target_suite as _suite


def _drop_weights(folder: Path) -> None:
    """What a committed ledger folder is on another machine: ``*.pt`` are not in git."""
    for path in folder.glob("*.pt"):
        path.unlink()


def test_interrupted_run_resumes_after_finished_targets(tmp_path, three_targets, monkeypatch):
    whole = finetune(_config(three_targets, tmp_path / "whole"))

    out = tmp_path / "cut"
    cut = _Counting(fail_on=3)
    monkeypatch.setattr(run_module, "train_model", cut)
    with pytest.raises(KeyboardInterrupt):
        finetune(_config(three_targets, out))
    assert sorted(p.name for p in out.glob("target-*.json")) == ["target-0.json", "target-1.json"]
    assert not (out / "result.json").exists()
    record = json.loads((out / "target-1.json").read_text())
    assert record["target"] == "logtpsa" and record["seed"] == 0 and record["epochs"] == 2
    assert len(record["test"]) == whole.n_test and len(record["valid"]) == whole.n_valid

    _drop_weights(out)
    again = _Counting()
    monkeypatch.setattr(run_module, "train_model", again)
    resumed = finetune(_config(three_targets, out, resume=True))
    assert again.calls == 1  # only the target that had not finished
    assert resumed.per_target == pytest.approx(whole.per_target, rel=1e-6)
    assert resumed.value == pytest.approx(whole.value, rel=1e-6)
    assert resumed.best_epoch == whole.best_epoch
    assert resumed.seconds >= record["seconds"]  # earlier targets' time is counted
    same = pd.read_csv(out / "test_predictions.csv")
    pd.testing.assert_frame_equal(
        same, pd.read_csv(tmp_path / "whole" / "test_predictions.csv"), rtol=1e-5
    )


def test_record_of_changed_labels_is_not_reused(tmp_path, three_targets, monkeypatch):
    out = tmp_path / "run"
    first = finetune(_config(three_targets, out))
    _drop_weights(out)
    frame = pd.read_csv(three_targets)
    frame["half"] = frame["half"] * 3.0  # one target's labels change, the file keeps its name
    frame.to_csv(three_targets, index=False)
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    second = finetune(_config(three_targets, out, resume=True))
    assert counting.calls == 1  # "half" again; tpsa and logtpsa reused
    assert second.per_target["tpsa"] == pytest.approx(first.per_target["tpsa"])
    assert second.per_target["half"] != pytest.approx(first.per_target["half"])


def test_finished_targets_keep_no_weights_and_stale_ones_restart(
    tmp_path, three_targets, monkeypatch
):
    out = tmp_path / "run"
    first = finetune(_config(three_targets, out))
    assert _records(out) == ["target-0.json", "target-1.json", "target-2.json"]
    assert not list(out.glob("train_state-*.pt"))  # the records are what a resume needs
    # a training state beside a record that no longer matches the labels is just as stale:
    # resuming it would hand back the old labels' model
    (out / "train_state-2.pt").write_bytes(b"weights of the old labels")
    frame = pd.read_csv(three_targets)
    frame["half"] = frame["half"] * 3.0
    frame.to_csv(three_targets, index=False)
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    second = finetune(_config(three_targets, out, resume=True))
    assert counting.calls == 1
    assert second.per_target["half"] != pytest.approx(first.per_target["half"])
    fresh = finetune(_config(three_targets, tmp_path / "fresh"))
    assert second.per_target == pytest.approx(fresh.per_target, rel=1e-6)
    assert not list(out.glob("train_state-*.pt"))


def test_resume_after_the_labels_changed_trains_from_scratch(tmp_path, three_targets, caplog):
    """One joint model: its train_state.pt belongs to the labels and split it was written for;
    ``--resume`` after the CSV was edited in place must not hand back the old labels' model."""
    out = tmp_path / "joint"
    first = finetune(_config(three_targets, out, protocol="joint"))
    frame = pd.read_csv(three_targets)
    frame["half"] = frame["half"] * 3.0
    frame.to_csv(three_targets, index=False)
    (out / "result.json").unlink()
    with caplog.at_level("WARNING", logger="molssl.finetune.training"):
        again = finetune(_config(three_targets, out, protocol="joint", resume=True))
    assert "was written for other molecules, labels or split" in caplog.text
    fresh = finetune(_config(three_targets, tmp_path / "fresh", protocol="joint"))
    assert again.per_target == pytest.approx(fresh.per_target, rel=1e-6)
    assert again.per_target["half"] != pytest.approx(first.per_target["half"])


def _records(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("target-*.json"))


def test_other_seed_or_unreadable_record_trains_again(tmp_path, three_targets, monkeypatch):
    out = tmp_path / "run"
    finetune(_config(three_targets, out))
    _drop_weights(out)
    record = json.loads((out / "target-0.json").read_text())
    record["seed"] = 7
    (out / "target-0.json").write_text(json.dumps(record))
    (out / "target-1.json").write_text('{"version": 1, "target": "logt')  # cut short
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    finetune(_config(three_targets, out, resume=True))
    assert counting.calls == 2
    assert json.loads((out / "target-0.json").read_text())["seed"] == 0  # rewritten


def test_records_refused_without_resume(tmp_path, three_targets):
    out = tmp_path / "run"
    finetune(_config(three_targets, out))
    for name in ("result.json", "config.yaml"):
        (out / name).unlink()
    _drop_weights(out)
    with pytest.raises(FileExistsError, match="target-0.json.*--resume"):
        finetune(_config(three_targets, out))


def test_benchmark_keep_cells_resumes_a_cell_target_by_target(tmp_path, three_targets, monkeypatch):
    cfg = _suite(three_targets, tmp_path / "bench")
    monkeypatch.setattr(run_module, "train_model", _Counting(fail_on=2))
    with pytest.raises(KeyboardInterrupt):  # a kill, not a failing cell: the suite stops
        benchmark(cfg)
    (cell,) = (tmp_path / "bench" / "cells").iterdir()
    assert cell.name.startswith("three__random-init__0__")
    assert [p.name for p in cell.glob("target-*.json")] == ["target-0.json"]
    _drop_weights(cell)

    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    result = benchmark(cfg)
    assert (result.ran, result.failed) == (1, 0) and counting.calls == 2
    row = read_ledger(result.results_csv).iloc[0]
    assert row["status"] == "ok" and set(json.loads(row["per_target"])) == set(TARGETS)
    assert {"result.json", "config.yaml", "test_predictions.csv"} <= {
        p.name for p in cell.iterdir()
    }
    assert not list(cell.glob("model.pt"))  # weights only with save_models


def test_benchmark_cell_folder_moved_to_other_paths(tmp_path, three_targets, monkeypatch):
    """A cell folder whose ``config.yaml`` names another machine's files is resumed."""
    cfg = _suite(three_targets, tmp_path / "bench")
    monkeypatch.setattr(run_module, "train_model", _Counting(fail_on=3))
    with pytest.raises(KeyboardInterrupt):
        benchmark(cfg)
    (cell,) = (tmp_path / "bench" / "cells").iterdir()
    _drop_weights(cell)
    config = cell / "config.yaml"
    config.write_text(config.read_text().replace(str(tmp_path), "/elsewhere/checkout"))
    assert "/elsewhere/checkout" in config.read_text()

    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    result = benchmark(cfg)
    assert (result.ran, result.failed, counting.calls) == (1, 0, 1)
    assert "/elsewhere/checkout" not in config.read_text()


def test_cli_keep_cells(tmp_path, three_targets, capsys):
    from molssl.cli import main

    out = tmp_path / "bench"
    args = [
        "benchmark",
        "--csv",
        three_targets,
        "--targets",
        ",".join(TARGETS),
        "--task-type",
        "regression",
        "--methods",
        "random-init",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--keep-cells",
        "--set",
        "epochs=1",
        "--set",
        "protocol=molclr",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    (cell,) = (out / "cells").iterdir()
    assert sorted(p.name for p in cell.glob("target-*.json")) == [
        f"target-{k}.json" for k in range(3)
    ]
    assert "1 cells run" in capsys.readouterr().out
