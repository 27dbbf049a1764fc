"""The Python API behind every ``molssl`` command, importable from notebooks and scripts.

The CLI only parses arguments, builds these configs and calls these functions.

- :func:`pretrain` / :class:`PretrainConfig`: contrastive pretraining (``molssl pretrain``).
- :func:`finetune` / :class:`FinetuneConfig`: one fine-tuning run (``molssl finetune``).
- :func:`finetune_ensemble`: N members (seeds) into one folder (``molssl finetune --ensemble``).
- :func:`search_then_finetune`: Optuna search on validation, then the best settings
  (``molssl finetune --search N``).
- :func:`load_model` -> :class:`SavedModel`: a fine-tuned ``model.pt`` (``molssl:NAME``: the
  released encoder, a :class:`LoadedEncoder`); :func:`predict`
  (SMILES -> DataFrame) and :func:`predict_file` (``molssl predict``), one model or an ensemble.
- :class:`MolPropertyRegressor` / :class:`MolPropertyClassifier`: fine-tuning as scikit-learn
  estimators (``fit(smiles, y)``, ``predict``, ``predict_proba``).
- :func:`benchmark` / :class:`BenchmarkConfig`: tasks x methods x seeds (``molssl benchmark``).
- :func:`embed_file`, :func:`embed_smiles`, :class:`PretrainedEmbedder`: embeddings from a
  checkpoint (``molssl embed``).
- :func:`load_pretrained` -> :class:`LoadedEncoder`: the one loader of encoder weights
  (``ckpt:PATH`` or a bare path, ``molssl:NAME`` for an encoder released with molssl,
  ``molclr-gcn:PATH``, ``molclr-gin:PATH``, ``random``); :func:`shipped_encoders` lists the
  released ones (``molssl models``).
- :func:`build_graph_store` / :class:`GraphStore`: featurize a corpus once (``molssl featurize``).
"""

from __future__ import annotations

from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.embed import PretrainedEmbedder, embed_file, embed_smiles
from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.ensemble import finetune_ensemble
from molssl.finetune.estimators import MolPropertyClassifier, MolPropertyRegressor
from molssl.finetune.predictor import predict, predict_file
from molssl.finetune.saved import SavedModel, load_model
from molssl.finetune.search import search_then_finetune
from molssl.models.pretrained import LoadedEncoder, load_pretrained
from molssl.models.shipped import ModelCard, shipped_encoders
from molssl.pretrain import PretrainConfig, pretrain
from molssl.store import GraphStore, build_graph_store

__all__ = [
    "BenchmarkConfig",
    "FinetuneConfig",
    "GraphStore",
    "LoadedEncoder",
    "ModelCard",
    "MolPropertyClassifier",
    "MolPropertyRegressor",
    "PretrainConfig",
    "PretrainedEmbedder",
    "SavedModel",
    "benchmark",
    "build_graph_store",
    "embed_file",
    "embed_smiles",
    "finetune",
    "finetune_ensemble",
    "load_model",
    "load_pretrained",
    "predict",
    "predict_file",
    "pretrain",
    "search_then_finetune",
    "shipped_encoders",
]
