"""Pretraining objectives, looked up by name in a registry.

- ``molclr`` (Wang et al., Nat. Mach. Intell. 2022): NT-Xent between two augmented views.
- ``imolclr`` (Wang et al., J. Chem. Inf. Model. 2022): NT-Xent whose negative terms are
  weighted by ``1 - lambda_1 * Tanimoto`` of the molecules' ECFP bits, plus ``lambda_2`` times
  NT-Xent between the BRICS fragments of the two views.
- ``byol`` and ``moco``: momentum-target objectives (:mod:`molssl.objectives.momentum`).
- ``attrmask`` and ``descriptors``: pretext terms (:mod:`molssl.objectives.pretext`): Hu et
  al.'s attribute masking and CheMeleon's RDKit-descriptor regression.

Terms compose: ``objective.name=imolclr+attrmask+descriptors`` with ``objective.weights``
(:mod:`molssl.objectives.compose`).

A new objective is a builder decorated with :func:`register_objective` (see
:mod:`molssl.objectives.base`).
"""

from molssl.objectives import contrastive, momentum, pretext
from molssl.objectives.base import (
    OBJECTIVES,
    AttrMaskConfig,
    BYOLConfig,
    DescriptorsConfig,
    MoCoConfig,
    Objective,
    ObjectiveConfig,
    ObjectiveSpec,
    TwoViewForward,
    TwoViewObjective,
    build_objective,
    concat_views,
    forward_two_views,
    forward_views,
    get_objective,
    register_objective,
)
from molssl.objectives.compose import ComposedModel, ComposedObjective, core_model
from molssl.objectives.contrastive import ContrastiveObjective
from molssl.objectives.momentum import MomentumObjective

__all__ = [
    "OBJECTIVES",
    "AttrMaskConfig",
    "BYOLConfig",
    "ComposedModel",
    "ComposedObjective",
    "DescriptorsConfig",
    "MoCoConfig",
    "ContrastiveObjective",
    "MomentumObjective",
    "Objective",
    "ObjectiveConfig",
    "ObjectiveSpec",
    "TwoViewForward",
    "TwoViewObjective",
    "build_objective",
    "concat_views",
    "contrastive",
    "core_model",
    "forward_two_views",
    "forward_views",
    "get_objective",
    "momentum",
    "pretext",
    "register_objective",
]
