"""The MolCLR schedule: constant warm-up, cosine after, per-step, exact resume."""

from __future__ import annotations

import io
import math

import pytest
import torch

from molssl.contrastive.training.schedule import MolCLRSchedule, build_scheduler, molclr_lr

SPE, EPOCHS, WARM, BASE = 4, 20, 10, 5e-4


def test_constant_during_warmup() -> None:
    for step in range(WARM * SPE):
        assert molclr_lr(step, SPE, EPOCHS, WARM, BASE) == BASE


def test_cosine_after_warmup_and_endpoints() -> None:
    start, total = WARM * SPE, EPOCHS * SPE
    assert molclr_lr(start, SPE, EPOCHS, WARM, BASE) == pytest.approx(BASE)
    mid = (start + total) // 2
    assert molclr_lr(mid, SPE, EPOCHS, WARM, BASE) == pytest.approx(BASE / 2)
    for step in range(start, total):
        t = (step - start) / (total - start)
        expected = 0.5 * BASE * (1 + math.cos(math.pi * t))
        assert molclr_lr(step, SPE, EPOCHS, WARM, BASE) == pytest.approx(expected)
    assert molclr_lr(total, SPE, EPOCHS, WARM, BASE) == pytest.approx(0.0, abs=1e-15)
    assert molclr_lr(total + 10, SPE, EPOCHS, WARM, BASE, min_lr=1e-6) == pytest.approx(1e-6)
    lrs = [molclr_lr(s, SPE, EPOCHS, WARM, BASE) for s in range(start, total + 1)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_min_lr_and_no_cosine_when_warmup_covers_everything() -> None:
    assert molclr_lr(EPOCHS * SPE, SPE, EPOCHS, WARM, BASE, min_lr=1e-5) == pytest.approx(1e-5)
    assert molclr_lr(50, SPE, 5, 10, BASE) == BASE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"step": -1},
        {"steps_per_epoch": 0},
        {"epochs": 0},
        {"warmup_epochs": -1},
    ],
)
def test_invalid_arguments(kwargs: dict[str, int]) -> None:
    args = {"step": 0, "steps_per_epoch": SPE, "epochs": EPOCHS, "warmup_epochs": WARM} | kwargs
    with pytest.raises(ValueError):
        molclr_lr(**args)


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=BASE)


def test_lambda_lr_follows_pure_function_and_resumes_exactly() -> None:
    opt = _optimizer()
    sched = build_scheduler(opt, SPE, EPOCHS, WARM)
    seen = []
    for _ in range(EPOCHS * SPE):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [molclr_lr(s, SPE, EPOCHS, WARM, BASE) for s in range(EPOCHS * SPE)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)

    # resume half-way from a weights_only round trip of the scheduler state
    opt_a = _optimizer()
    sched_a = build_scheduler(opt_a, SPE, EPOCHS, WARM)
    for _ in range(45):
        opt_a.step()
        sched_a.step()
    state = {"opt": opt_a.state_dict(), "sched": sched_a.state_dict()}
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    opt_b = _optimizer()
    sched_b = build_scheduler(opt_b, SPE, EPOCHS, WARM)
    opt_b.load_state_dict(loaded["opt"])
    sched_b.load_state_dict(loaded["sched"])
    for _ in range(10):
        opt_a.step()
        sched_a.step()
        opt_b.step()
        sched_b.step()
        assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]
    assert opt_b.param_groups[0]["lr"] == pytest.approx(molclr_lr(55, SPE, EPOCHS, WARM, BASE))


def test_schedule_object_rejects_zero_base_lr() -> None:
    with pytest.raises(ValueError, match="base_lr"):
        MolCLRSchedule(SPE, EPOCHS, WARM, base_lr=0.0)
