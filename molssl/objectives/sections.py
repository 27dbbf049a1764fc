"""The settings sections of the built-in objectives (``objective.<name>.*``).

Settings shared by several objectives (``temperature``, ``lambda_1``, the momenta) are flat
fields of :class:`~molssl.objectives.base.ObjectiveConfig`; what belongs to one objective is its
section here, registered with it (``register_objective(..., config=MoCoConfig)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from molssl.contrastive.config import ConfigError

__all__ = ["MOVED_KEYS", "AttrMaskConfig", "BYOLConfig", "DescriptorsConfig", "MoCoConfig"]


@dataclass
class AttrMaskConfig:
    """Settings of ``attrmask`` (``objective.attrmask.*``).

    Attributes:
        mask_rate: Fraction of each molecule's atoms masked (rounded, at least one); Hu et al.
            use 0.15. Composed with a two-view objective whose views mask atoms, the term takes
            the views' masked atoms instead (at the augmentation's rate).
    """

    mask_rate: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_rate <= 1.0:
            raise ConfigError(
                f"objective.attrmask.mask_rate must be in (0, 1], got {self.mask_rate}; Hu et "
                "al. mask 0.15"
            )


@dataclass
class DescriptorsConfig:
    """Settings of ``descriptors`` (``objective.descriptors.*``).

    Attributes:
        hidden: Hidden width of the MLP from the graph embedding ``h`` to the descriptors
            (0: a linear head).
    """

    hidden: int = 512

    def __post_init__(self) -> None:
        if self.hidden < 0:
            raise ConfigError(f"objective.descriptors.hidden must be >= 0, got {self.hidden}")


@dataclass
class MoCoConfig:
    """Settings of ``moco`` (``objective.moco.*``).

    Attributes:
        queue_size: Queued negatives (target projections of past molecules, all ranks).
    """

    queue_size: int = 4096

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ConfigError(
                f"objective.moco.queue_size must be >= 1, got {self.queue_size}; MoCo keeps "
                "that many past molecules as negatives (default 4096)"
            )


@dataclass
class BYOLConfig:
    """Settings of ``byol`` (``objective.byol.*``).

    Attributes:
        predictor_hidden: Hidden width of the predictor MLP.
    """

    predictor_hidden: int = 512

    def __post_init__(self) -> None:
        if self.predictor_hidden < 1:
            raise ConfigError(
                f"objective.byol.predictor_hidden must be >= 1, got {self.predictor_hidden}"
            )


MOVED_KEYS = {"queue_size": "moco", "predictor_hidden": "byol"}
"""Flat keys of older configs -> the section that holds them now."""
