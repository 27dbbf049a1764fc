"""Graph encoders: embeddings, MolCLR message-passing layers, :class:`MolEncoder`, checkpoints."""

from molssl.models.config import EncoderConfig
from molssl.models.convs import CONVS, GCNConv, GINEConv
from molssl.models.embeddings import FeatureEmbedding
from molssl.models.encoder import ENCODERS, EncoderOutput, MolEncoder
from molssl.models.molclr import LoadReport, load_molclr_checkpoint
from molssl.models.pooling import POOLINGS

__all__ = [
    "CONVS",
    "ENCODERS",
    "POOLINGS",
    "EncoderConfig",
    "EncoderOutput",
    "FeatureEmbedding",
    "GCNConv",
    "GINEConv",
    "LoadReport",
    "MolEncoder",
    "load_molclr_checkpoint",
]
