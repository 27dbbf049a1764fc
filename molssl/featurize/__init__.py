"""SMILES -> molecular graphs: the one way molssl featurizes molecules.

- :func:`parse_smiles`: the single SMILES parser, with its :class:`HydrogenPolicy`.
- :class:`MolGraphFeaturizer` ("molclr", Hu et al. 2020 / MolCLR) and
  :class:`RichGraphFeaturizer` ("rich"): ``str | Mol -> Data(x, edge_index, edge_attr, smiles)``
  with declared ``atom_feature_sizes``, ``bond_feature_sizes``, ``self_loop_bond``, ``mask_atom``.
- :data:`FEATURIZERS`, :func:`get_featurizer`, :func:`featurizer_from_dict`: featurizers by name
  and from the config stored in checkpoints and graph stores.
- :func:`featurize_chunks`: the one featurization engine (ordered chunks of graphs and failed
  rows, in this process or in spawned workers); everything below featurizes through it.
- :func:`featurize_many`: many SMILES, optionally in parallel; bad rows are reported.
- :func:`featurized_batches`: ordered, collated batches for inference, featurized ahead of the
  consumer in worker processes.
- Interop, imported on first access: :class:`MolGraphTransformer` and
  :class:`GraphPoolingTransformer` (scikit-learn: SMILES -> graphs -> vectors) and
  :class:`DeepChemMolGraphFeaturizer` (DeepChem; importing it imports deepchem).
"""

from __future__ import annotations

from typing import Any

from molssl.featurize.base import SCHEME_VERSION, GraphFeaturizer
from molssl.featurize.batch import FeaturizeResult, featurize_many
from molssl.featurize.engine import Chunk, MainGuardError, SmilesFailure, featurize_chunks
from molssl.featurize.molclr import MolGraphFeaturizer
from molssl.featurize.parsing import (
    DEFAULT_MAX_SMILES_LENGTH,
    HydrogenPolicy,
    InvalidSmilesError,
    apply_hydrogen_policy,
    parse_smiles,
    quiet_rdkit_log,
)
from molssl.featurize.registry import (
    FEATURIZERS,
    FeaturizerRegistry,
    UnknownFeaturizerError,
    featurizer_from_dict,
    get_featurizer,
)
from molssl.featurize.rich import RichGraphFeaturizer
from molssl.featurize.stream import FeaturizedBatch, default_workers, featurized_batches

# Not in __all__, so that `from molssl.featurize import *` stays free of deepchem / sklearn.
_LAZY = {
    "MolGraphTransformer": "molssl.featurize.sklearn",
    "GraphPoolingTransformer": "molssl.featurize.sklearn",
    "DeepChemMolGraphFeaturizer": "molssl.featurize.deepchem",
}

__all__ = [
    "DEFAULT_MAX_SMILES_LENGTH",
    "FEATURIZERS",
    "SCHEME_VERSION",
    "Chunk",
    "FeaturizeResult",
    "FeaturizedBatch",
    "FeaturizerRegistry",
    "GraphFeaturizer",
    "HydrogenPolicy",
    "InvalidSmilesError",
    "MainGuardError",
    "MolGraphFeaturizer",
    "RichGraphFeaturizer",
    "SmilesFailure",
    "UnknownFeaturizerError",
    "apply_hydrogen_policy",
    "default_workers",
    "featurize_chunks",
    "featurize_many",
    "featurized_batches",
    "featurizer_from_dict",
    "get_featurizer",
    "parse_smiles",
    "quiet_rdkit_log",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
