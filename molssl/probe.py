"""Live probe of molecular pretraining: kNN (and optionally linear) scores of the frozen encoder.

``molssl pretrain`` with ``trainer.probe_every`` set hands a :class:`MoleculeProbe` to the
generic trainer. It reads a small labelled task once, featurizes it with the run's featurizer,
splits it at random (seeded, 80/20) and, every ``probe_every`` steps, embeds both splits with the
encoder's ``h`` and scores them with :mod:`molssl.contrastive.training.probe`:

- ``task: auto`` (default): BBBP when its file is found locally (``probe.data_dir``,
  ``$MOLSSL_DATA_DIR``, the cache; never downloaded), else the TPSA table RDKit ships
  (``NCI/first_5k.tpsa.csv``, regression);
- any MoleculeNet name: its first target (rows without a label dropped);
- classification: ``knn_acc``, ``knn_auc`` (+ ``linear_acc``, ``linear_auc``);
  regression: ``knn_r2``, ``knn_rmse`` (+ ``ridge_r2``, ``ridge_rmse``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.contrastive.config import ConfigError
from molssl.contrastive.training.probe import classification_scores, regression_scores

__all__ = ["MoleculeProbe", "ProbeConfig", "probe_task"]

logger = logging.getLogger(__name__)


@dataclass
class ProbeConfig:
    """The labelled set of the live probe (run every ``trainer.probe_every`` steps).

    Attributes:
        task: ``auto`` (BBBP when found locally, else RDKit's TPSA table), ``tpsa``, or a
            MoleculeNet dataset name (its first target).
        data_dir: Directory searched first for the MoleculeNet file (then ``$MOLSSL_DATA_DIR``
            and the cache; nothing is downloaded).
        limit: Molecules used (a seeded random subset; default 1,000).
        test_fraction: Share of them scored; the rest are the kNN / linear training set (0.2).
        k: kNN neighbours (default 10).
        linear: Also fit a logistic-regression / ridge probe (default False).
        seed: Seed of the subset and split.
    """

    task: str = "auto"
    data_dir: str | None = None
    limit: int = 1000
    test_fraction: float = 0.2
    k: int = 10
    linear: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.limit < 10 or self.k < 1 or not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(
                f"probe: need limit >= 10, k >= 1 and 0 < test_fraction < 1; got limit="
                f"{self.limit}, k={self.k}, test_fraction={self.test_fraction}"
            )


def probe_task(cfg: ProbeConfig) -> tuple[str, list[str], np.ndarray, str]:
    """``(description, smiles, targets float [n], task_type)`` of ``cfg.task``.

    Raises:
        molssl.data.DatasetNotFoundError: A named MoleculeNet file that is not found locally.
        molssl.data.UnknownDatasetError: An unknown task name.
    """
    from molssl.data import (
        DatasetNotFoundError,
        embedded_tpsa_path,
        load_dataset,
        read_tpsa_table,
    )

    name = cfg.task.lower()
    if name != "tpsa":
        try:
            data = load_dataset("bbbp" if name == "auto" else name, cfg.data_dir, download=False)
            y = data.targets[:, 0]
            keep = ~np.isnan(y)
            smiles = [s for s, k in zip(data.smiles, keep, strict=True) if k]
            return f"{data.spec.name} ({data.path})", smiles, y[keep], data.spec.task_type
        except DatasetNotFoundError:
            if name != "auto":
                raise
            logger.info("probe: BBBP not found locally; using RDKit's TPSA table")
    path = embedded_tpsa_path()
    table = read_tpsa_table(path)
    smiles, y = table["smiles"].tolist(), table["tpsa"].to_numpy(np.float32)
    return f"TPSA ({path})", smiles, y, "regression"


def _encoder(model: nn.Module) -> nn.Module:
    """The molecule encoder inside a training model (itself, a momentum model's ``online``
    network, or its ``encoder``)."""
    if hasattr(model, "forward_batch"):
        return model
    return _encoder(model.online) if hasattr(model, "online") else model.encoder


class MoleculeProbe:
    """kNN (and optionally linear) scores of the encoder's ``h`` on a small labelled task.

    Args:
        cfg: Probe settings.
        featurizer: The run's featurizer (the probe molecules are featurized once, here).
        batch_size: Molecules per forward pass.
    """

    def __init__(self, cfg: ProbeConfig, featurizer, batch_size: int = 256) -> None:
        from molssl.featurize import featurize_many

        self.cfg, self.batch_size = cfg, batch_size
        self.description, smiles, y, self.task_type = probe_task(cfg)
        rng = np.random.default_rng(cfg.seed)
        pick = np.sort(rng.permutation(len(smiles))[: cfg.limit])
        result = featurize_many([smiles[i] for i in pick], featurizer)
        y = torch.from_numpy(y[pick][result.indices])
        order = torch.from_numpy(rng.permutation(len(result.graphs)))
        n_test = max(2, int(round(cfg.test_fraction * len(order))))
        self.test_idx, self.train_idx = order[:n_test], order[n_test:]
        self.graphs = result.graphs
        self.y = y.long() if self.task_type == "classification" else y.float()
        logger.info(
            "probe: %s, %d train / %d test molecules (%d failed to featurize)",
            self.description,
            len(self.train_idx),
            len(self.test_idx),
            len(result.failures),
        )

    def _embed(self, encoder: nn.Module) -> Tensor:
        device = next(encoder.parameters()).device
        out = []
        for i in range(0, len(self.graphs), self.batch_size):
            batch = Batch.from_data_list(self.graphs[i : i + self.batch_size]).to(device)
            out.append(encoder.forward_batch(batch).h.float().cpu())
        return torch.cat(out)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        """Scores of the current encoder (the trainer calls it in eval mode, without grad)."""
        h = self._embed(_encoder(model))
        tr, te = self.train_idx, self.test_idx
        score = classification_scores if self.task_type == "classification" else regression_scores
        return score(h[tr], self.y[tr], h[te], self.y[te], k=self.cfg.k, linear=self.cfg.linear)
