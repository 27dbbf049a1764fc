"""Graph encoders: embeddings, message-passing layers, :class:`MolEncoder`, weight loaders.

Names are imported on first use, so that the light :mod:`molssl.models.sources` (the weights
vocabulary the command line lists) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from molssl.models.config import EncoderConfig
    from molssl.models.convs import CONVS, GCNConv, GINEConv, NormGCNConv
    from molssl.models.embeddings import FeatureEmbedding
    from molssl.models.encoder import ENCODERS, EncoderOutput, MolEncoder
    from molssl.models.foreign import LoadReport, load_foreign_checkpoint
    from molssl.models.molclr import load_molclr_checkpoint
    from molssl.models.pooling import POOLINGS
    from molssl.models.sources import FOREIGN_SOURCES, ForeignSource

_HOMES = {
    "EncoderConfig": "config",
    "CONVS": "convs",
    "GCNConv": "convs",
    "GINEConv": "convs",
    "NormGCNConv": "convs",
    "FeatureEmbedding": "embeddings",
    "ENCODERS": "encoder",
    "EncoderOutput": "encoder",
    "MolEncoder": "encoder",
    "LoadReport": "foreign",
    "load_foreign_checkpoint": "foreign",
    "load_molclr_checkpoint": "molclr",
    "POOLINGS": "pooling",
    "FOREIGN_SOURCES": "sources",
    "ForeignSource": "sources",
}

__all__ = [
    "CONVS",
    "ENCODERS",
    "FOREIGN_SOURCES",
    "POOLINGS",
    "EncoderConfig",
    "EncoderOutput",
    "FeatureEmbedding",
    "ForeignSource",
    "GCNConv",
    "GINEConv",
    "LoadReport",
    "MolEncoder",
    "NormGCNConv",
    "load_foreign_checkpoint",
    "load_molclr_checkpoint",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"molssl.models.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'molssl.models' has no attribute {name!r}")
