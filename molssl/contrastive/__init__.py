"""Chemistry-free contrastive core shared by molssl and imagessl (no rdkit imports).

Losses (NT-Xent, iMolCLR-weighted NT-Xent, fragment NT-Xent, BYOL/SimSiam negative cosine,
MoCo's queue InfoNCE, SwAV's swapped prediction with Sinkhorn-Knopp, CPC's InfoNCE over
predicted latents), momentum target networks, a feature queue with extras, the autograd-aware
distributed gather, projection and prediction heads, and the generic training loop
(checkpoints, resume, DDP, logging).

The names below are imported on first access, so that importing a light submodule (such as
:mod:`molssl.contrastive.commands`, which every ``--help`` needs) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "NegativeCosineLoss": "losses.bootstrap",
    "CheckpointError": "io.checkpoint",
    "load_checkpoint": "io.checkpoint",
    "save_checkpoint": "io.checkpoint",
    "gather_sizes": "distributed",
    "gather_with_grad": "distributed",
    "is_dist_initialized": "distributed",
    "rank": "distributed",
    "world_size": "distributed",
    "FragmentContrastLoss": "losses.fragment",
    "fragment_pool": "losses.fragment",
    "PredictionHead": "heads",
    "ProjectionHead": "heads",
    "CPCLoss": "losses.infonce",
    "MoCoLoss": "losses.infonce",
    "LOSSES": "losses.ntxent",
    "NTXentLoss": "losses.ntxent",
    "build_loss": "losses.ntxent",
    "tanimoto_similarity": "losses.ntxent",
    "tanimoto_weights": "losses.ntxent",
    "MomentumModel": "momentum",
    "MomentumNetwork": "momentum",
    "MomentumOutput": "momentum",
    "cosine_momentum": "momentum",
    "ema_update_": "momentum",
    "FeatureQueue": "queue",
    "build_scheduler": "training.schedule",
    "molclr_lr": "training.schedule",
    "seed_everything": "training.seed",
    "SwAVLoss": "losses.swav",
    "SwAVPrototypes": "losses.swav",
    "sinkhorn_knopp": "losses.swav",
    "Trainer": "training.trainer",
    "TrainerConfig": "training.config",
    "TrainResult": "training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'molssl.contrastive' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"molssl.contrastive.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
