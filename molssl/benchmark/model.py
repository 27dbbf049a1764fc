"""The fine-tuning model (shared encoder + MLP head + target scaler) and its training loop.

Follows MolCLR's fine-tuning (Wang et al., 2022, ``finetune.py``): the graph embedding ``h``
feeds an MLP head (``Linear(out, out // 2) -> Softplus -> Linear(out // 2, T)``); Adam with one
learning rate for the encoder and another for the head; masked multi-task BCE or MSE/L1 loss;
the weights of the best validation epoch are kept. Regression targets are standardised with a
:class:`~molssl.metrics.TargetScaler` fit on the training split and stored inside the model, so
``model(batch)`` returns target units.
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
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from molssl.metrics import Metric, SkippedTargetWarning, TargetScaler, masked_multitask_loss
from molssl.models import MolEncoder

logger = logging.getLogger(__name__)

ACTIVATIONS: dict[str, type[nn.Module]] = {"softplus": nn.Softplus, "relu": nn.ReLU}


class FinetuneModel(nn.Module):
    """Encoder + MLP head (+ target scaler for regression).

    Args:
        encoder: The shared :class:`~molssl.models.MolEncoder` (pretrained or fresh).
        num_targets: Outputs ``T``.
        task_type: ``"classification"`` (logits out) or ``"regression"`` (target units out).
        head_hidden: Hidden width of the head; ``None`` gives ``out_channels // 2`` (MolCLR).
        head_layers: Linear layers in the head (MolCLR: 2). Default 2.
        activation: ``"softplus"`` (MolCLR, default) or ``"relu"``.
    """

    def __init__(
        self,
        encoder: MolEncoder,
        num_targets: int,
        task_type: str,
        head_hidden: int | None = None,
        head_layers: int = 2,
        activation: str = "softplus",
    ) -> None:
        super().__init__()
        if head_layers < 1:
            raise ValueError(f"head_layers must be >= 1, got {head_layers}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of {list(ACTIVATIONS)}")
        self.encoder = encoder
        self.task_type = task_type
        width = encoder.config.out_channels
        hidden = head_hidden or max(1, width // 2)
        layers: list[nn.Module] = []
        for _ in range(head_layers - 1):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, num_targets))
        self.head = nn.Sequential(*layers)
        self.scaler = TargetScaler(num_targets) if task_type == "regression" else None

    def embed(self, batch: Batch) -> Tensor:
        """Graph embeddings ``h`` ``float[B, out_channels]`` (the projection ``z`` is skipped)."""
        enc = self.encoder
        node = enc.encode_nodes(batch.x, batch.edge_index, batch.edge_attr)
        return enc.feat_lin(enc.pool(node, batch.batch, dim_size=batch.num_graphs))

    def forward_scaled(self, batch: Batch) -> Tensor:
        """Head outputs ``float[B, T]``: logits, or standardised regression values."""
        return self.head(self.embed(batch))

    def forward(self, batch: Batch) -> Tensor:
        """Predictions ``float[B, T]``: logits (classification) or target units (regression)."""
        out = self.forward_scaled(batch)
        return self.scaler(out) if self.scaler is not None else out


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


def collate(graphs: Sequence[Data], indices: Sequence[int] | np.ndarray) -> Batch:
    """``Batch`` of ``graphs[i]`` for ``i`` in ``indices``."""
    return Batch.from_data_list([graphs[int(i)] for i in indices])


@torch.no_grad()
def predict(
    model: FinetuneModel,
    graphs: Sequence[Data],
    indices: np.ndarray,
    device: torch.device,
    batch_size: int = 256,
) -> np.ndarray:
    """Predictions ``float64[len(indices), T]`` in eval mode (logits / target units)."""
    was_training = model.training
    model.eval()
    out = [
        model(collate(graphs, indices[s : s + batch_size]).to(device)).double().cpu().numpy()
        for s in range(0, len(indices), batch_size)
    ]
    model.train(was_training)
    return np.concatenate(out, axis=0)


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
