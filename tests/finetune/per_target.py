"""Shared pieces of the one-model-per-target tests (``protocol="molclr"`` run folders)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import molssl.finetune.run as run_module
from molssl.benchmark.runner import BenchmarkConfig
from molssl.finetune import FinetuneConfig

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}
TARGETS = ["tpsa", "logtpsa", "half"]


def write_three_targets(table: pd.DataFrame, path: Path) -> str:
    """A 100-molecule regression CSV with the three :data:`TARGETS`."""
    frame = table[["smiles", "tpsa", "logtpsa"]].iloc[:100].copy()
    frame["half"] = frame["tpsa"] / 2 + frame.index % 7
    frame.to_csv(path, index=False)
    return str(path)


def per_target_config(csv: str, out: Path | None, **kwargs) -> FinetuneConfig:
    """A tiny 2-epoch ``protocol="molclr"`` run of ``csv`` into ``out``."""
    fields = {
        "csv": csv,
        "targets": TARGETS,
        "task_type": "regression",
        "protocol": "molclr",
        "epochs": 2,
        "encoder": TINY_ENCODER,
        "device": "cpu",
        "out_dir": None if out is None else str(out),
    }
    return FinetuneConfig(**{**fields, **kwargs})


def per_target_suite(csv: str, out: Path) -> BenchmarkConfig:
    """One random-init cell of one model per target, its folder kept."""
    return BenchmarkConfig(
        tasks=[],
        csv=csv,
        targets=TARGETS,
        task_type="regression",
        methods=["random-init"],
        seeds=[0],
        out_dir=str(out),
        device="cpu",
        keep_cells=True,
        progress=False,
        finetune={"epochs": 2, "encoder": TINY_ENCODER, "protocol": "molclr"},
    )


class CountingTrainModel:
    """``train_model`` that counts its calls and can stop the run on the Nth (1-based)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.real = run_module.train_model

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_on:
            raise KeyboardInterrupt("the run was interrupted")
        return self.real(*args, **kwargs)
