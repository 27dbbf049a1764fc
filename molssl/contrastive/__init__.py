"""Chemistry-free contrastive core shared by molssl and imagessl (no rdkit imports).

Losses (NT-Xent, iMolCLR-weighted NT-Xent), the autograd-aware distributed gather and
projection heads.
"""

from molssl.contrastive.distributed import (
    gather_sizes,
    gather_with_grad,
    is_dist_initialized,
    rank,
    world_size,
)
from molssl.contrastive.heads import ProjectionHead
from molssl.contrastive.losses import (
    LOSSES,
    NTXentLoss,
    build_loss,
    tanimoto_similarity,
    tanimoto_weights,
)

__all__ = [
    "LOSSES",
    "NTXentLoss",
    "ProjectionHead",
    "build_loss",
    "gather_sizes",
    "gather_with_grad",
    "is_dist_initialized",
    "rank",
    "tanimoto_similarity",
    "tanimoto_weights",
    "world_size",
]
