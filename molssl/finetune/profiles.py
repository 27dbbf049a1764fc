"""Benchmark profiles: the reference protocol (``full``) and a CPU-friendly one (``quick``)."""

from __future__ import annotations

from dataclasses import dataclass


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
    """

    name: str
    epochs: int
    max_molecules: int | None
    rf_estimators: int
    patience: int | None = None


PROFILES: dict[str, Profile] = {
    "full": Profile("full", epochs=100, max_molecules=None, rf_estimators=500),
    "quick": Profile("quick", epochs=15, max_molecules=4000, rf_estimators=100),
}
"""``full`` is MolCLR's fine-tuning protocol; ``quick`` has fewer epochs, caps large sets (HIV,
MUV, QM8, QM9, ToxCast, Tox21) at 4,000 molecules and uses 100 trees."""


def get_profile(name: str) -> Profile:
    """Look a profile up in :data:`PROFILES`.

    Raises:
        ValueError: If ``name`` is not registered.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
