"""Bookkeeping of the training loop: position, best metric, history, metric windows."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["LoopState", "MetricWindow"]


@dataclass
class LoopState:
    """Where the loop is; saved in the checkpoint's ``"trainer"`` entry for an exact resume.

    Attributes:
        device: Device of the on-device loss accumulator.
        step: Optimizer steps taken.
        epoch: Current epoch index (= completed epochs).
        batch_in_epoch: Batches of ``epoch`` already trained on.
        best_metric: Best validation loss so far.
        history: Per-epoch summaries.
        last_saved_step: Step of the most recent ``last.pt`` (-1 before the first save).
    """

    device: torch.device
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_metric: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    last_saved_step: int = -1
    _loss_sum: Tensor | None = None
    _loss_n: int = 0

    def add_epoch_loss(self, loss: Tensor) -> None:
        """Accumulate a step's loss on device (no host sync)."""
        loss = loss.detach().float()
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_n += 1

    def epoch_mean_loss(self) -> float:
        """Mean training loss of the current epoch's steps (NaN before the first step)."""
        if self._loss_sum is None or self._loss_n == 0:
            return float("nan")
        return float(self._loss_sum.item()) / self._loss_n

    def reset_epoch_loss(self) -> None:
        """Start a new epoch's loss average."""
        self._loss_sum, self._loss_n = None, 0

    def to_dict(self, steps_per_epoch: int, scaler: Mapping[str, Any]) -> dict[str, Any]:
        """Plain-type snapshot for the checkpoint."""
        return {
            "batch_in_epoch": self.batch_in_epoch,
            "steps_per_epoch": steps_per_epoch,
            "history": [dict(h) for h in self.history],
            "epoch_loss_sum": 0.0 if self._loss_sum is None else float(self._loss_sum.item()),
            "epoch_loss_n": self._loss_n,
            "scaler": dict(scaler),
        }

    def load(self, ckpt: Mapping[str, Any]) -> None:
        """Restore from a checkpoint dict written with :meth:`to_dict`."""
        saved = ckpt["trainer"]
        self.step, self.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        self.best_metric = ckpt["best_metric"]
        self.batch_in_epoch = int(saved["batch_in_epoch"])
        self.history = [dict(h) for h in saved["history"]]
        self._loss_n = int(saved["epoch_loss_n"])
        self._loss_sum = (
            torch.tensor(float(saved["epoch_loss_sum"]), device=self.device)
            if self._loss_n
            else None
        )
        self.last_saved_step = self.step


class MetricWindow:
    """Sample-weighted running sums of the loss and metrics between two log lines.

    Args:
        device: Device of the loss accumulator (kept on device to avoid a sync per step).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        """Empty the window and restart its clock."""
        self.loss = torch.zeros((), dtype=torch.float64, device=self.device)
        self.metrics: dict[str, float] = {}
        self.samples = 0
        self.count = 0
        self.start = time.perf_counter()
        self.excluded = 0.0

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (validation, checkpoint writing) out of :meth:`rate`."""
        self.excluded += seconds

    def rate(self) -> float:
        """Training samples per second since the last reset, excluded time left out."""
        return self.samples / max(time.perf_counter() - self.start - self.excluded, 1e-9)

    def add(self, loss: Tensor, metrics: Mapping[str, float], n: int) -> None:
        """Add one batch of ``n`` samples."""
        self.loss += loss.detach().double() * n
        for key, value in metrics.items():
            self.metrics[key] = self.metrics.get(key, 0.0) + float(value) * n
        self.samples += n
        self.count += 1

    def weighted_sums(self) -> dict[str, float]:
        """``{"n": samples, "loss": sum, **metric sums}`` (keys in a fixed order)."""
        out = {"n": float(self.samples), "loss": float(self.loss.item())}
        out |= {k: self.metrics[k] for k in sorted(self.metrics)}
        return out

    def means(self) -> dict[str, float]:
        """``{"loss": mean, **metric means}`` weighted by samples."""
        n = max(self.samples, 1)
        return {k: v / n for k, v in self.weighted_sums().items() if k != "n"}
