"""Graph augmentations for contrastive pretraining (MolCLR, Wang et al. 2022).

Augmentations are callables ``aug(data, generator=None)`` on a ``torch_geometric`` ``Data`` or a
collated ``Batch`` (vectorised over all graphs). They never mutate their input, mask atoms
rather than removing them, delete bonds as pairs of directed edges, and take all randomness from
the ``torch.Generator`` passed in.
"""

from molssl.augment.base import DEFAULT_MASK_ATOM, AtomMask, Augmentation, BondDeletion
from molssl.augment.compose import Compose, Identity, RandomChoice, TwoViewTransform
from molssl.augment.registry import AUGMENTATIONS, build_augmentation, molclr
from molssl.augment.subgraph import Mix, SubgraphRemoval, grow_subgraphs

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_MASK_ATOM",
    "AtomMask",
    "Augmentation",
    "BondDeletion",
    "Compose",
    "Identity",
    "Mix",
    "RandomChoice",
    "SubgraphRemoval",
    "TwoViewTransform",
    "build_augmentation",
    "grow_subgraphs",
    "molclr",
]
