"""The live kNN probe of image pretraining and the embedded default run."""

from __future__ import annotations

import csv
from pathlib import Path

from imagessl.cli import main
from imagessl.config import ImagePretrainConfig, default_config
from imagessl.methods import METHODS


def test_probe_rows_in_metrics_csv(tmp_path: Path, tiny_args: list[str]) -> None:
    out = tmp_path / "run"
    argv = [
        "pretrain",
        "--method",
        "rotation",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--set",
        "data.limit=128",
        "--set",
        "trainer.probe_every=2",
        "--set",
        "probe.train_limit=200",
        "--set",
        "probe.test_limit=100",
        "--set",
        "probe.linear=true",
    ]
    assert main(argv + tiny_args) == 0
    with open(out / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "probe"]
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row in rows:
        assert 0.0 <= float(row["knn_acc"]) <= 1.0 and 0.0 <= float(row["linear_acc"]) <= 1.0


def test_embedded_default_is_a_small_quick_run_with_a_probe() -> None:
    for method in METHODS:
        cfg = default_config(method)
        assert cfg.method == method and cfg.data.path == "digits"
        assert cfg.encoder.name == "convnet" and cfg.encoder.width <= 16
        assert cfg.trainer.probe_every and cfg.trainer.epochs <= 20
    assert ImagePretrainConfig().trainer.batch_size == 128
