"""Momentum target networks: schedule, EMA update, trainer hook, exact resume with a queue."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from molssl.contrastive import (
    FeatureQueue,
    MoCoLoss,
    MomentumModel,
    MomentumNetwork,
    NegativeCosineLoss,
    PredictionHead,
    cosine_momentum,
    ema_update_,
)
from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.contrastive.training.trainer import Trainer, TrainerConfig

DIM = 6


def test_cosine_momentum_schedule() -> None:
    total = 10
    for step in range(total + 3):
        k = min(step, total)
        expected = 1 - (1 - 0.9) * (math.cos(math.pi * k / total) + 1) / 2
        assert cosine_momentum(step, total, 0.9, 1.0) == pytest.approx(expected)
    assert cosine_momentum(0, total, 0.9) == pytest.approx(0.9)
    assert cosine_momentum(total, total, 0.9) == 1.0
    assert cosine_momentum(4, total, 0.99, 0.99) == pytest.approx(0.99)  # constant (MoCo)
    with pytest.raises(ValueError, match="total_steps"):
        cosine_momentum(0, 0)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        cosine_momentum(0, 5, base=1.5)


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(DIM, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def test_ema_update_matches_formula_and_leaves_buffers() -> None:
    torch.manual_seed(0)
    online = _net()
    target = MomentumNetwork(online, base_momentum=0.8, final_momentum=1.0)
    assert all(not p.requires_grad for p in target.parameters())
    before = {k: v.clone() for k, v in target.network.state_dict().items()}
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
        online[1].running_mean.add_(5.0)
    tau = target.update(online, step=3, total_steps=10)
    assert tau == pytest.approx(cosine_momentum(3, 10, 0.8, 1.0))
    online_state = online.state_dict()
    for name, param in target.network.named_parameters():
        expected = tau * before[name] + (1 - tau) * online_state[name]
        torch.testing.assert_close(param, expected)
    torch.testing.assert_close(target.network[1].running_mean, before["1.running_mean"])
    x = torch.randn(5, DIM, requires_grad=True)
    assert not target(x).requires_grad
    ema_update_(target.network, online, 0.0)
    for a, b in zip(target.network.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="different parameters"):
        ema_update_(target.network, nn.Linear(2, 2), 0.5)


class ToyMomentumModel(MomentumModel):
    """Online net + BYOL predictor + EMA target + MoCo queue with an extra, on vectors."""

    def __init__(self) -> None:
        super().__init__(
            _net(),
            predictor=PredictionHead(4, 8, 4),
            queue=FeatureQueue(size=10, dim=4, extras={"tag": ((), torch.long)}),
            base_momentum=0.9,
        )
        self.calls: list[tuple[int, int]] = []

    def after_optimizer_step(self, step: int, total_steps: int) -> dict[str, float]:
        self.calls.append((step, total_steps))
        return super().after_optimizer_step(step, total_steps)


def test_momentum_model_outputs() -> None:
    torch.manual_seed(0)
    model = ToyMomentumModel()
    x = torch.randn(5, DIM)
    out = model(x)
    torch.testing.assert_close(out.online, model.online(x))
    torch.testing.assert_close(out.prediction, model.predictor(out.online))
    torch.testing.assert_close(out.target, out.online)  # the target starts as a copy
    assert out.prediction.requires_grad and not out.target.requires_grad
    assert model.after_optimizer_step(0, 4) == {"momentum": pytest.approx(0.9)}


def toy_momentum_objective(model: nn.Module, batch, generator: torch.Generator):
    (x,) = batch
    noise = torch.randn((2, *x.shape), generator=generator, device=generator.device)
    n = x.shape[0]
    z, p, k = model(torch.cat([x + 0.3 * noise[0], x + 0.3 * noise[1]]))
    core = model.module if hasattr(model, "module") else model
    byol = NegativeCosineLoss()(p[:n], k[n:]) + NegativeCosineLoss()(p[n:], k[:n])
    moco = MoCoLoss(0.5)(z[:n], k[n:], core.queue.features.clone())
    if model.training:
        core.queue.enqueue(k[n:], tag=(x[:, 0] * 1000).long())  # data-derived tag
    return byol + moco, {"byol": float(byol.detach())}


def _fit(out_dir: Path, **kwargs) -> tuple[ToyMomentumModel, object]:
    torch.manual_seed(0)
    model = ToyMomentumModel()
    data = TensorDataset(torch.randn(30, DIM, generator=torch.Generator().manual_seed(1)))
    cfg = {
        "epochs": 3,
        "lr": 1e-2,
        "warmup_epochs": 1,
        "batch_size": 8,
        "device": "cpu",
        "log_every": 1,
        "seed": 3,
        "out_dir": str(out_dir),
        "progress": False,
    }
    trainer = Trainer(model, toy_momentum_objective, data, TrainerConfig(**(cfg | kwargs)))
    return model, trainer.fit()


def test_trainer_calls_hook_and_logs_momentum(tmp_path: Path) -> None:
    model, res = _fit(tmp_path, max_steps=4)
    assert model.calls == [(1, 9), (2, 9), (3, 9), (4, 9)]  # 30 // 8 = 3 steps x 3 epochs
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [float(r["momentum"]) for r in rows] == pytest.approx(
        [cosine_momentum(s, 9, 0.9) for s in (1, 2, 3, 4)]
    )
    assert len(model.queue) == 10
    online = dict(model.online.named_parameters())
    assert any(
        not torch.allclose(p, online[name]) for name, p in model.target.network.named_parameters()
    )


def test_resume_restores_target_network_and_queue(tmp_path: Path) -> None:
    ref_model, ref = _fit(tmp_path / "ref", max_steps=7)
    _fit(tmp_path / "resumed", max_steps=4)  # stops mid-epoch
    model, res = _fit(tmp_path / "resumed", max_steps=7, resume=True)
    assert ref.step == res.step == 7
    ref_state, state = ref_model.state_dict(), model.state_dict()
    assert ref_state.keys() == state.keys()
    assert any(k.startswith("target.network.") for k in state)
    assert {"queue.queue", "queue.ptr", "queue.filled", "queue.extra_tag"} <= set(state)
    for name in ref_state:
        torch.testing.assert_close(ref_state[name], state[name], atol=1e-6, rtol=0, msg=name)
    saved = load_checkpoint(res.last_checkpoint)["state_dict"]
    torch.testing.assert_close(saved["queue.queue"], ref_state["queue.queue"], atol=1e-6, rtol=0)
    assert torch.equal(saved["target.network.0.weight"], state["target.network.0.weight"])
    assert F.mse_loss(state["target.network.0.weight"], state["online.0.weight"]) > 0
