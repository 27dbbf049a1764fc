"""The trainer's live probe hook: when it runs, what it sees, where its scores go."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn

from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.contrastive.training.config import TrainerConfig
from molssl.contrastive.training.trainer import Trainer
from tests.contrastive.test_trainer_loop import _config, _data, _model, toy_objective


class RecordingProbe:
    """Scores the model's output norm; records its mode and draws from the global RNG."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, bool]] = []

    def __call__(self, model: nn.Module) -> dict[str, float]:
        self.calls.append((model.training, torch.is_grad_enabled()))
        torch.rand(100)  # a probe's randomness must not shift the training stream (dropout)
        x = torch.ones(3, 6)
        return {"knn_acc": 0.5, "out_norm": float(model(x).norm())}


def _run(out: Path, probe: RecordingProbe | None, **kwargs) -> dict:
    trainer = Trainer(_model(), toy_objective, _data(34, 1), _config(out, **kwargs), probe=probe)
    trainer.fit()
    return load_checkpoint(out / "last.pt")["state_dict"]


def test_probe_rows_every_n_steps_without_changing_training(tmp_path: Path) -> None:
    probe = RecordingProbe()
    probed = _run(tmp_path / "probed", probe, probe_every=5)
    plain = _run(tmp_path / "plain", None)
    for key, value in plain.items():
        assert torch.equal(value, probed[key]), key
    assert probe.calls == [(False, False)] * 2  # 12 steps: at 5 and 10, eval mode, no grad
    with open(tmp_path / "probed" / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "probe"]
    assert [int(r["step"]) for r in rows] == [5, 10]
    assert all(float(r["knn_acc"]) == 0.5 and float(r["out_norm"]) > 0 for r in rows)


def test_probe_is_off_by_default_and_needs_a_probe(tmp_path: Path) -> None:
    probe = RecordingProbe()
    _run(tmp_path / "default", probe)
    assert probe.calls == []
    _run(tmp_path / "no_probe", None, probe_every=2)  # nothing to run: no error, no rows
    with open(tmp_path / "no_probe" / "metrics.csv", newline="") as handle:
        assert all(r["split"] != "probe" for r in csv.DictReader(handle))


def test_probe_every_zero_turns_the_probe_off(tmp_path: Path) -> None:
    """`--set trainer.probe_every=0` is how a user turns a preset's probe off."""
    assert TrainerConfig(probe_every=0).probe_every is None
    probe = RecordingProbe()
    _run(tmp_path / "zero", probe, probe_every=0)
    assert probe.calls == []
    with pytest.raises(ValueError, match="probe_every.*0 also turns the probe off"):
        TrainerConfig(probe_every=-3)
