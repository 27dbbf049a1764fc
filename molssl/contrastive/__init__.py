"""Chemistry-free contrastive core shared by molssl and imagessl (no rdkit imports).

Losses (NT-Xent, iMolCLR-weighted NT-Xent, fragment NT-Xent, BYOL/SimSiam negative cosine,
MoCo's queue InfoNCE, SwAV's swapped prediction with Sinkhorn-Knopp, CPC's InfoNCE over
predicted latents), momentum target networks, a feature queue with extras, the autograd-aware
distributed gather, projection and prediction heads, and the generic training loop
(checkpoints, resume, DDP, logging).
"""

from molssl.contrastive.bootstrap import NegativeCosineLoss
from molssl.contrastive.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from molssl.contrastive.distributed import (
    gather_sizes,
    gather_with_grad,
    is_dist_initialized,
    rank,
    world_size,
)
from molssl.contrastive.fragment import FragmentContrastLoss, fragment_pool
from molssl.contrastive.heads import PredictionHead, ProjectionHead
from molssl.contrastive.infonce import CPCLoss, MoCoLoss
from molssl.contrastive.losses import (
    LOSSES,
    NTXentLoss,
    build_loss,
    tanimoto_similarity,
    tanimoto_weights,
)
from molssl.contrastive.momentum import (
    MomentumModel,
    MomentumNetwork,
    MomentumOutput,
    cosine_momentum,
    ema_update_,
)
from molssl.contrastive.queue import FeatureQueue
from molssl.contrastive.schedule import build_scheduler, molclr_lr
from molssl.contrastive.seed import seed_everything
from molssl.contrastive.swav import SwAVLoss, SwAVPrototypes, sinkhorn_knopp
from molssl.contrastive.trainer import Trainer, TrainerConfig, TrainResult

__all__ = [
    "CPCLoss",
    "CheckpointError",
    "FeatureQueue",
    "MoCoLoss",
    "MomentumModel",
    "MomentumNetwork",
    "MomentumOutput",
    "NegativeCosineLoss",
    "PredictionHead",
    "SwAVLoss",
    "SwAVPrototypes",
    "cosine_momentum",
    "ema_update_",
    "sinkhorn_knopp",
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
