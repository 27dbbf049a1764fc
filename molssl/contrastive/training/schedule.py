"""Learning-rate schedules: MolCLR's (constant warm-up, cosine over the planned epochs) and
``cosine`` (linear warm-up, cosine to the floor at the last step of the run's budget).

MolCLR (Wang et al., Nat. Mach. Intell. 2022) keeps the initial learning rate for
``warmup_epochs`` (10) and then anneals it with a cosine to ``min_lr`` (0) over the remaining
epochs. Here the schedule is evaluated per optimizer *step* (a smooth version of the per-epoch
original), and it is defined by the planned number of epochs: stopping early with ``max_steps``
truncates the curve, it does not compress it.

``cosine`` (Loshchilov & Hutter 2017, with linear warm-up as in Goyal et al. 2017) is fitted to
the budget instead: the number of steps the run will take (``max_steps`` when it stops early,
else ``epochs * steps_per_epoch``). It warms up linearly for ``warmup_epochs`` epochs (at most a
tenth of the budget, so a short run still decays) and reaches ``min_lr`` at the last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

__all__ = [
    "SCHEDULES",
    "CosineSchedule",
    "MolCLRSchedule",
    "build_scheduler",
    "cosine_lr",
    "molclr_lr",
]

SCHEDULES = ("molclr", "cosine")
"""The names ``trainer.schedule`` accepts."""


def molclr_lr(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: int = 10,
    base_lr: float = 5e-4,
    min_lr: float = 0.0,
) -> float:
    """Learning rate used for optimizer step ``step`` (0-based).

    ``lr = base_lr`` while ``step < warmup_epochs * steps_per_epoch``; afterwards
    ``lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * t)) / 2`` with ``t`` going linearly from
    0 at the end of warm-up to 1 at ``epochs * steps_per_epoch`` (clamped to 1 beyond it). When
    ``warmup_epochs >= epochs`` the rate stays constant.

    Args:
        step: Number of optimizer steps already taken (>= 0).
        steps_per_epoch: Optimizer steps per epoch (>= 1).
        epochs: Planned number of epochs (>= 1).
        warmup_epochs: Epochs at constant ``base_lr`` (default 10, >= 0).
        base_lr: Initial learning rate (default 5e-4, MolCLR's ``init_lr``).
        min_lr: Final learning rate (default 0).

    Returns:
        The learning rate as a float.

    Raises:
        ValueError: If an argument is out of range.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if steps_per_epoch < 1 or epochs < 1 or warmup_epochs < 0:
        raise ValueError(
            f"need steps_per_epoch >= 1, epochs >= 1, warmup_epochs >= 0; got "
            f"steps_per_epoch={steps_per_epoch}, epochs={epochs}, warmup_epochs={warmup_epochs}"
        )
    warmup_steps = warmup_epochs * steps_per_epoch
    total_steps = epochs * steps_per_epoch
    if step < warmup_steps or total_steps <= warmup_steps:
        return float(base_lr)
    t = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return float(min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t)))


class _RelativeSchedule:
    """An ``lr_lambda``: the learning rate :meth:`rate` of a step divided by ``base_lr``.

    Subclasses are dataclasses with a ``base_lr`` field; the fields are checked on creation
    (``base_lr > 0``, then ``rate(0)`` raises ``ValueError`` for the others).
    """

    base_lr: float

    def rate(self, step: int) -> float:
        """The learning rate of optimizer step ``step``."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        if self.base_lr <= 0:
            raise ValueError(
                f"base_lr must be > 0 for a multiplicative schedule, got {self.base_lr}"
            )
        self.rate(0)

    def __call__(self, step: int) -> float:
        return self.rate(step) / self.base_lr


@dataclass
class MolCLRSchedule(_RelativeSchedule):
    """Picklable ``lr_lambda`` for :class:`torch.optim.lr_scheduler.LambdaLR`.

    Returns the multiplicative factor ``molclr_lr(step, ...) / base_lr``. Being a callable
    object (not a function), ``LambdaLR.state_dict()`` stores its fields as a plain dict, so the
    scheduler state is loadable with ``torch.load(weights_only=True)`` and resumes exactly.

    Attributes:
        steps_per_epoch: Optimizer steps per epoch.
        epochs: Planned number of epochs.
        warmup_epochs: Epochs at constant rate.
        base_lr: Initial learning rate (> 0).
        min_lr: Final learning rate.
    """

    steps_per_epoch: int
    epochs: int
    warmup_epochs: int = 10
    base_lr: float = 5e-4
    min_lr: float = 0.0

    def rate(self, step: int) -> float:
        """:func:`molclr_lr` of ``step`` with these fields."""
        return molclr_lr(
            step, self.steps_per_epoch, self.epochs, self.warmup_epochs, self.base_lr, self.min_lr
        )


def cosine_lr(
    step: int, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float = 0.0
) -> float:
    """Learning rate of optimizer step ``step`` (0-based) under linear warm-up + cosine decay.

    ``lr = base_lr * (step + 1) / (warmup_steps + 1)`` while ``step < warmup_steps`` (rising to
    ``base_lr`` at step ``warmup_steps``); afterwards
    ``lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * t)) / 2`` with ``t`` going linearly from
    0 at the first step after warm-up to 1 at the last step, ``total_steps - 1`` (and beyond).

    Args:
        step: Optimizer steps already taken (>= 0).
        total_steps: Steps of the run (>= 1).
        warmup_steps: Warm-up steps, ``0 <= warmup_steps < total_steps``.
        base_lr: Peak learning rate.
        min_lr: Learning rate of the last step (the floor).

    Raises:
        ValueError: If an argument is out of range.
    """
    if step < 0 or total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"need step >= 0, total_steps >= 1 and 0 <= warmup_steps < total_steps; got "
            f"step={step}, total_steps={total_steps}, warmup_steps={warmup_steps}"
        )
    if step < warmup_steps:
        return float(base_lr * (step + 1) / (warmup_steps + 1))
    span = total_steps - 1 - warmup_steps
    t = 1.0 if span <= 0 else min(1.0, (step - warmup_steps) / span)
    return float(min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t)))


@dataclass
class CosineSchedule(_RelativeSchedule):
    """Picklable ``lr_lambda`` of :func:`cosine_lr` (plain fields, resumable like MolCLR's).

    Attributes:
        total_steps: Steps of the run (its budget).
        warmup_steps: Linear warm-up steps.
        base_lr: Peak learning rate (> 0).
        min_lr: Learning rate of the last step.
    """

    total_steps: int
    warmup_steps: int
    base_lr: float = 5e-4
    min_lr: float = 0.0

    def rate(self, step: int) -> float:
        """:func:`cosine_lr` of ``step`` with these fields."""
        return cosine_lr(step, self.total_steps, self.warmup_steps, self.base_lr, self.min_lr)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: int = 10,
    min_lr: float = 0.0,
    *,
    kind: str = "molclr",
    max_steps: int | None = None,
) -> LambdaLR:
    """Create a schedule for ``optimizer``; call ``scheduler.step()`` after every step.

    The base rate is read from the optimizer's first parameter group (``initial_lr`` when
    present, else ``lr``).

    Args:
        optimizer: The optimizer whose learning rate is scheduled.
        steps_per_epoch: Optimizer steps per epoch (>= 1).
        epochs: Planned number of epochs (>= 1).
        warmup_epochs: ``molclr``: epochs at constant rate; ``cosine``: epochs of linear
            warm-up, at most a tenth of the budget (default 10).
        min_lr: Final learning rate (default 0).
        kind: One of :data:`SCHEDULES`: ``molclr`` (default; cosine over the planned epochs,
            truncated by ``max_steps``) or ``cosine`` (fitted to the budget).
        max_steps: The run's step limit (None: all epochs); the budget of ``cosine`` is
            ``min(max_steps, epochs * steps_per_epoch)``. Ignored by ``molclr``.

    Returns:
        A ``LambdaLR``; its ``state_dict()`` holds only plain types.

    Raises:
        ValueError: If an argument is out of range or ``kind`` is unknown.
    """
    group = optimizer.param_groups[0]
    base_lr = float(group.get("initial_lr", group["lr"]))
    if kind == "molclr":
        schedule = MolCLRSchedule(steps_per_epoch, epochs, warmup_epochs, base_lr, min_lr)
        return LambdaLR(optimizer, lr_lambda=schedule)
    if kind == "cosine":
        if steps_per_epoch < 1 or epochs < 1 or warmup_epochs < 0:
            raise ValueError(
                f"need steps_per_epoch >= 1, epochs >= 1, warmup_epochs >= 0; got "
                f"steps_per_epoch={steps_per_epoch}, epochs={epochs}, warmup_epochs={warmup_epochs}"
            )
        total = epochs * steps_per_epoch
        if max_steps is not None:
            total = min(total, int(max_steps))
        warmup = min(warmup_epochs * steps_per_epoch, total // 10)
        return LambdaLR(optimizer, lr_lambda=CosineSchedule(total, warmup, base_lr, min_lr))
    raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
