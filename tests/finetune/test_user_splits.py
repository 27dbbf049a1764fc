"""Predefined (user-given) splits: a CSV column or a JSON file, used exactly, everywhere."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molssl.finetune.run as run_module
from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.estimators import MolPropertyRegressor
from molssl.predefined_splits import InvalidSplitError

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}
TRAIN, VALID, TEST = list(range(0, 70)), list(range(70, 80)), list(range(80, 100))


def _labels(n: int = 100) -> list[str]:
    """Temporal-style split: the last rows are test. Mixed case and padding, as users write."""
    names = {
        **{r: " Train" for r in TRAIN},
        **{r: "VALID " for r in VALID},
        **{r: "test" for r in TEST},
    }
    return [names[r] for r in range(n)]


def _csv(
    tmp_path: Path, table: pd.DataFrame, fold: list[str] | None = None, name: str = "task.csv"
) -> str:
    frame = table[["smiles", "tpsa"]].iloc[:100].copy()
    frame["fold"] = _labels() if fold is None else fold
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _split_file(tmp_path: Path, data: object, name: str = "split.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _config(csv: str, **kwargs) -> FinetuneConfig:
    fields = {
        "csv": csv,
        "targets": ["tpsa"],
        "task_type": "regression",
        "epochs": 1,
        "encoder": TINY_ENCODER,
        "device": "cpu",
    }
    return FinetuneConfig(**{**fields, **kwargs})


def _sha(parts: list[list[int]]) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def _rows(out: Path, name: str) -> list[int]:
    return pd.read_csv(out / name)["row"].tolist()


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything is trained: malformed splits are refused before."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the split was checked")

    monkeypatch.setattr(run_module, "train_model", refuse)


def test_column_split_is_used_exactly(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    out = tmp_path / "run"
    result = finetune(_config(csv, split="column:fold", out_dir=str(out)))
    assert (result.n_train, result.n_valid, result.n_test) == (70, 10, 20)
    assert sorted(_rows(out, "test_predictions.csv")) == TEST
    assert sorted(_rows(out, "valid_predictions.csv")) == VALID
    record = json.loads((out / "result.json").read_text())
    assert record["split"] == "column:fold"
    assert record["split_source"] == {"kind": "column", "column": "fold", "file": "task.csv"}
    assert record["split_sha256"] == _sha([TRAIN, VALID, TEST])  # train rows are exactly TRAIN


def test_column_and_file_forms_give_the_same_run(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    by_column = finetune(_config(csv, split="column:fold", out_dir=str(tmp_path / "a")))
    # chemprop's format: a one-element list, "val" for valid, range strings
    path = _split_file(tmp_path, [{"train": "0-69", "val": VALID, "test": "80-89,90-99"}])
    by_file = finetune(_config(csv, split_file=path, out_dir=str(tmp_path / "b")))
    assert by_file.split == "file:split.json"
    assert by_file.split_sha256 == by_column.split_sha256 == _sha([TRAIN, VALID, TEST])
    assert by_file.value == by_column.value
    a = pd.read_csv(tmp_path / "a" / "test_predictions.csv")
    b = pd.read_csv(tmp_path / "b" / "test_predictions.csv")
    pd.testing.assert_frame_equal(a, b)
    assert (
        by_file.split_source["file_sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    )


@pytest.mark.parametrize("splitter", [None, "random"])
def test_train_test_only_carves_validation_out_of_train(
    tmp_path, tpsa_table, caplog, capsys, splitter
):
    fold = ["train" if r < 80 else "test" for r in range(100)]
    csv = _csv(tmp_path, tpsa_table, fold)
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="molssl.finetune.tasks"):
        result = finetune(
            _config(csv, split="column:fold", valid_splitter=splitter, out_dir=str(out))
        )
    assert result.split_source["valid_from_train"] == (splitter or "scaffold")
    assert "no validation rows" in caplog.text
    valid = _rows(out, "valid_predictions.csv")
    assert valid and set(valid) <= set(range(80))  # carved out of train only
    assert sorted(_rows(out, "test_predictions.csv")) == list(range(80, 100))
    assert result.n_train + result.n_valid == 80 and result.n_test == 20
    assert json.loads((out / "result.json").read_text())["split_source"]["valid_from_train"]


def test_cli_says_validation_was_carved(tmp_path, tpsa_table, capsys):
    csv = _csv(tmp_path, tpsa_table, ["train" if r < 80 else "test" for r in range(100)])
    code = main(
        [
            "finetune",
            "--csv",
            csv,
            "--targets",
            "tpsa",
            "--task-type",
            "regression",
            "--split",
            "column:fold",
            "--valid-splitter",
            "random",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "run"),
            "--set",
            "encoder.num_layers=2",
            "--set",
            "encoder.hidden_channels=16",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "column:fold split" in printed
    assert "carved out of the training rows by the random splitter" in printed


def test_invalid_smiles_row_is_dropped_from_its_set_and_reported(tmp_path, tpsa_table, caplog):
    frame = tpsa_table[["smiles", "tpsa"]].iloc[:100].copy()
    frame["fold"] = _labels()
    frame.loc[85, "smiles"] = "not-a-smiles"
    frame.to_csv(tmp_path / "task.csv", index=False)
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        result = finetune(
            _config(str(tmp_path / "task.csv"), split="column:fold", out_dir=str(out))
        )
    assert result.split_source["dropped_rows"] == {"test": [85]}
    assert "dropped from their sets: test [85]" in caplog.text
    assert sorted(_rows(out, "test_predictions.csv")) == [r for r in TEST if r != 85]
    assert result.split_sha256 == _sha([TRAIN, VALID, [r for r in TEST if r != 85]])


def test_split_column_is_not_a_target(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    result = finetune(_config(csv, targets=[], split="column:fold"))
    assert list(result.per_target) == ["tpsa"]


_BAD_COLUMNS = {
    "unknown value": (lambda f: f[:5] + ["validation"] + f[6:], "row 5 has 'validation'"),
    "misspelt test": (lambda f: f[:90] + ["tst"] + f[91:], "row 90 has 'tst'"),
    "empty test set": (lambda f: ["train"] * 90 + ["valid"] * 10, "the test set is empty"),
    "blank value": (lambda f: f[:3] + [""] + f[4:], "row 3 has an empty value"),
}


@pytest.mark.parametrize("case", sorted(_BAD_COLUMNS))
def test_malformed_split_column_is_refused_in_one_line(tmp_path, tpsa_table, no_training, case):
    make, expected = _BAD_COLUMNS[case]
    csv = _csv(tmp_path, tpsa_table, make(_labels()))
    with pytest.raises(InvalidSplitError) as info:
        finetune(_config(csv, split="column:fold"))
    message = str(info.value)
    assert expected in message and "column 'fold'" in message and "\n" not in message
    assert isinstance(info.value, ConfigError)


_BAD_FILES = {
    "repeated row": ({"train": [*TRAIN, 3], "valid": VALID, "test": TEST}, "row 3 is twice in"),
    "row in two sets": (
        {"train": TRAIN, "valid": VALID, "test": [*TEST, 5]},
        "row 5 is in 'train' and in 'test'",
    ),
    "out of range": (
        {"train": TRAIN, "valid": VALID, "test": [*TEST, 100]},
        "test row 100 is past the end of the data (100 rows",
    ),
    "empty train": ({"train": [], "valid": VALID, "test": TEST}, "the train set is empty"),
    "unknown key": (
        {"train": TRAIN, "validation": VALID, "test": TEST},
        "unknown set 'validation'",
    ),
    "bad json": ('{"train": [0, 1,', "not a JSON split file"),
    "several splits": ([{"train": TRAIN, "test": TEST}] * 2, "a list of 2 splits"),
    "negative row": ({"train": [-1, *TRAIN[1:]], "test": TEST}, "has row -1"),
}


@pytest.mark.parametrize("case", sorted(_BAD_FILES))
def test_malformed_split_file_is_refused_in_one_line(tmp_path, tpsa_table, no_training, case):
    data, expected = _BAD_FILES[case]
    csv = _csv(tmp_path, tpsa_table)
    path = _split_file(tmp_path, data)
    with pytest.raises(InvalidSplitError) as info:
        finetune(_config(csv, split_file=path))
    assert expected in str(info.value) and path in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", ["repeated row", "out of range", "bad json", "unknown value"])
def test_cli_refuses_a_malformed_split_in_one_line(tmp_path, tpsa_table, capsys, no_training, case):
    args = [
        "finetune",
        "--targets",
        "tpsa",
        "--task-type",
        "regression",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
    ]
    if case in _BAD_FILES:
        args += [
            "--csv",
            _csv(tmp_path, tpsa_table),
            "--split-file",
            _split_file(tmp_path, _BAD_FILES[case][0]),
        ]
        expected = _BAD_FILES[case][1]
    else:
        make, expected = _BAD_COLUMNS[case]
        args += ["--csv", _csv(tmp_path, tpsa_table, make(_labels())), "--split", "column:fold"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before any output


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"split": "column:fold", "split_file": "s.json"}, "give one of split"),
        ({"valid_splitter": "random"}, "needs --split column:NAME or --split-file"),
        ({"split": "column:fold", "max_molecules": 50}, "would subsample a predefined split"),
        ({"split": "column:"}, "names no column"),
        ({"split": "scafold"}, "did you mean 'scaffold'"),
    ],
)
def test_inconsistent_split_settings_are_config_errors(fields, expected):
    with pytest.raises(ConfigError, match=expected):
        _config("task.csv", **fields)


def test_column_split_of_a_registered_dataset_is_refused():
    with pytest.raises(ConfigError, match="reads a column of your CSV"):
        FinetuneConfig(task="bbbp", split="column:fold")


def test_predefined_split_ignores_the_profile_cap(tmp_path, tpsa_table):
    labels = [("train" if r < 150 else "valid" if r < 170 else "test") for r in range(200)]
    frame = tpsa_table[["smiles", "tpsa"]].iloc[:200].copy()
    frame["fold"] = labels
    frame.to_csv(tmp_path / "big.csv", index=False)
    cfg = _config(str(tmp_path / "big.csv"), split="column:fold", profile="quick")
    assert run_module.molecule_cap(cfg) is None
    assert run_module.molecule_cap(_config(str(tmp_path / "big.csv"), profile="quick")) == 4000


def test_benchmark_csv_records_the_predefined_split(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    cfg = BenchmarkConfig(
        tasks=[],
        csv=csv,
        targets=["tpsa"],
        task_type="regression",
        methods=["ecfp-rf"],
        seeds=[0],
        rf_estimators=5,
        progress=False,
        out_dir=str(tmp_path / "bench"),
        device="cpu",
        split="column:fold",
    )
    result = benchmark(cfg)
    assert result.failed == 0
    task = json.loads((tmp_path / "bench" / "protocol.json").read_text())["tasks"]["task"]
    assert task["split"] == "column:fold"
    assert task["split_source"]["column"] == "fold"
    assert task["split_sha256"] == {"0": _sha([TRAIN, VALID, TEST])}
    row = pd.read_csv(result.results_csv).iloc[0]
    assert (row["n_train"], row["n_valid"], row["n_test"]) == (70, 10, 20)


def test_benchmark_refuses_a_malformed_split_before_any_cell(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    path = _split_file(tmp_path, {"train": TRAIN, "test": [*TEST, 7]})
    cfg = BenchmarkConfig(
        tasks=[],
        csv=csv,
        targets=["tpsa"],
        task_type="regression",
        methods=["ecfp-rf"],
        seeds=[0],
        progress=False,
        out_dir=str(tmp_path / "bench"),
        split_file=path,
    )
    with pytest.raises(InvalidSplitError, match="row 7 is in 'train' and in 'test'"):
        benchmark(cfg)
    assert not (tmp_path / "bench" / "results.csv").exists()


def test_benchmark_predefined_split_needs_the_csv_task():
    with pytest.raises(ConfigError, match="add --csv FILE"):
        BenchmarkConfig(tasks=["bbbp"], split="column:fold")
    with pytest.raises(ConfigError, match="not as a fine-tuning override"):
        BenchmarkConfig(
            tasks=[], csv="x.csv", task_type="regression", finetune={"split": "column:fold"}
        )


def test_search_trials_use_the_predefined_split(tmp_path, tpsa_table, monkeypatch):
    from molssl.finetune.search import search_finetune

    csv = _csv(tmp_path, tpsa_table)
    seen: list[str] = []
    real = run_module.finetune

    def spy(cfg):
        result = real(cfg)
        seen.append(result.split_sha256)
        return result

    monkeypatch.setattr(run_module, "finetune", spy)
    search_finetune(_config(csv, split="column:fold"), 1, tmp_path / "search")
    assert seen == [_sha([TRAIN, VALID, TEST])]


def test_conformal_calibrates_on_the_given_validation_rows(tmp_path, tpsa_table):
    csv = _csv(tmp_path, tpsa_table)
    result = finetune(_config(csv, split="column:fold", conformal=0.9))
    assert result.conformal["calibration"]["n_calibration"] == [10]


def test_estimator_fit_uses_the_given_split(tpsa_table, monkeypatch):
    import molssl.finetune.estimators as estimators

    seen = {}
    real = estimators.train_model

    def spy(model, graphs, targets, split, *args, **kwargs):
        seen["split"] = split
        return real(model, graphs, targets, split, *args, **kwargs)

    monkeypatch.setattr(estimators, "train_model", spy)
    frame = tpsa_table.iloc[:100]
    est = MolPropertyRegressor(encoder=TINY_ENCODER, epochs=1)
    est.fit(frame["smiles"].tolist(), frame["tpsa"], split=_labels())
    train, valid, test = seen["split"]
    assert train.tolist() == TRAIN and valid.tolist() == VALID and len(test) == 0
    est.fit(frame["smiles"].tolist(), frame["tpsa"], split={"train": TRAIN, "valid": VALID})
    assert seen["split"][0].tolist() == TRAIN and seen["split"][1].tolist() == VALID
    assert est.predict(frame["smiles"].iloc[TEST].tolist()).shape == (20,)


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        (["train"] * 99 + ["validation"], "row 99 has 'validation'"),
        (["train"] * 50, "50 set names for 100 rows"),
        ({"train": [0, 0]}, "row 0 is twice in 'train'"),
        ({"train": [0, 100]}, "train row 100 is past the end"),
    ],
)
def test_estimator_refuses_a_malformed_split(tpsa_table, split, expected):
    frame = tpsa_table.iloc[:100]
    est = MolPropertyRegressor(encoder=TINY_ENCODER, epochs=1)
    with pytest.raises(InvalidSplitError, match=expected):
        est.fit(frame["smiles"].tolist(), frame["tpsa"], split=split)


def test_predict_on_a_test_file_needs_no_split(tmp_path, tpsa_table):
    from molssl.finetune.predictor import predict_file

    csv = _csv(tmp_path, tpsa_table)
    out = tmp_path / "run"
    finetune(_config(csv, split="column:fold", out_dir=str(out), save_model=True))
    test = tpsa_table[["smiles"]].iloc[TEST]
    test.to_csv(tmp_path / "test.csv", index=False)  # no split column, no labels
    summary = predict_file(
        [str(out / "model.pt")], str(tmp_path / "test.csv"), str(tmp_path / "pred.csv")
    )
    assert summary.rows == 20 and summary.failed == 0
    assert np.isfinite(pd.read_csv(tmp_path / "pred.csv")["tpsa"]).all()


def test_benchmark_cli_refuses_a_malformed_split_in_one_line(tmp_path, tpsa_table, capsys):
    csv = _csv(tmp_path, tpsa_table, _BAD_COLUMNS["unknown value"][0](_labels()))
    code = main(
        [
            "benchmark",
            "--csv",
            csv,
            "--targets",
            "tpsa",
            "--task-type",
            "regression",
            "--methods",
            "ecfp-rf",
            "--seeds",
            "0",
            "--split",
            "column:fold",
            "--out",
            str(tmp_path / "bench"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "row 5 has 'validation' (did you mean 'valid'?)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bench" / "results.csv").exists()
