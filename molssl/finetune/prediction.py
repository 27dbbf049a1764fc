"""Predictions of a fine-tuned model on featurized molecules (eval mode, no gradients)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Data

from molssl.finetune.model import FinetuneModel, collate


@torch.no_grad()
def predict_graphs(
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
