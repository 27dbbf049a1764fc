"""The fine-tuning loop: MolCLR's recipe, best-validation weights kept.

Adam with one learning rate for the encoder and another for the head; masked multi-task BCE or
MSE/L1 loss on standardised regression targets; the weights of the best validation epoch are
kept (Wang et al., 2022, ``finetune.py``).
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch_geometric.data import Data

from molssl.finetune.model import FinetuneModel, collate
from molssl.finetune.prediction import predict
from molssl.metrics import Metric, SkippedTargetWarning, masked_multitask_loss

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of :func:`train_model` (defaults: MolCLR fine-tuning)."""

    epochs: int = 100
    batch_size: int = 32
    encoder_lr: float = 1e-4
    head_lr: float = 5e-4
    weight_decay: float = 1e-6
    patience: int | None = None
    regression_loss: str = "mse"
    eval_batch_size: int = 256
    progress: bool = False


@dataclass
class TrainOutcome:
    """What :func:`train_model` returns: the model holds the best-validation weights."""

    model: FinetuneModel
    epochs: int
    best_epoch: int
    best_valid: float
    history: list[dict[str, float]] = field(default_factory=list)


def evaluate(
    metric: Metric, targets: np.ndarray, pred: np.ndarray, names: Sequence[str], quiet: bool
) -> tuple[float, list[float]]:
    """``metric`` with NaN when no target can be scored; ``quiet`` hides skip warnings."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", SkippedTargetWarning)
        try:
            return metric(targets, pred, list(names))
        except ValueError as err:
            if not quiet:
                logger.warning("%s", err)
            return math.nan, [math.nan] * targets.shape[1]


def train_model(
    model: FinetuneModel,
    graphs: Sequence[Data],
    targets: np.ndarray,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    metric: Metric,
    settings: TrainSettings,
    generator: torch.Generator,
    device: torch.device,
    target_names: Sequence[str] = (),
) -> TrainOutcome:
    """Fine-tune ``model`` and keep the weights of its best validation epoch.

    Args:
        model: Encoder + head (its scaler, if any, is fit here on the training targets).
        graphs: All molecules of the task.
        targets: ``float[n, T]`` labels, NaN where missing.
        split: ``(train_idx, valid_idx, test_idx)``; test is not used here.
        metric: Validation metric (its direction selects the best epoch).
        settings: Optimisation settings.
        generator: Seeded generator of the batch order.
        device: Where to train.
        target_names: Names for warnings.

    Returns:
        :class:`TrainOutcome`; ``model`` is left on ``device`` with the best weights loaded.
    """
    train_idx, valid_idx, _ = split
    names = list(target_names) or [str(t) for t in range(targets.shape[1])]
    if model.scaler is not None:
        model.scaler.fit(targets[train_idx])
    model.to(device)
    optimizer = torch.optim.Adam(
        [
            {"params": model.encoder.parameters(), "lr": settings.encoder_lr},
            {"params": model.head.parameters(), "lr": settings.head_lr},
        ],
        weight_decay=settings.weight_decay,
        foreach=True,
    )
    y_all = torch.as_tensor(targets, dtype=torch.float32)
    best_state, best_valid, best_epoch, stale = None, math.nan, 0, 0
    history: list[dict[str, float]] = []
    from tqdm.auto import tqdm

    bar = tqdm(range(1, settings.epochs + 1), desc="fine-tune", disable=not settings.progress)
    epoch = 0
    for epoch in bar:
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
        total, count = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            if len(idx) < 2 and len(order) > 1:
                continue  # BatchNorm statistics of a single trailing molecule are meaningless
            batch = collate(graphs, idx).to(device)
            y = y_all[idx].to(device)
            out = model.forward_scaled(batch)
            if model.scaler is not None:
                y = model.scaler.transform(y)
            loss = masked_multitask_loss(out, y, model.task_type, settings.regression_loss)  # type: ignore[arg-type]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        pred = predict(model, graphs, valid_idx, device, settings.eval_batch_size)
        valid, _ = evaluate(metric, targets[valid_idx], pred, names, quiet=True)
        history.append({"epoch": epoch, "train_loss": total / max(count, 1), "valid": valid})
        bar.set_postfix(loss=f"{total / max(count, 1):.4f}", valid=f"{valid:.4f}")
        if metric.is_better(valid, None if math.isnan(best_valid) else best_valid):
            best_state = copy.deepcopy(model.state_dict())
            best_valid, best_epoch, stale = valid, epoch, 0
        else:
            stale += 1
            if settings.patience is not None and stale >= settings.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, best_epoch)
                break
    bar.close()
    if best_state is None:
        logger.warning("validation %s was never finite; keeping the last epoch", metric.name)
        best_epoch = epoch
    else:
        model.load_state_dict(best_state)
    return TrainOutcome(model, epoch, best_epoch, best_valid, history)
