"""Fine-tuning profiles: MolCLR's protocol (``full``), a CPU-friendly one (``quick``) and Hu et
al.'s (``hu2020``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Profile:
    """Defaults a profile gives to the fields a run leaves unset.

    Attributes:
        name: Registry key.
        epochs: Fine-tuning epochs (MolCLR: 100).
        max_molecules: Larger datasets are subsampled (seeded, the same subset for every method
            and seed) to this many rows; ``None`` keeps every row.
        rf_estimators: Trees of the ECFP + random-forest baseline.
        patience: Early-stopping patience in epochs; ``None`` trains every epoch and keeps the
            best-validation weights.
        settings: :class:`~molssl.finetune.FinetuneConfig` fields the profile sets where a run
            leaves them at their (MolCLR) defaults; a value set to anything else is kept.
            Empty for ``full`` and ``quick``.
    """

    name: str
    epochs: int
    max_molecules: int | None
    rf_estimators: int
    patience: int | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


HU2020 = Profile(
    "hu2020",
    epochs=100,
    max_molecules=None,
    rf_estimators=500,
    settings=MappingProxyType(
        {
            "encoder_lr": 1e-3,
            "head_lr": 1e-3,
            "weight_decay": 0.0,
            "batch_size": 32,
            "dropout": 0.5,
            "head_layers": 1,
            "protocol": "joint",
        }
    ),
)
"""Hu et al. (2020), "Strategies for Pre-training Graph Neural Networks", ``chem/finetune.py``:
100 epochs, Adam with lr 1e-3 for encoder and head and no weight decay, batch 32, dropout 0.5
after every encoder layer, mean pooling (the encoders' default), a linear head on the graph
representation ``h``, one multi-task model per dataset with missing labels masked out of the
binary cross-entropy (averaged over the observed labels), the dataset's deterministic scaffold
split 80/10/10 (DeepChem's), every molecule (no cap), seeds for initialisation and batch order.

A run records the test value at the best validation epoch (``value``, the one tables use, as
Hu et al. report) and at the last epoch (``value_last``), since later papers differ in which
they quote. Under this profile a field left at its MolCLR default takes the profile's value,
so e.g. ``encoder_lr=1e-4`` cannot be asked for here: use ``full`` for MolCLR's settings."""

PROFILES: dict[str, Profile] = {
    "full": Profile("full", epochs=100, max_molecules=None, rf_estimators=500),
    "quick": Profile("quick", epochs=15, max_molecules=4000, rf_estimators=100),
    "hu2020": HU2020,
}
"""``full`` is MolCLR's fine-tuning protocol; ``quick`` has fewer epochs, caps large sets (HIV,
MUV, QM8, QM9, ToxCast, Tox21) at 4,000 molecules and uses 100 trees; ``hu2020`` is Hu et al.'s
protocol (:data:`HU2020`). Every profile's tables report the test value at the best validation
epoch."""


def get_profile(name: str) -> Profile:
    """Look a profile up in :data:`PROFILES`.

    Raises:
        ValueError: If ``name`` is not registered.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
