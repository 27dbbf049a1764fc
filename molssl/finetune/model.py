"""The fine-tuning model: shared encoder + MLP head (+ target scaler for regression).

Follows MolCLR's fine-tuning (Wang et al., 2022, ``finetune.py``): the graph embedding ``h``
feeds an MLP head (``Linear(out, out // 2) -> Softplus -> Linear(out // 2, T)``). Regression
targets are standardised with a :class:`~molssl.metrics.TargetScaler` fit on the training split
and stored inside the model, so ``model(batch)`` returns target units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from molssl.metrics import TargetScaler
from molssl.models import MolEncoder

ACTIVATIONS: dict[str, type[nn.Module]] = {"softplus": nn.Softplus, "relu": nn.ReLU}


class FinetuneModel(nn.Module):
    """Encoder + MLP head (+ target scaler for regression).

    Args:
        encoder: The shared :class:`~molssl.models.MolEncoder` (pretrained or fresh).
        num_targets: Outputs ``T``.
        task_type: ``"classification"`` (logits out) or ``"regression"`` (target units out).
        head_hidden: Hidden width of the head; ``None`` gives ``out_channels // 2`` (MolCLR).
        head_layers: Linear layers in the head (MolCLR: 2; 1 is a linear head on ``h``, as Hu
            et al. 2020). Default 2.
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
        self._head_config = {
            "num_targets": num_targets,
            "hidden": hidden,
            "layers": head_layers,
            "activation": activation,
        }
        layers: list[nn.Module] = []
        for _ in range(head_layers - 1):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, num_targets))
        self.head = nn.Sequential(*layers)
        self.scaler = TargetScaler(num_targets) if task_type == "regression" else None

    @property
    def num_targets(self) -> int:
        """Outputs ``T``."""
        return int(self._head_config["num_targets"])

    def head_config(self) -> dict[str, int | str]:
        """``num_targets``, ``hidden``, ``layers``, ``activation``: what rebuilds the head."""
        return dict(self._head_config)

    def embed(self, batch: Batch) -> Tensor:
        """Graph embeddings ``h`` ``float[B, out_channels]`` (the projection ``z`` is skipped)."""
        return self.encoder.encode(batch)

    def forward_scaled(self, batch: Batch) -> Tensor:
        """Head outputs ``float[B, T]``: logits, or standardised regression values."""
        return self.head(self.embed(batch))

    def forward(self, batch: Batch) -> Tensor:
        """Predictions ``float[B, T]``: logits (classification) or target units (regression)."""
        out = self.forward_scaled(batch)
        return self.scaler(out) if self.scaler is not None else out


def to_outputs(raw: np.ndarray, task_type: str) -> np.ndarray:
    """What users see: probabilities (sigmoid of the logits) or target units, float64."""
    raw = np.asarray(raw, dtype=np.float64)
    return expit(raw) if task_type == "classification" else raw


def collate(graphs: Sequence[Data], indices: Sequence[int] | np.ndarray) -> Batch:
    """``Batch`` of ``graphs[i]`` for ``i`` in ``indices``."""
    return Batch.from_data_list([graphs[int(i)] for i in indices])
