"""The generic Trainer on a toy contrastive problem: resume, best checkpoint, signals, logs."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.utils.data import TensorDataset

from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.contrastive.training.data import EpochBatchSampler
from molssl.contrastive.training.signals import GracefulStop
from molssl.contrastive.training.trainer import Trainer, TrainerConfig

DIM = 6


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4))


def _data(n: int, seed: int) -> TensorDataset:
    return TensorDataset(torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed)))


def toy_objective(model: nn.Module, batch, generator: torch.Generator):
    """Two noisy views (noise from ``generator``) contrasted with a small NT-Xent."""
    (x,) = batch
    noise = torch.randn((2, *x.shape), generator=generator, device=generator.device)
    z = F.normalize(model(torch.cat([x + 0.3 * noise[0], x + 0.3 * noise[1]])), dim=1)
    n = x.shape[0]
    sim = z @ z.T / 0.5
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    loss = F.cross_entropy(sim, target)
    return loss, {"pos_sim": float((z[:n] * z[n:]).sum(1).mean().detach())}


def _config(out_dir: Path, **kwargs) -> TrainerConfig:
    base = {
        "epochs": 3,
        "lr": 1e-2,
        "warmup_epochs": 1,
        "batch_size": 8,
        "device": "cpu",
        "log_every": 2,
        "seed": 5,
        "out_dir": str(out_dir),
        "progress": False,
    }
    return TrainerConfig(**(base | kwargs))


def _fit(out_dir: Path, n_train: int, **kwargs):
    model = _model()
    trainer = Trainer(
        model,
        toy_objective,
        _data(n_train, 1),
        _config(out_dir, **kwargs),
        val_data=_data(12, 2),
        metadata={"featurizer": {"name": "toy"}},
    )
    return model, trainer.fit()


@pytest.mark.parametrize(
    ("n_train", "first_stop"),
    [(34, 3), (24, 3)],  # 4 steps/epoch: stop mid-epoch; 3 steps/epoch: stop at an epoch end
    ids=["mid_epoch", "epoch_boundary"],
)
def test_resume_equals_uninterrupted_run(tmp_path: Path, n_train: int, first_stop: int) -> None:
    ref_model, ref = _fit(tmp_path / "ref", n_train, max_steps=6)
    _, part = _fit(tmp_path / "resumed", n_train, max_steps=first_stop)
    assert part.step == first_stop
    model, res = _fit(tmp_path / "resumed", n_train, max_steps=6, resume=True)
    assert ref.step == res.step == 6
    for (name, a), b in zip(
        ref_model.state_dict().items(), model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=name)
    a, b = load_checkpoint(ref.last_checkpoint), load_checkpoint(res.last_checkpoint)
    torch.testing.assert_close(a["optimizer"]["state"], b["optimizer"]["state"], atol=1e-5, rtol=0)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 6
    assert [h["val_loss"] for h in ref.history] == pytest.approx(
        [h["val_loss"] for h in res.history]
    )
    rows = list(csv.DictReader((tmp_path / "resumed" / "metrics.csv").open()))
    train_steps = [int(r["step"]) for r in rows if r["split"] == "train"]
    assert train_steps == sorted(train_steps) and train_steps[-1] == 6


def test_max_steps_does_not_change_the_schedule(tmp_path: Path) -> None:
    _, res = _fit(tmp_path, 34, max_steps=5, epochs=10, warmup_epochs=1)
    ckpt = load_checkpoint(res.last_checkpoint)
    expected_factor = 0.5 * (1 + torch.cos(torch.tensor(torch.pi * 1 / 36)).item())
    assert ckpt["scheduler"]["_last_lr"][0] == pytest.approx(1e-2 * expected_factor)
    assert res.epoch == 1 and not res.interrupted and res.exit_code == 0


class _ScriptedValObjective:
    """Training uses the toy loss; validation returns scripted losses, one per validation."""

    def __init__(self, val_losses: list[float]) -> None:
        self.val_losses = list(val_losses)
        self.calls = 0

    def __call__(self, model, batch, generator):
        loss, metrics = toy_objective(model, batch, generator)
        if model.training:
            return loss, metrics
        self.calls += 1
        return torch.tensor(self.val_losses[self.calls - 1]), metrics


def test_best_checkpoint_tracks_lowest_validation_loss(tmp_path: Path) -> None:
    objective = _ScriptedValObjective([3.0, 1.0, 2.0, 1.5])
    cfg = _config(tmp_path, epochs=4, batch_size=12)  # 24 samples: 2 steps per epoch
    trainer = Trainer(_model(), objective, _data(24, 1), cfg, val_data=_data(12, 2))
    res = trainer.fit()
    assert [h["val_loss"] for h in res.history] == [3.0, 1.0, 2.0, 1.5]
    assert res.best_metric == 1.0
    best = load_checkpoint(res.best_checkpoint)
    assert best["step"] == 4 and best["epoch"] == 2 and best["best_metric"] == 1.0
    last = load_checkpoint(res.last_checkpoint)
    assert last["step"] == 8 and last["best_metric"] == 1.0


def test_sigint_finishes_step_writes_checkpoint_and_restores_handlers(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)

    def interrupt(trainer: Trainer, step: int) -> None:
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    cfg = _config(tmp_path, max_steps=50, epochs=20)
    trainer = Trainer(_model(), toy_objective, _data(34, 1), cfg, callbacks=[interrupt])
    res = trainer.fit()
    assert res.interrupted and res.step == 2
    assert res.stop_signal == signal.SIGINT and res.exit_code == 130
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2
    assert signal.getsignal(signal.SIGINT) is before

    stop = GracefulStop()
    stop.handle(signal.SIGTERM, None)
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):  # a second signal aborts at once
        stop.handle(signal.SIGTERM, None)


def test_run_files_and_refusal_to_overwrite(tmp_path: Path) -> None:
    _, res = _fit(tmp_path, 24, max_steps=4, progress=True, tensorboard=True)
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert cfg["trainer"]["max_steps"] == 4 and cfg["trainer"]["out_dir"] == str(tmp_path)
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert {"torch", "python", "numpy", "molssl"} <= set(info["versions"])
    assert "git_sha" in info and info["world_size"] == 1
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert {r["split"] for r in rows} == {"train", "val"}
    assert {"lr", "loss", "samples_per_s", "pos_sim"} <= set(rows[0])
    ckpt = load_checkpoint(res.last_checkpoint)
    assert ckpt["featurizer"] == {"name": "toy"}
    assert ckpt["config"]["trainer"]["seed"] == 5
    with pytest.raises(FileExistsError, match="resume=True"):
        _fit(tmp_path, 24, max_steps=4)
    with pytest.raises(ValueError, match="steps per epoch"):
        _fit(tmp_path, 24, max_steps=8, batch_size=4, resume=True)


def test_invalid_config_values() -> None:
    with pytest.raises(ValueError, match="epochs"):
        TrainerConfig(epochs=0)
    with pytest.raises(ValueError, match="device"):
        TrainerConfig(device="tpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grad_clip"):
        TrainerConfig(grad_clip=0.0)


def test_sampler_shards_cover_the_single_process_batches() -> None:
    single = EpochBatchSampler(30, 6, seed=1)
    shards = [EpochBatchSampler(30, 3, seed=1, rank=r, world_size=2) for r in range(2)]
    for s in (single, *shards):
        s.set_epoch(4)
    per_rank = [list(s) for s in shards]
    assert len(list(single)) == 5 == len(per_rank[0])
    for k, batch in enumerate(single):
        assert per_rank[0][k] + per_rank[1][k] == batch
    single.set_epoch(4, start_batch=3)
    fresh = EpochBatchSampler(30, 6, seed=1)
    fresh.set_epoch(4)
    assert list(single) == list(fresh)[3:]
    fresh.set_epoch(5)
    assert list(fresh) != list(single)
    padded = EpochBatchSampler(7, 2, seed=0, rank=1, world_size=2, drop_last=False)
    assert [len(b) for b in padded] == [2, 2] and padded.global_batch_len(1) == 4
    with pytest.raises(ValueError, match="smaller than one global batch"):
        EpochBatchSampler(5, 4, seed=0, world_size=2)


def test_worker_processes_do_not_change_the_result(tmp_path: Path) -> None:
    """Data order comes from the sampler, not the workers; also covers drop_last=False/clip."""
    kwargs = {"max_steps": 5, "drop_last": False, "grad_clip": 0.5}
    model_a, res_a = _fit(tmp_path / "a", 21, num_workers=0, **kwargs)
    model_b, res_b = _fit(tmp_path / "b", 21, num_workers=1, **kwargs)
    assert res_a.step == res_b.step == 5 and res_a.epoch == 1  # 3 batches: 8, 8, 5
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_metric_window_rate_leaves_out_excluded_time(monkeypatch):
    """samples_per_s counts training time only: validation/checkpoint time is excluded."""
    from types import SimpleNamespace

    from molssl.contrastive.training import state as trainer_state

    clock = iter([10.0, 14.0])  # a fake clock for trainer_state only, not the time module
    monkeypatch.setattr(trainer_state, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    window = trainer_state.MetricWindow(torch.device("cpu"))  # start = 10.0
    window.add(torch.tensor(1.0), {}, 300)
    window.exclude(1.0)  # e.g. an epoch-end validation
    assert window.rate() == pytest.approx(300 / 3.0)  # 14 - 10 - 1 seconds of training
