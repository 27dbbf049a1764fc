"""Supervised fine-tuning of a (pretrained) encoder: everything ``molssl finetune`` is made of.

- :mod:`~molssl.finetune.config`: :class:`FinetuneConfig` (typed, YAML-serialisable).
- :mod:`~molssl.finetune.tasks`: a MoleculeNet dataset or a user's CSV, featurized once and
  split once (:func:`prepare_task`, :func:`task_split`).
- :mod:`~molssl.finetune.profiles`: the ``full`` (reference) and ``quick`` profiles.
- :mod:`~molssl.finetune.model`: :class:`FinetuneModel` (encoder + MLP head + target scaler).
- :mod:`~molssl.finetune.training`: the training loop (best-validation weights kept).
- :mod:`~molssl.finetune.prediction`: predictions of a model on featurized molecules.
- :mod:`~molssl.finetune.run`: :func:`finetune`, one run from config to test metric.
- :mod:`~molssl.finetune.saved`: self-describing ``model.pt`` files (:func:`load_model`).
- :mod:`~molssl.finetune.predictor`: ``molssl predict`` (one model or an ensemble).
- :mod:`~molssl.finetune.ensemble`: ``--ensemble N`` (members by seed).
- :mod:`~molssl.finetune.estimators`: scikit-learn ``MolPropertyRegressor`` / ``Classifier``.
- :mod:`~molssl.finetune.conformal`: split-conformal intervals and prediction sets
  (``FinetuneConfig(conformal=0.9)``).
- :mod:`~molssl.finetune.study` / :mod:`~molssl.finetune.search`: resumable Optuna searches on
  the validation split (``--search N``) and their ``search.json`` record.

Encoder weights come from :func:`molssl.models.pretrained.load_pretrained`.
"""

from molssl.finetune.config import FinetuneConfig, config_hash, load_finetune_config
from molssl.finetune.model import FinetuneModel, collate
from molssl.finetune.prediction import predict_graphs
from molssl.finetune.profiles import PROFILES, Profile, get_profile
from molssl.finetune.run import FinetuneResult, finetune, join_finetune, load_task
from molssl.finetune.tasks import TaskData, TaskSource, clear_task_cache, prepare_task, task_split
from molssl.finetune.training import TrainOutcome, TrainSettings, evaluate, train_model

__all__ = [
    "PROFILES",
    "FinetuneConfig",
    "FinetuneModel",
    "FinetuneResult",
    "Profile",
    "TaskData",
    "TaskSource",
    "TrainOutcome",
    "TrainSettings",
    "clear_task_cache",
    "collate",
    "config_hash",
    "evaluate",
    "finetune",
    "get_profile",
    "join_finetune",
    "load_finetune_config",
    "load_task",
    "predict_graphs",
    "prepare_task",
    "task_split",
    "train_model",
]
