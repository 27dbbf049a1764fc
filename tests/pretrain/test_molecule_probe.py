"""The live probe of molecular pretraining: task choice and probe rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from _pretrain_helpers import TINY

from molssl.cli import main
from molssl.probe import ProbeConfig, probe_task


def test_auto_task_falls_back_to_tpsa_without_bbbp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "cache"))
    description, smiles, y, task_type = probe_task(ProbeConfig(data_dir=str(tmp_path)))
    assert description.startswith("TPSA") and task_type == "regression" and len(y) == 4999


def test_auto_task_is_bbbp_when_found(moleculenet_dir: Path, monkeypatch) -> None:
    """BBBP from the shared data folder (``../shared/data``, as the other tests find it)."""
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    description, smiles, y, task_type = probe_task(ProbeConfig(data_dir=str(moleculenet_dir)))
    assert description.startswith("BBBP") and task_type == "classification"
    assert set(y.tolist()) == {0.0, 1.0} and len(smiles) == len(y)


def test_pretrain_logs_probe_rows(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "pretrain",
        "--data",
        str(store_dir),
        "--out",
        str(out),
        "--batch-size",
        "32",
        "--max-steps",
        "4",
        "--epochs",
        "1",
        "--set",
        "trainer.probe_every=2",
        "--set",
        "probe.task=tpsa",
        "--set",
        "probe.limit=120",
        "--set",
        "probe.linear=true",
    ]
    assert main([*argv, *TINY]) == 0
    with open(out / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "probe"]
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row in rows:
        assert float(row["knn_rmse"]) > 0 and float(row["ridge_rmse"]) > 0
        assert math.isfinite(float(row["knn_r2"]))
