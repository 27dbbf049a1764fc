"""The benchmark runner: all outputs, resumable ledger, failing cells, CSV tasks, statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from molssl.benchmark.baselines import ecfp_rf
from molssl.benchmark.ledger import COLUMNS, append_row, read_ledger
from molssl.benchmark.runner import BenchmarkConfig, benchmark, parse_method
from molssl.benchmark.stats import paired_tests, summarize
from molssl.contrastive.config import ConfigError
from molssl.featurize import MolGraphFeaturizer
from molssl.finetune.tasks import TaskSource, prepare_task, task_split

TINY = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _suite(tmp_path, data_dir, **kwargs) -> BenchmarkConfig:
    options = {
        "tasks": ["bbbp", "esol"],
        "methods": ["random-init", "ecfp-rf"],
        "seeds": [0, 1],
        "out_dir": str(tmp_path / "bench"),
        "data_dir": str(data_dir),
        "device": "cpu",
        "finetune": {"epochs": 2, "encoder": TINY},
        "rf_estimators": 10,
        "progress": False,
        **kwargs,
    }
    return BenchmarkConfig(**options)


def test_benchmark_two_tasks_all_outputs_then_resume(tmp_path, tiny_data_dir):
    cfg = _suite(tmp_path, tiny_data_dir)
    result = benchmark(cfg)
    assert (result.ran, result.skipped, result.failed) == (8, 0, 0)
    ledger = read_ledger(result.results_csv)
    assert list(ledger.columns) == list(COLUMNS) and len(ledger) == 8
    assert set(ledger["metric"]) == {"roc_auc", "rmse"} and (ledger["status"] == "ok").all()
    assert ledger["value"].notna().all() and set(ledger["split"]) == {"scaffold"}
    assert {"torch=", "sklearn="} <= {
        p.split("=")[0] + "=" for p in ledger["versions"][0].split(";")
    }
    summary = result.summary_md.read_text()
    for text in ("BBBP", "ESOL", "random-init", "ecfp-rf", "Per-method averages", "Paired"):
        assert text in summary
    assert result.summary_png is not None and result.summary_png.read_bytes()[:4] == b"\x89PNG"

    again = benchmark(cfg)
    assert (again.ran, again.skipped, again.failed) == (0, 8, 0)
    assert len(read_ledger(result.results_csv)) == 8

    more = benchmark(_suite(tmp_path, tiny_data_dir, seeds=[0, 1, 2], methods=["ecfp-rf"]))
    assert (more.ran, more.skipped) == (2, 4)  # only the new seed runs


def test_failing_cell_recorded_and_suite_continues(tmp_path, tiny_data_dir, monkeypatch):
    from molssl.benchmark import runner

    def broken(method, task, seed, cfg):
        raise RuntimeError("this cell cannot train")

    monkeypatch.setitem(runner.METHODS, "ecfp-mlp", broken)
    cfg = _suite(
        tmp_path, tiny_data_dir, tasks=["bbbp"], seeds=[0], methods=["broken=ecfp-mlp", "ecfp-rf"]
    )
    result = benchmark(cfg)
    assert (result.ran, result.failed) == (1, 1)
    ledger = read_ledger(result.results_csv)
    failed = ledger[ledger["method"] == "broken"].iloc[0]
    assert failed["status"] == "failed" and "this cell cannot train" in failed["error"]
    assert "Failed cells" in result.summary_md.read_text()
    assert benchmark(cfg).failed == 1  # failed cells are retried, not skipped


def test_missing_checkpoint_is_refused_before_any_cell(tmp_path, tiny_data_dir):
    cfg = _suite(
        tmp_path,
        tiny_data_dir,
        tasks=["bbbp"],
        seeds=[0],
        methods=["broken=ckpt:/no/such/file.pt", "ecfp-rf"],
    )
    with pytest.raises(FileNotFoundError, match="/no/such/file.pt"):
        benchmark(cfg)
    assert not (tmp_path / "bench" / "results.csv").exists()
    assert not list(tmp_path.rglob("results.csv"))


def test_custom_csv_task_through_cli(tmp_path, tpsa_table, capsys):
    from molssl.cli import main

    csv = tmp_path / "my_assay.csv"
    tpsa_table[["smiles", "polar"]].iloc[:120].to_csv(csv, index=False)
    out = tmp_path / "bench"
    args = [
        "benchmark",
        "--csv",
        str(csv),
        "--targets",
        "polar",
        "--task-type",
        "classification",
        "--methods",
        "random-init,ecfp-rf",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--set",
        "epochs=1",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main(args) == 0
    ledger = read_ledger(out / "results.csv")
    assert set(ledger["task"]) == {"my_assay"} and (ledger["status"] == "ok").all()
    assert "summary.md" in capsys.readouterr().out


def test_bad_csv_rejected_before_any_cell(tmp_path, capsys):
    from molssl.cli import main

    csv = tmp_path / "bad.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN"], "y": ["1", "yes"]}).to_csv(csv, index=False)
    args = [
        "benchmark",
        "--csv",
        str(csv),
        "--targets",
        "y",
        "--task-type",
        "classification",
        "--out",
        str(tmp_path / "b"),
        "--seeds",
        "0",
    ]
    assert main(args) == 2
    assert "not a number" in capsys.readouterr().err
    assert not (tmp_path / "b" / "results.csv").exists()


def test_ecfp_rf_masks_missing_labels(tmp_path, tpsa_table):
    frame = tpsa_table[["smiles", "polar"]].iloc[:150].copy()
    frame["other"] = 1 - frame["polar"]
    frame.loc[::3, "other"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    task = prepare_task(
        TaskSource(csv=str(tmp_path / "t.csv"), task_type="classification"), MolGraphFeaturizer()
    )
    result = ecfp_rf(task, task_split(task), seed=0, n_estimators=10)
    assert result.metric == "roc_auc" and 0.0 <= result.value <= 1.0
    assert set(result.per_target) == {"polar", "other"}
    again = ecfp_rf(task, task_split(task), seed=0, n_estimators=10)
    assert again.value == result.value  # seeded


def test_paired_t_test_matches_scipy_and_summary_stats():
    from scipy.stats import ttest_rel

    a, b = [0.70, 0.72, 0.75], [0.65, 0.70, 0.69]
    rows = [
        {"task": "BBBP", "method": m, "seed": s, "metric": "roc_auc", "value": v, "status": "ok"}
        for m, vals in (("a", a), ("b", b))
        for s, v in enumerate(vals)
    ]
    ledger = pd.DataFrame(rows)
    tests = paired_tests(ledger)
    expected = ttest_rel(a, b)
    assert len(tests) == 1 and tests["p"][0] == pytest.approx(expected.pvalue)
    assert tests["t"][0] == pytest.approx(expected.statistic) and bool(tests["a_better"][0])
    summary = summarize(ledger).set_index("method")
    assert summary.loc["a", "mean"] == pytest.approx(np.mean(a))
    assert summary.loc["a", "std"] == pytest.approx(np.std(a, ddof=1))


def test_ledger_append_is_atomic_and_strict(tmp_path):
    path = tmp_path / "results.csv"
    append_row(
        path,
        {
            "task": "BBBP",
            "method": "m",
            "seed": 0,
            "value": 0.5,
            "status": "ok",
            "per_target": json.dumps({"p_np": 0.5}),
        },
    )
    with pytest.raises(KeyError, match="unknown results.csv column"):
        append_row(path, {"bogus": 1})
    ledger = read_ledger(path)
    assert len(ledger) == 1 and math.isclose(ledger["value"][0], 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.csv.lock"]


def _append_many(path: str, worker: int, count: int) -> None:
    for i in range(count):
        append_row(
            path, {"task": "T", "method": f"w{worker}", "seed": i, "value": i, "status": "ok"}
        )


def test_ledger_concurrent_appends_lose_nothing(tmp_path):
    """Processes sharing one results.csv (say one per seed) must not drop each other's rows."""
    import multiprocessing as mp

    path = str(tmp_path / "results.csv")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w, 15)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    ledger = read_ledger(path)
    assert len(ledger) == 45
    assert sorted(ledger.groupby("method")["seed"].apply(sorted).tolist()) == [list(range(15))] * 3


@pytest.mark.parametrize("text", ["nope", "ckpt", "molclr-gcn:"])
def test_unknown_or_incomplete_methods_rejected(text):
    with pytest.raises(ConfigError):
        parse_method(text)


def test_method_labels():
    method = parse_method("ours=ckpt:runs/x/best.pt")
    assert (method.label, method.kind, method.arg) == ("ours", "ckpt", "runs/x/best.pt")
    assert parse_method("molclr-gcn:a/b.pth").label == "molclr-gcn:a/b.pth"


def test_methods_are_the_loader_registry_plus_the_baselines():
    from molssl.benchmark.methods import BASELINES, METHOD_KINDS, finetune_config
    from molssl.models.pretrained import LOADERS

    assert set(METHOD_KINDS) == {*LOADERS, *BASELINES} - {"random"} | {"random-init"}
    cfg = BenchmarkConfig(tasks=["bbbp"])
    for kind in LOADERS:
        text = f"{kind}:x.pth" if kind != "random" else kind
        method = parse_method(text)
        init = finetune_config(method, "bbbp", 0, cfg).init
        assert init == ("random" if kind == "random" else text)
    for kind in BASELINES:
        assert parse_method(kind).kind == kind


def test_random_and_random_init_are_one_method_with_one_label():
    assert parse_method("random") == parse_method("random-init")
    assert parse_method("random").label == "random-init"
    assert parse_method("random:gcn").label == "random-init:gcn"
    assert parse_method("base=random").label == "base"


def test_an_unknown_method_is_one_line_with_a_suggestion(tmp_path, capsys):
    from molssl.cli import main

    args = [
        "benchmark",
        "--tasks",
        "bbbp",
        "--methods",
        "hu2020-gcm:x.pth",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean 'hu2020-gcn'?" in err


def test_the_methods_help_names_every_kind():
    from molssl.benchmark.methods import METHOD_KINDS
    from molssl.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["benchmark"]
    (methods,) = [a for a in sub._actions if a.dest == "methods"]
    assert all(kind in methods.help for kind in METHOD_KINDS)


def test_shared_task_averages_and_wall_times_of_an_incomplete_ledger():
    from molssl.benchmark.report import format_summary
    from molssl.benchmark.stats import method_averages, wall_times

    rows = [("A", "m1", 0.9, 10.0), ("A", "m2", 0.7, 30.0), ("B", "m1", 0.5, 20.0)]
    ledger = pd.DataFrame(
        [
            {c: None for c in COLUMNS}
            | {
                "task": t,
                "method": m,
                "seed": 0,
                "metric": "roc_auc",
                "value": v,
                "seconds": s,
                "status": "ok",
            }
            for t, m, v, s in rows
        ]
    )
    from molssl.benchmark.stats import summarize

    averages = method_averages(summarize(ledger)).set_index("method")
    assert averages.loc["m1", "mean"] == pytest.approx(0.7) and averages.loc["m1", "tasks"] == 2
    assert averages.loc["m1", "shared_mean"] == pytest.approx(0.9)  # only A has both methods
    assert averages.loc["m2", "shared_tasks"] == 1
    times = wall_times(ledger)
    assert times[["task", "method", "cells", "seconds"]].values.tolist() == [
        ["A", "m1", 1, 10.0],
        ["A", "m2", 1, 30.0],
        ["B", "m1", 1, 20.0],
    ]
    text = format_summary(ledger)
    assert "## Wall time" in text and "| total (min) | 0.5 | 0.5 |" in text
