"""Contrastive and self-distillation losses: NT-Xent (plain and Tanimoto-weighted), fragment
NT-Xent, BYOL/SimSiam negative cosine, MoCo's queue InfoNCE, CPC's InfoNCE and SwAV."""

from molssl.contrastive.losses.bootstrap import NegativeCosineLoss
from molssl.contrastive.losses.fragment import FragmentContrastLoss, fragment_pool
from molssl.contrastive.losses.infonce import CPCLoss, MoCoLoss
from molssl.contrastive.losses.ntxent import (
    LOSSES,
    NTXentLoss,
    build_loss,
    tanimoto_similarity,
    tanimoto_weights,
)
from molssl.contrastive.losses.swav import SwAVLoss, SwAVPrototypes, sinkhorn_knopp

__all__ = [
    "CPCLoss",
    "FragmentContrastLoss",
    "LOSSES",
    "MoCoLoss",
    "NTXentLoss",
    "NegativeCosineLoss",
    "SwAVLoss",
    "SwAVPrototypes",
    "build_loss",
    "fragment_pool",
    "sinkhorn_knopp",
    "tanimoto_similarity",
    "tanimoto_weights",
]
