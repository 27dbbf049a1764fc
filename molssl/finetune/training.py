"""The fine-tuning loop: MolCLR's recipe, best-validation weights kept.

Adam with one learning rate for the encoder and another for the head; masked multi-task BCE or
MSE/L1 loss on standardised regression targets; the weights of the best validation epoch are
kept (Wang et al., 2022, ``finetune.py``). Epochs that tie on the validation metric (ROC-AUC
reaches its ceiling of 1.0 early on a small or easy validation set) are told apart by their
validation loss, then by the later epoch; :attr:`TrainOutcome.best_rule` records which rule chose.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from molssl.finetune.model import FinetuneModel, collate
from molssl.finetune.prediction import predict_graphs
from molssl.metrics import Metric, SkippedTargetWarning, get_metric, masked_multitask_loss

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
    seconds_before: float = 0.0
    """Training time spent by earlier calls of an interrupted, resumed run (0 without resume)."""
    best_rule: str = "metric"
    """What chose ``best_epoch`` (:data:`BEST_RULES`): ``"metric"`` (the best validation
    metric), ``"valid_loss"`` (tied on the metric, lowest validation loss), ``"later_epoch"``
    (tied on both, the later epoch) or ``"last_epoch"`` (no finite validation metric)."""
    last_state: dict[str, torch.Tensor] | None = None
    """The weights after the last epoch (``None`` when they are the kept ones)."""


BEST_RULES = ("metric", "valid_loss", "later_epoch", "last_epoch")
"""The rules that select the kept epoch, in the order they are applied."""


def select_epoch(
    metric: Metric, value: float, loss: float, best_value: float, best_loss: float
) -> str | None:
    """The rule by which an epoch scoring ``value`` (validation loss ``loss``) replaces the best
    so far (``best_value``, ``best_loss``; NaN when there is none), or ``None`` when it does not.

    A better metric wins (``"metric"``); on a tie the lower validation loss wins
    (``"valid_loss"``); on a tie of both the later epoch, i.e. this one (``"later_epoch"``).
    """
    best = None if math.isnan(best_value) else best_value
    if metric.is_better(value, best):
        return "metric"
    if math.isnan(value) or value != best_value:
        return None
    if math.isnan(best_loss) or loss < best_loss:
        return "valid_loss" if not math.isnan(loss) else "later_epoch"
    return "later_epoch" if loss == best_loss else None


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


def extra_metrics(
    names: Sequence[str], targets: np.ndarray, pred: np.ndarray, target_names: Sequence[str]
) -> dict[str, float]:
    """A dataset's further test metrics (its spec's ``extra_metrics``), NaN when unscorable."""
    return {
        name: evaluate(get_metric(name), targets, pred, target_names, quiet=True)[0]
        for name in names
    }


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
    state_file: str | Path | None = None,
    resume: bool = False,
) -> TrainOutcome:
    """Fine-tune ``model`` and keep the weights of its best validation epoch.

    With ``state_file`` set, the loop state (weights, optimizer, best weights so far, history,
    RNG states) is written there atomically after every epoch; ``resume=True`` continues from
    it, giving the same weights as an uninterrupted run on the same device. A state written for
    other molecules, labels or split (a CSV edited in place between the two calls) is not
    resumed: training starts over, with a warning.

    Args:
        model: Encoder + head (its scaler, if any, is fit here on the training targets).
        graphs: All molecules of the task.
        targets: ``float[n, T]`` labels, NaN where missing.
        split: ``(train_idx, valid_idx, test_idx)``; test is not used here. An empty
            ``valid_idx`` trains every epoch and keeps the last weights.
        metric: Validation metric (its direction selects the best epoch).
        settings: Optimisation settings.
        generator: Seeded generator of the batch order.
        device: Where to train.
        target_names: Names for warnings.
        state_file: Per-epoch checkpoint of the loop; ``None`` writes none.
        resume: Continue from ``state_file`` when it exists.

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
    loop = _LoopState()
    data_key = _data_key(graphs, targets, split)
    if resume and state_file is not None and Path(state_file).is_file():
        loop = _restore(state_file, model, optimizer, generator, device, data_key) or loop
    seconds_before = loop.seconds
    started = time.perf_counter()
    y_all = torch.as_tensor(targets, dtype=torch.float32)
    from tqdm.auto import tqdm

    epochs = range(loop.epoch + 1, settings.epochs + 1) if not loop.done else range(0)
    bar = tqdm(epochs, desc="fine-tune", disable=not settings.progress)
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
        valid = valid_loss = math.nan
        if len(valid_idx):
            pred = predict_graphs(model, graphs, valid_idx, device, settings.eval_batch_size)
            valid, _ = evaluate(metric, targets[valid_idx], pred, names, quiet=True)
            valid_loss = _valid_loss(model, pred, targets[valid_idx], settings.regression_loss)
        loop.epoch = epoch
        loop.history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(count, 1),
                "valid": valid,
                "valid_loss": valid_loss,
            }
        )
        bar.set_postfix(loss=f"{total / max(count, 1):.4f}", valid=f"{valid:.4f}")
        rule = select_epoch(metric, valid, valid_loss, loop.best_valid, loop.best_loss)
        if rule is not None:
            loop.best_state = copy.deepcopy(model.state_dict())
            loop.best_valid, loop.best_loss, loop.best_epoch = valid, valid_loss, epoch
            loop.best_rule = rule
            if rule == "metric":
                loop.stale = 0  # patience counts epochs without a better metric
            else:
                loop.stale += 1
        else:
            loop.stale += 1
            if settings.patience is not None and loop.stale >= settings.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, loop.best_epoch)
                loop.done = True
        stop = loop.done  # the last epoch ends the loop by itself (the bar counts it)
        loop.done = loop.done or epoch == settings.epochs
        loop.seconds = seconds_before + time.perf_counter() - started
        if state_file is not None:
            _save(state_file, loop, model, optimizer, generator, data_key)
        if stop:
            break
    bar.close()
    if loop.best_state is None:
        if len(valid_idx):
            logger.warning("validation %s was never finite; keeping the last epoch", metric.name)
        loop.best_epoch, loop.best_rule = loop.epoch, "last_epoch"
    last_state = None
    if loop.best_state is not None:
        if loop.best_epoch != loop.epoch:
            last_state = copy.deepcopy(model.state_dict())
        model.load_state_dict(loop.best_state)
    return TrainOutcome(
        model,
        loop.epoch,
        loop.best_epoch,
        loop.best_valid,
        loop.history,
        seconds_before,
        loop.best_rule,
        last_state=last_state,
    )


def _valid_loss(
    model: FinetuneModel, pred: np.ndarray, targets: np.ndarray, regression_loss: str
) -> float:
    """The training loss on the validation rows (standardised units for regression)."""
    if model.scaler is not None:
        mean = model.scaler.mean.detach().cpu().double().numpy()
        std = model.scaler.std.detach().cpu().double().numpy()
        pred, targets = (pred - mean) / std, (targets - mean) / std
    loss = masked_multitask_loss(
        torch.as_tensor(pred, dtype=torch.float64),
        torch.as_tensor(targets, dtype=torch.float64),
        model.task_type,
        regression_loss,
    )  # type: ignore[arg-type]
    return float(loss)


@dataclass
class _LoopState:
    epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_valid: float = math.nan
    best_epoch: int = 0
    best_loss: float = math.nan
    best_rule: str = "metric"
    stale: int = 0
    done: bool = False
    seconds: float = 0.0  # training time of all calls so far (a resumed run keeps counting)
    history: list[dict[str, float]] = field(default_factory=list)


def _save(
    path: str | Path,
    loop: _LoopState,
    model: FinetuneModel,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    data_key: str,
) -> None:
    from molssl.contrastive.io.checkpoint import capture_rng_state, save_checkpoint

    bookkeeping = {k: v for k, v in vars(loop).items() if k != "best_state"}
    save_checkpoint(
        path,
        model.state_dict(),
        config={},
        optimizer=optimizer.state_dict(),
        epoch=loop.epoch,
        rng=capture_rng_state({"batches": generator}),
        trainer=bookkeeping,
        metadata={"best_state": loop.best_state, "data_key": data_key},
    )


def labels_digest(labels: np.ndarray) -> Any:
    """A SHA-256 hasher fed with ``labels`` as float64 (NaN for missing ones)."""
    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.float64).tobytes())


def hash_split(digest: Any, split: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Any:
    """Feed a split's index arrays (as int64) to a hashlib ``digest``; returns it."""
    for part in split:
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
    return digest


def _data_key(
    graphs: Sequence[Data], targets: np.ndarray, split: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> str:
    """SHA-256 of the molecules (their featurized graphs), labels and split a training state
    belongs to."""
    digest = hash_split(labels_digest(targets), split)
    for graph in graphs:
        for name in ("x", "edge_index", "edge_attr"):
            value = getattr(graph, name, None)
            if value is not None:
                digest.update(f"{name}{tuple(value.shape)}".encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _restore(
    path: str | Path,
    model: FinetuneModel,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
    data_key: str,
) -> _LoopState | None:
    """The loop state in ``path``, loaded into ``model``, ``optimizer`` and ``generator``;
    ``None`` (nothing loaded) when it was written for other molecules, labels or split."""
    from molssl.contrastive.io.checkpoint import load_checkpoint, restore_rng_state

    ckpt = load_checkpoint(path, map_location=device)
    if ckpt.get("data_key", data_key) != data_key:  # states written before the key: trusted
        logger.warning(
            "%s was written for other molecules, labels or split; training from "
            "scratch (it is replaced after the first epoch)",
            path,
        )
        return None
    model.load_state_dict(ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    restore_rng_state(ckpt["rng"], {"batches": generator})
    loop = _LoopState(**ckpt["trainer"], best_state=ckpt.get("best_state"))
    logger.info("resumed %s after epoch %d%s", path, loop.epoch, " (finished)" if loop.done else "")
    return loop
