"""The Python API behind every ``molssl`` command, importable from notebooks and scripts.

The CLI only parses arguments, builds these configs and calls these functions.

- :func:`pretrain` / :class:`PretrainConfig`: contrastive pretraining (``molssl pretrain``).
- :func:`finetune` / :class:`FinetuneConfig`: one fine-tuning run (``molssl finetune``).
- :func:`benchmark` / :class:`BenchmarkConfig`: tasks x methods x seeds (``molssl benchmark``).
- :func:`embed_file`, :func:`embed_smiles`, :func:`load_pretrained`, :class:`PretrainedEmbedder`:
  embeddings from a checkpoint (``molssl embed``).
- :func:`build_graph_store` / :class:`GraphStore`: featurize a corpus once (``molssl featurize``).
"""

from __future__ import annotations

from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.embed import PretrainedEmbedder, embed_file, embed_smiles, load_pretrained
from molssl.finetune import FinetuneConfig, finetune
from molssl.pretrain import PretrainConfig, pretrain
from molssl.store import GraphStore, build_graph_store

__all__ = [
    "BenchmarkConfig",
    "FinetuneConfig",
    "GraphStore",
    "PretrainConfig",
    "PretrainedEmbedder",
    "benchmark",
    "build_graph_store",
    "embed_file",
    "embed_smiles",
    "finetune",
    "load_pretrained",
    "pretrain",
]
