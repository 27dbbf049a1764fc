"""Chemistry-free contrastive core shared by molssl and imagessl (no rdkit imports).

Losses (NT-Xent, iMolCLR-weighted NT-Xent, fragment NT-Xent), the autograd-aware distributed
gather, projection heads, and the generic training loop (checkpoints, resume, DDP, logging).
"""

from molssl.contrastive.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from molssl.contrastive.distributed import (
    gather_sizes,
    gather_with_grad,
    is_dist_initialized,
    rank,
    world_size,
)
from molssl.contrastive.fragment import FragmentContrastLoss, fragment_pool
from molssl.contrastive.heads import ProjectionHead
from molssl.contrastive.losses import (
    LOSSES,
    NTXentLoss,
    build_loss,
    tanimoto_similarity,
    tanimoto_weights,
)
from molssl.contrastive.schedule import build_scheduler, molclr_lr
from molssl.contrastive.seed import seed_everything
from molssl.contrastive.trainer import Trainer, TrainerConfig, TrainResult

__all__ = [
    "CheckpointError",
    "FragmentContrastLoss",
    "TrainResult",
    "Trainer",
    "TrainerConfig",
    "build_scheduler",
    "fragment_pool",
    "load_checkpoint",
    "molclr_lr",
    "save_checkpoint",
    "seed_everything",
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
