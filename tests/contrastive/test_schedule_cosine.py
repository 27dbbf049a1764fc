"""The ``cosine`` schedule: linear warm-up, then cosine to the floor at the last budgeted step."""

from __future__ import annotations

import math

import pytest
import torch

from molssl.contrastive.training.config import TrainerConfig
from molssl.contrastive.training.schedule import build_scheduler, cosine_lr


def _lrs(steps: int, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = build_scheduler(optimizer, **kwargs)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])  # the rate the step uses
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("max_steps", [None, 37, 1000])
def test_cosine_reaches_floor_at_last_step_and_decays_monotonically(max_steps: int | None) -> None:
    spe, epochs = 20, 10
    budget = min(spe * epochs, max_steps or spe * epochs)
    kwargs = dict(steps_per_epoch=spe, epochs=epochs, warmup_epochs=1, min_lr=1e-5)
    lrs = _lrs(budget, kind="cosine", max_steps=max_steps, **kwargs)
    warmup = min(spe, budget // 10)
    assert lrs[-1] == pytest.approx(1e-5)  # the floor at the last step of the budget
    assert max(lrs) == pytest.approx(1e-3) and lrs[warmup] == pytest.approx(1e-3)
    after = lrs[warmup:]
    assert all(b < a for a, b in zip(after, after[1:], strict=False))
    assert all(b > a for a, b in zip(lrs[:warmup], lrs[1 : warmup + 1], strict=False))


def test_molclr_schedule_is_unchanged_and_ignores_max_steps() -> None:
    kwargs = dict(steps_per_epoch=10, epochs=10, warmup_epochs=2, min_lr=0.0)
    molclr = _lrs(40, kind="molclr", max_steps=40, **kwargs)
    assert molclr[:20] == [1e-3] * 20 and molclr[-1] > 5e-4  # cut short: far from the floor
    assert molclr == _lrs(40, **kwargs)


def test_cosine_lr_formula_and_checks() -> None:
    assert cosine_lr(0, 11, 0, 1.0) == 1.0 and cosine_lr(10, 11, 0, 1.0) == 0.0
    assert cosine_lr(5, 11, 0, 1.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cosine_lr(1, 10, 4, 1.0) == pytest.approx(0.4)
    assert cosine_lr(0, 1, 0, 1.0, 0.1) == pytest.approx(0.1)  # a one-step run sits at the floor
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        cosine_lr(0, 5, 5, 1.0)


def test_cosine_state_resumes_exactly() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(params, lr=1e-3)
    sched = build_scheduler(opt, 10, 5, 1, kind="cosine")
    for _ in range(17):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched2 = build_scheduler(opt2, 10, 5, 1, kind="cosine")
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == sched.get_last_lr()
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainerConfig(schedule="linear")
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        _lrs(1, steps_per_epoch=1, epochs=1, kind="step")
