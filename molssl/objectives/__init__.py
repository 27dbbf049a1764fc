"""Pretraining objectives, looked up by name in a registry.

- ``molclr`` (Wang et al., Nat. Mach. Intell. 2022): NT-Xent between two augmented views.
- ``imolclr`` (Wang et al., J. Chem. Inf. Model. 2022): NT-Xent whose negative terms are
  weighted by ``1 - lambda_1 * Tanimoto`` of the molecules' ECFP bits, plus ``lambda_2`` times
  NT-Xent between the BRICS fragments of the two views.
- ``byol`` and ``moco``: momentum-target objectives (:mod:`molssl.objectives.momentum`).

A new objective is a builder decorated with :func:`register_objective` (see
:mod:`molssl.objectives.base`).
"""

from molssl.objectives import contrastive, momentum
from molssl.objectives.base import (
    OBJECTIVES,
    Objective,
    ObjectiveConfig,
    ObjectiveSpec,
    build_objective,
    concat_views,
    forward_two_views,
    get_objective,
    register_objective,
)
from molssl.objectives.contrastive import ContrastiveObjective
from molssl.objectives.momentum import MomentumObjective

__all__ = [
    "OBJECTIVES",
    "ContrastiveObjective",
    "MomentumObjective",
    "Objective",
    "ObjectiveConfig",
    "ObjectiveSpec",
    "build_objective",
    "concat_views",
    "contrastive",
    "forward_two_views",
    "get_objective",
    "momentum",
    "register_objective",
]
