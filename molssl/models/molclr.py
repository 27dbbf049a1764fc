"""Load the checkpoints released with MolCLR (Wang et al., 2022) into :class:`MolEncoder`.

MolCLR's GCN and GIN are two entries of :data:`molssl.models.sources.FOREIGN_SOURCES`, loaded by
the generic :func:`molssl.models.foreign.load_foreign_checkpoint`. The authors'
``ginet_molclr.py`` / ``gcn_molclr.py`` state_dicts map onto :class:`MolEncoder` key by key,
except the embedding tables:

- ``x_embedding{k}.weight`` -> ``atom_encoder.embeddings.{k-1}.weight``
- ``gnns.{i}.edge_embedding{k}.weight`` -> ``gnns.{i}.bond_encoder.embeddings.{k-1}.weight``

The released weights know 3 chirality tags (``x_embedding2 [3, 300]``) while the featurizer's
vocabulary has 4 (unspecified, CW, CCW, other). A table with fewer rows than the vocabulary is
padded with copies of its row 0 -- for chirality, CHI_UNSPECIFIED: an atom tagged "other" is
encoded as an atom without chirality information, which the model has seen, rather than with a
zero vector it has never seen. The padding is logged and listed in :class:`LoadReport`.

The released float32 weights hold ~109k subnormal values that slow CPU math ~8x; they are
flushed to zero on load (numerically irrelevant, see ``data/checkpoints/SOURCES.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import torch
from torch import Tensor

from molssl.models.config import FeatureSizes
from molssl.models.encoder import MolEncoder
from molssl.models.foreign import (
    LoadReport,
    flush_subnormals_,
    load_foreign_checkpoint,
    rename_keys,
)
from molssl.models.sources import FOREIGN_SOURCES

__all__ = ["LoadReport", "flush_subnormals_", "load_molclr_checkpoint", "map_molclr_keys"]

_ARCHS = ("gcn", "gin")


def map_molclr_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename MolCLR keys to :class:`MolEncoder` keys; strips ``module.``; others pass through."""
    return rename_keys(state_dict, FOREIGN_SOURCES["molclr-gin"])


def load_molclr_checkpoint(
    path: str | PathLike[str],
    arch: str = "gin",
    map_location: str | torch.device = "cpu",
    featurizer: FeatureSizes | None = None,
    dropout: float = 0.0,
    pooling: str = "mean",
) -> tuple[MolEncoder, LoadReport]:
    """Load a MolCLR ``model.pth`` into :class:`MolEncoder` (``molclr-{arch}`` source).

    Args:
        path: ``model.pth`` of the authors' repository (plain state_dict, or one under
            ``"state_dict"``/``"model"``; ``module.`` prefixes are stripped).
        arch: ``"gin"`` or ``"gcn"``; must match the checkpoint.
        map_location: Passed to ``torch.load`` (loaded with ``weights_only=True``).
        featurizer: Object with ``atom_feature_sizes``, ``bond_feature_sizes``,
            ``self_loop_bond``; ``None`` uses the MolCLR featurizer.
        dropout: Dropout of the returned encoder (fine-tuning may want > 0); default 0.0.
        pooling: Readout of the returned encoder; default ``"mean"`` (MolCLR's).

    Returns:
        ``(encoder in eval mode, LoadReport)``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``arch`` is unknown.
        molssl.contrastive.io.checkpoint.CheckpointError: As
            :func:`~molssl.models.foreign.load_foreign_checkpoint`.
    """
    if arch not in _ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {list(_ARCHS)}")
    return load_foreign_checkpoint(
        path, f"molclr-{arch}", map_location, featurizer, dropout, pooling
    )
